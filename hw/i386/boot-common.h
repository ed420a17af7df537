// SPDX-License-Identifier: GPL-2.0-or-later
//
// Private helpers shared by the Linux and PVH loaders.
#pragma once

#include "hw/i386/boot.h"

namespace colo {

// Writes the boot GDT at kBootGdtAddr: 0x08 32-bit code, 0x10 64-bit code (Linux __BOOT_CS),
// 0x18 data (__BOOT_DS), 0x20 TSS.
Status write_boot_gdt(GuestMemory& mem);
// Identity-maps the first 4 GiB with 2 MiB pages at kPageTablesAddr; returns CR3.
Result<uint64_t> write_identity_page_tables(GuestMemory& mem);
// Segments of the boot GDT.
X86Segment boot_code32();
X86Segment boot_code64();
X86Segment boot_data();
X86Segment boot_tss();
// Copies the command line to kCmdlineAddr (NUL-terminated), checking `max_len` (including NUL).
Status write_cmdline(GuestMemory& mem, const std::string& cmdline, uint64_t max_len);
// Places `initrd` as high as possible below `limit`, above `floor`; returns its address.
Result<uint64_t> place_initrd(GuestMemory& mem, std::span<const uint8_t> initrd, uint64_t floor,
                              uint64_t limit);

}  // namespace colo
