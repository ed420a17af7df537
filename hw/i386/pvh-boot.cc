// SPDX-License-Identifier: GPL-2.0-or-later
//
// PVH direct boot: an ELF kernel with a XEN_ELFNOTE_PHYS32_ENTRY note, entered in 32-bit
// protected mode with EBX pointing at struct hvm_start_info (Xen's public start_info.h).
#include <algorithm>
#include <cstring>
#include <optional>

#include "hw/i386/boot-common.h"
#include "util/bytes.h"

namespace colo {

namespace {

constexpr uint32_t kStartInfoMagic = 0x336ec578;
constexpr uint32_t kXenElfnotePhys32Entry = 18;
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtNote = 4;
constexpr uint64_t kModlistAddr = kPvhStartInfoAddr + 0x40;
constexpr uint64_t kMemmapAddr = kPvhStartInfoAddr + 0x80;
constexpr uint64_t kMemmapMax = (kZeroPageAddr - kMemmapAddr) / 24;

struct Segment {
  uint32_t type;
  uint64_t offset;
  uint64_t paddr;
  uint64_t filesz;
  uint64_t memsz;
};

Result<std::vector<Segment>> read_segments(std::span<const uint8_t> f) {
  if (f.size() < 52)
    return make_error("ELF file truncated");
  bool is64 = f[4] == 2;
  if (f[4] != 1 && f[4] != 2)
    return make_error("bad ELF class %u", f[4]);
  if (f[5] != 1)
    return make_error("ELF file is not little-endian");
  uint16_t machine = load_le16(f.data() + 18);
  if (machine != 62 && machine != 3)
    return make_error("ELF file is not for x86 (machine %u)", machine);
  uint64_t phoff = is64 ? load_le64(f.data() + 32) : load_le32(f.data() + 28);
  if (is64 && f.size() < 64)
    return make_error("ELF file truncated");
  uint16_t phentsize = load_le16(f.data() + (is64 ? 54 : 42));
  uint16_t phnum = load_le16(f.data() + (is64 ? 56 : 44));
  size_t want = is64 ? 56 : 32;
  if (phnum == 0)
    return make_error("ELF file has no program headers");
  if (phentsize < want)
    return make_error("bad ELF program header size %u", phentsize);
  if (phoff > f.size() || static_cast<uint64_t>(phnum) * phentsize > f.size() - phoff) {
    return make_error("ELF program headers lie outside the file");
  }
  std::vector<Segment> segs;
  for (uint16_t i = 0; i < phnum; i++) {
    const uint8_t* p = f.data() + phoff + static_cast<uint64_t>(i) * phentsize;
    Segment s;
    s.type = load_le32(p);
    if (is64) {
      s.offset = load_le64(p + 8);
      s.paddr = load_le64(p + 24);
      s.filesz = load_le64(p + 32);
      s.memsz = load_le64(p + 40);
    } else {
      s.offset = load_le32(p + 4);
      s.paddr = load_le32(p + 12);
      s.filesz = load_le32(p + 16);
      s.memsz = load_le32(p + 20);
    }
    if (s.type == kPtLoad || s.type == kPtNote) {
      if (s.offset > f.size() || s.filesz > f.size() - s.offset) {
        return make_error("ELF segment %u lies outside the file", i);
      }
    }
    segs.push_back(s);
  }
  return segs;
}

// Finds the PVH entry point in the PT_NOTE segments.
std::optional<uint64_t> find_pvh_entry(std::span<const uint8_t> f,
                                       const std::vector<Segment>& segs) {
  for (const Segment& s : segs) {
    if (s.type != kPtNote)
      continue;
    std::span<const uint8_t> n = f.subspan(s.offset, s.filesz);
    size_t pos = 0;
    while (n.size() - pos >= 12) {
      uint32_t namesz = load_le32(n.data() + pos);
      uint32_t descsz = load_le32(n.data() + pos + 4);
      uint32_t type = load_le32(n.data() + pos + 8);
      pos += 12;
      uint64_t name_padded = (static_cast<uint64_t>(namesz) + 3) & ~3ULL;
      uint64_t desc_padded = (static_cast<uint64_t>(descsz) + 3) & ~3ULL;
      if (name_padded > n.size() - pos)
        break;
      bool is_xen = namesz == 4 && memcmp(n.data() + pos, "Xen", 4) == 0;
      pos += name_padded;
      if (desc_padded > n.size() - pos)
        break;
      if (is_xen && type == kXenElfnotePhys32Entry && (descsz == 4 || descsz == 8)) {
        return descsz == 4 ? load_le32(n.data() + pos) : load_le64(n.data() + pos);
      }
      pos += desc_padded;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<X86BootState> pvh_load(GuestMemory& mem, const BootConfig& cfg) {
  std::span<const uint8_t> f = cfg.kernel;
  if (f.size() < 4 || memcmp(f.data(),
                             "\x7f"
                             "ELF",
                             4) != 0)
    return make_error("not an ELF file");
  COLO_ASSIGN_OR_RETURN(std::vector<Segment> segs, read_segments(f));
  auto entry = find_pvh_entry(f, segs);
  if (!entry) {
    return make_error("ELF kernel has no PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY note)");
  }
  uint64_t image_end = 0;
  for (const Segment& s : segs) {
    if (s.type != kPtLoad || s.memsz == 0)
      continue;
    if (s.filesz > s.memsz)
      return make_error("ELF segment larger in the file than in memory");
    if (s.paddr < kHighMemStart) {
      return make_error("ELF segment at 0x%llx is below 1 MiB (reserved for boot data)",
                        static_cast<unsigned long long>(s.paddr));
    }
    if (s.paddr + s.memsz < s.paddr || s.paddr + s.memsz > cfg.below_4g) {
      return make_error("ELF segment at 0x%llx+0x%llx does not fit in RAM",
                        static_cast<unsigned long long>(s.paddr),
                        static_cast<unsigned long long>(s.memsz))
          .set_hint("increase the memory size with -m");
    }
    COLO_TRY(mem.write(s.paddr, f.subspan(s.offset, s.filesz)));
    // (No empty fill: at the very end of RAM it would be an access outside it.)
    if (s.memsz > s.filesz)
      COLO_TRY(mem.fill(s.paddr + s.filesz, 0, s.memsz - s.filesz));
    image_end = std::max(image_end, s.paddr + s.memsz);
  }
  if (image_end == 0)
    return make_error("ELF kernel has no loadable segments");
  if (*entry < kHighMemStart || *entry >= image_end) {
    return make_error("PVH entry point 0x%llx is outside the kernel image",
                      static_cast<unsigned long long>(*entry));
  }

  COLO_TRY(write_cmdline(mem, cfg.cmdline, kCmdlineMax));
  std::vector<uint8_t> info(kZeroPageAddr - kPvhStartInfoAddr, 0);
  store_le32(info.data() + 0, kStartInfoMagic);
  store_le32(info.data() + 4, 1);  // version 1: has the memory map
  store_le64(info.data() + 24, kCmdlineAddr);
  store_le64(info.data() + 32, cfg.rsdp_addr);
  if (!cfg.initrd.empty()) {
    COLO_ASSIGN_OR_RETURN(uint64_t addr, place_initrd(mem, cfg.initrd, image_end, cfg.below_4g));
    store_le32(info.data() + 12, 1);
    store_le64(info.data() + 16, kModlistAddr);
    uint8_t* mod = info.data() + (kModlistAddr - kPvhStartInfoAddr);
    store_le64(mod, addr);
    store_le64(mod + 8, cfg.initrd.size());
  }
  if (cfg.e820.size() > kMemmapMax)
    return make_error("too many memory map entries");
  store_le64(info.data() + 40, kMemmapAddr);
  store_le32(info.data() + 48, static_cast<uint32_t>(cfg.e820.size()));
  for (size_t i = 0; i < cfg.e820.size(); i++) {
    uint8_t* e = info.data() + (kMemmapAddr - kPvhStartInfoAddr) + 24 * i;
    store_le64(e, cfg.e820[i].addr);
    store_le64(e + 8, cfg.e820[i].size);
    store_le32(e + 16, static_cast<uint32_t>(cfg.e820[i].type));
  }
  COLO_TRY(mem.write(kPvhStartInfoAddr, info));
  COLO_TRY(write_boot_gdt(mem));

  X86BootState st;
  st.cs = boot_code32();
  st.ds = st.es = st.fs = st.gs = st.ss = boot_data();
  st.tr = boot_tss();
  st.gdt_base = kBootGdtAddr;
  st.gdt_limit = 5 * 8 - 1;
  st.cr0 = 0x11;  // PE | ET
  st.rip = *entry;
  st.rbx = kPvhStartInfoAddr;
  return st;
}

}  // namespace colo
