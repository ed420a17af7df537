// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/i386/boot-common.h"

#include "util/bytes.h"
#include "util/keyval.h"

namespace colo {

namespace {

uint64_t gdt_entry(uint32_t base, uint32_t limit, uint16_t flags) {
  return (static_cast<uint64_t>(base & 0xff000000) << 32) |
         (static_cast<uint64_t>(flags & 0xf0ff) << 40) |
         (static_cast<uint64_t>(limit & 0x000f0000) << 32) |
         (static_cast<uint64_t>(base & 0x00ffffff) << 16) | (limit & 0x0000ffff);
}

}  // namespace

Status write_boot_gdt(GuestMemory& mem) {
  uint64_t gdt[5] = {
      0,
      gdt_entry(0, 0xfffff, 0xc09b),  // 0x08: 32-bit code, 4 GiB
      gdt_entry(0, 0xfffff, 0xa09b),  // 0x10: 64-bit code
      gdt_entry(0, 0xfffff, 0xc093),  // 0x18: data, 4 GiB
      gdt_entry(0, 0x67, 0x008b),     // 0x20: busy 32-bit TSS
  };
  uint8_t bytes[sizeof(gdt)];
  for (size_t i = 0; i < 5; i++)
    store_le64(bytes + 8 * i, gdt[i]);
  return mem.write(kBootGdtAddr, bytes);
}

Result<uint64_t> write_identity_page_tables(GuestMemory& mem) {
  // PML4 at +0, PDPT at +0x1000, four page directories at +0x2000..+0x5fff.
  std::vector<uint8_t> pages(6 * 4096, 0);
  const uint64_t pml4 = kPageTablesAddr;
  const uint64_t pdpt = pml4 + 0x1000;
  const uint64_t pd = pml4 + 0x2000;
  store_le64(pages.data(), pdpt | 0x3);  // present, writable
  for (uint64_t i = 0; i < 4; i++)
    store_le64(pages.data() + 0x1000 + 8 * i, (pd + 0x1000 * i) | 0x3);
  for (uint64_t i = 0; i < 4 * 512; i++) {
    store_le64(pages.data() + 0x2000 + 8 * i, (i << 21) | 0x83);  // present, writable, 2 MiB
  }
  COLO_TRY(mem.write(pml4, pages));
  return pml4;
}

X86Segment boot_code32() {
  X86Segment s;
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = 0x08;
  s.type = 0xb;
  s.present = 1;
  s.s = 1;
  s.db = 1;
  s.g = 1;
  return s;
}

X86Segment boot_code64() {
  X86Segment s = boot_code32();
  s.selector = 0x10;
  s.db = 0;
  s.l = 1;
  return s;
}

X86Segment boot_data() {
  X86Segment s;
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = 0x18;
  s.type = 0x3;
  s.present = 1;
  s.s = 1;
  s.db = 1;
  s.g = 1;
  return s;
}

X86Segment boot_tss() {
  X86Segment s;
  s.base = 0;
  s.limit = 0x67;
  s.selector = 0x20;
  s.type = 0xb;
  s.present = 1;
  return s;
}

Status write_cmdline(GuestMemory& mem, const std::string& cmdline, uint64_t max_len) {
  uint64_t limit = max_len < kCmdlineMax ? max_len : kCmdlineMax;
  if (cmdline.size() + 1 > limit) {
    return make_error("kernel command line too long (%zu bytes, the limit is %llu)", cmdline.size(),
                      static_cast<unsigned long long>(limit - 1));
  }
  std::vector<uint8_t> bytes(cmdline.begin(), cmdline.end());
  bytes.push_back(0);
  return mem.write(kCmdlineAddr, bytes);
}

Result<uint64_t> place_initrd(GuestMemory& mem, std::span<const uint8_t> initrd, uint64_t floor,
                              uint64_t limit) {
  if (initrd.size() > limit || ((limit - initrd.size()) & ~0xfffULL) < floor) {
    return make_error("initrd is too large (%s) for the RAM below %s",
                      format_size(initrd.size()).c_str(), format_size(limit).c_str())
        .set_hint("increase the memory size with -m");
  }
  uint64_t addr = (limit - initrd.size()) & ~0xfffULL;
  COLO_TRY(mem.write(addr, initrd));
  return addr;
}

Result<KernelFormat> probe_kernel(std::span<const uint8_t> image) {
  if (image.size() >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' &&
      image[3] == 'F') {
    return KernelFormat::kPvhElf;
  }
  if (image.size() >= 0x206 && load_le32(image.data() + 0x202) == 0x53726448) {  // "HdrS"
    return KernelFormat::kLinuxBzImage;
  }
  if (image.empty())
    return make_error("the kernel file is empty");
  return make_error("not a Linux bzImage or a PVH ELF kernel");
}

}  // namespace colo
