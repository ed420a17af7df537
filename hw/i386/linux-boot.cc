// SPDX-License-Identifier: GPL-2.0-or-later
//
// Linux x86 boot protocol, 64-bit entry (Documentation/arch/x86/boot.rst).
#include <algorithm>
#include "hw/i386/boot-common.h"

#include "util/bytes.h"
#include "util/keyval.h"

namespace colo {

namespace {

// Offsets in the zero page / setup header.
constexpr size_t kSetupSects = 0x1f1;
constexpr size_t kSysSize = 0x1f4;
constexpr size_t kHeaderMagic = 0x202;
constexpr size_t kVersion = 0x206;
constexpr size_t kTypeOfLoader = 0x210;
constexpr size_t kLoadFlags = 0x211;
constexpr size_t kRamdiskImage = 0x218;
constexpr size_t kRamdiskSize = 0x21c;
constexpr size_t kHeapEndPtr = 0x224;
constexpr size_t kCmdLinePtr = 0x228;
constexpr size_t kInitrdAddrMax = 0x22c;
constexpr size_t kRelocatable = 0x234;
constexpr size_t kXloadflags = 0x236;
constexpr size_t kCmdlineSize = 0x238;
constexpr size_t kPrefAddress = 0x258;
constexpr size_t kInitSize = 0x260;
constexpr size_t kAcpiRsdpAddr = 0x070;
constexpr size_t kE820Entries = 0x1e8;
constexpr size_t kE820Table = 0x2d0;
constexpr size_t kE820Max = 128;

constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint8_t kCanUseHeap = 0x80;
constexpr uint16_t kXlfKernel64 = 0x01;

}  // namespace

Result<X86BootState> linux_load(GuestMemory& mem, const BootConfig& cfg) {
  std::span<const uint8_t> k = cfg.kernel;
  if (k.size() < 0x270 || load_le32(k.data() + kHeaderMagic) != 0x53726448) {
    return make_error("not a Linux bzImage (no 'HdrS' setup header)");
  }
  uint16_t version = load_le16(k.data() + kVersion);
  if (version < 0x020c) {
    return make_error("Linux boot protocol %u.%02u is too old (2.12 or later is needed)",
                      version >> 8, version & 0xff);
  }
  if (!(k[kLoadFlags] & kLoadedHigh))
    return make_error("zImage kernels are not supported");
  if (!(load_le16(k.data() + kXloadflags) & kXlfKernel64)) {
    return make_error("the kernel has no 64-bit entry point (XLF_KERNEL_64)");
  }
  size_t setup_sects = k[kSetupSects] == 0 ? 4 : k[kSetupSects];
  size_t setup_size = (setup_sects + 1) * 512;
  if (setup_size >= k.size()) {
    return make_error("bzImage truncated: setup code of %zu bytes, file of %zu bytes", setup_size,
                      k.size());
  }
  std::span<const uint8_t> payload = k.subspan(setup_size);
  // syssize: the protected-mode kernel in 16-byte paragraphs (a cut file would boot and crash).
  uint64_t syssize = static_cast<uint64_t>(load_le32(k.data() + kSysSize)) * 16;
  if (payload.size() < syssize) {
    return make_error("bzImage truncated: %zu bytes of kernel, the header says %llu",
                      payload.size(), static_cast<unsigned long long>(syssize));
  }
  uint64_t init_size = load_le32(k.data() + kInitSize);
  uint64_t load_addr = kHighMemStart;
  if (!k[kRelocatable])
    load_addr = load_le64(k.data() + kPrefAddress);
  uint64_t needed = std::max<uint64_t>(init_size, payload.size());
  if (load_addr < kHighMemStart || load_addr > cfg.below_4g || needed > cfg.below_4g - load_addr) {
    return make_error("the kernel needs %s of RAM at 0x%llx, more than there is",
                      format_size(needed).c_str(), static_cast<unsigned long long>(load_addr))
        .set_hint("increase the memory size with -m");
  }
  COLO_TRY(mem.write(load_addr, payload));

  // The zero page: the setup header copied from the file, then our fields.
  std::vector<uint8_t> zp(4096, 0);
  size_t hdr_end = 0x202 + k[0x201];
  if (hdr_end > k.size() || hdr_end > zp.size())
    return make_error("bzImage setup header truncated");
  std::copy(k.begin() + kSetupSects, k.begin() + static_cast<ptrdiff_t>(hdr_end),
            zp.begin() + kSetupSects);
  zp[kTypeOfLoader] = 0xff;
  zp[kLoadFlags] |= kCanUseHeap;
  store_le16(zp.data() + kHeapEndPtr, 0xfe00);
  uint64_t cmdline_max = version >= 0x0206 ? load_le32(k.data() + kCmdlineSize) + 1ULL : 256;
  COLO_TRY(write_cmdline(mem, cfg.cmdline, cmdline_max));
  store_le32(zp.data() + kCmdLinePtr, static_cast<uint32_t>(kCmdlineAddr));
  if (!cfg.initrd.empty()) {
    uint64_t max = static_cast<uint64_t>(load_le32(k.data() + kInitrdAddrMax)) + 1;
    uint64_t limit = std::min(max, cfg.below_4g);
    COLO_ASSIGN_OR_RETURN(uint64_t addr, place_initrd(mem, cfg.initrd, load_addr + needed, limit));
    store_le32(zp.data() + kRamdiskImage, static_cast<uint32_t>(addr));
    store_le32(zp.data() + kRamdiskSize, static_cast<uint32_t>(cfg.initrd.size()));
  }
  if (cfg.e820.size() > kE820Max)
    return make_error("too many e820 entries");
  zp[kE820Entries] = static_cast<uint8_t>(cfg.e820.size());
  for (size_t i = 0; i < cfg.e820.size(); i++) {
    uint8_t* e = zp.data() + kE820Table + 20 * i;
    store_le64(e, cfg.e820[i].addr);
    store_le64(e + 8, cfg.e820[i].size);
    store_le32(e + 16, static_cast<uint32_t>(cfg.e820[i].type));
  }
  if (version >= 0x020e && cfg.rsdp_addr != 0)
    store_le64(zp.data() + kAcpiRsdpAddr, cfg.rsdp_addr);
  COLO_TRY(mem.write(kZeroPageAddr, zp));

  COLO_TRY(write_boot_gdt(mem));
  COLO_ASSIGN_OR_RETURN(uint64_t cr3, write_identity_page_tables(mem));
  X86BootState st;
  st.cs = boot_code64();
  st.ds = st.es = st.fs = st.gs = st.ss = boot_data();
  st.tr = boot_tss();
  st.gdt_base = kBootGdtAddr;
  st.gdt_limit = 5 * 8 - 1;
  st.cr0 = 0x80000031;  // PG | NE | ET | PE
  st.cr3 = cr3;
  st.cr4 = 0x20;    // PAE
  st.efer = 0x500;  // LME | LMA
  st.rip = load_addr + 0x200;
  st.rsi = kZeroPageAddr;
  st.rsp = kZeroPageAddr;
  return st;
}

}  // namespace colo
