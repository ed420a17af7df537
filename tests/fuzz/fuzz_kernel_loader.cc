// SPDX-License-Identifier: GPL-2.0-or-later
//
// Fuzz target: the kernel loaders (a -kernel file is untrusted input). The input is loaded as
// a PVH ELF and as a Linux bzImage into 64 MiB of guest RAM with a small initrd; every input
// must end in a clean error or a boot state, never a crash or an out-of-bounds access.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "hw/i386/boot.h"

namespace {

colo::GuestMemory* memory() {
  static colo::GuestMemory* mem = [] {
    auto* m = new colo::GuestMemory();
    auto block = colo::RamBlock::create("fuzz.ram", 64ULL << 20);
    if (!block.ok())
      abort();
    colo::RamBlock* b = block->get();
    m->add_block(std::move(*block));
    m->add_region({0, 64ULL << 20, b, 0});
    return m;
  }();
  return mem;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const uint8_t kInitrd[4096] = {1, 2, 3};
  colo::BootConfig cfg;
  cfg.kernel = {data, size};
  cfg.initrd = kInitrd;
  cfg.cmdline = "console=ttyS0 exit=0";
  cfg.below_4g = 64ULL << 20;
  cfg.e820 = colo::pc_e820_table(cfg.below_4g, 0);
  (void)colo::probe_kernel(cfg.kernel);
  (void)colo::pvh_load(*memory(), cfg);
  (void)colo::linux_load(*memory(), cfg);
  return 0;
}
