// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/i386/boot.h"

namespace colo {

std::vector<E820Entry> pc_e820_table(uint64_t below_4g, uint64_t above_4g) {
  std::vector<E820Entry> t;
  t.push_back({0, kEbdaStart, E820Type::kRam});
  t.push_back({kEbdaStart, 0xa0000 - kEbdaStart, E820Type::kReserved});
  t.push_back({kBiosAreaStart, kHighMemStart - kBiosAreaStart, E820Type::kReserved});
  if (below_4g > kHighMemStart) {
    t.push_back({kHighMemStart, below_4g - kHighMemStart, E820Type::kRam});
  }
  // KVM's identity-map page and real-mode TSS (see accel/kvm), as QEMU reserves them.
  t.push_back({0xfeffc000, 0x4000, E820Type::kReserved});
  t.push_back({0xfffbd000, 0x3000, E820Type::kReserved});
  if (above_4g > 0)
    t.push_back({k4GiB, above_4g, E820Type::kRam});
  return t;
}

}  // namespace colo
