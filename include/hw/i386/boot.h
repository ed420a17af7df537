// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/i386/boot.h
//
// The PC memory map and the two ways colovm starts a kernel without firmware:
//  - Linux bzImage, 64-bit boot protocol (Documentation/arch/x86/boot.rst): kernel at 1 MiB,
//    zero page with the e820 map, command line and initrd; entered in long mode.
//  - PVH (Xen's direct boot ABI, also used by QEMU -kernel for ELF files with a
//    XEN_ELFNOTE_PHYS32_ENTRY note): ELF segments at their physical addresses, hvm_start_info
//    with the memory map, command line and modules; entered in 32-bit protected mode.
//
// Low memory used by the boot data (never by a kernel image, which starts at 1 MiB):
//   0x00500  boot GDT              0x06000  PVH start info, module list, memory map
//   0x07000  Linux zero page       0x09000  identity page tables (PML4, PDPT, 4 PDs)
//   0x20000  kernel command line   0xf0000  MP table (e820-reserved BIOS area)
// Every file is hostile input: each size and offset is checked and a bad image is a one-line
// error that names the problem.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "accel/kvm.h"
#include "system/guest-memory.h"
#include "util/error.h"

namespace colo {

constexpr uint64_t kBootGdtAddr = 0x500;
constexpr uint64_t kPvhStartInfoAddr = 0x6000;
constexpr uint64_t kZeroPageAddr = 0x7000;
constexpr uint64_t kPageTablesAddr = 0x9000;
constexpr uint64_t kCmdlineAddr = 0x20000;
constexpr uint64_t kCmdlineMax = 0x10000;
constexpr uint64_t kEbdaStart = 0x9fc00;
constexpr uint64_t kBiosAreaStart = 0xf0000;
constexpr uint64_t kHighMemStart = 0x100000;
constexpr uint64_t kPciHoleStart = 0xc0000000;  // 32-bit MMIO window up to the IOAPIC
constexpr uint64_t kIoapicAddr = 0xfec00000;
constexpr uint64_t kLapicAddr = 0xfee00000;
constexpr uint64_t k4GiB = 0x100000000ULL;

enum class E820Type : uint32_t { kRam = 1, kReserved = 2, kAcpi = 3, kNvs = 4 };

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  E820Type type;
};

// The memory map of a PC with `below_4g` bytes of RAM from 0 and `above_4g` from 4 GiB.
std::vector<E820Entry> pc_e820_table(uint64_t below_4g, uint64_t above_4g);

enum class KernelFormat { kLinuxBzImage, kPvhElf };

// Recognises a kernel file by its magic; error if it is neither format.
Result<KernelFormat> probe_kernel(std::span<const uint8_t> image);

struct BootConfig {
  std::span<const uint8_t> kernel;
  std::span<const uint8_t> initrd;  // empty: none
  std::string cmdline;
  std::vector<E820Entry> e820;
  uint64_t below_4g = 0;   // RAM end below 4 GiB (for placing the initrd)
  uint64_t rsdp_addr = 0;  // 0: no ACPI tables
};

// Load into guest memory; return the BSP's entry state.
Result<X86BootState> linux_load(GuestMemory& mem, const BootConfig& cfg);
Result<X86BootState> pvh_load(GuestMemory& mem, const BootConfig& cfg);

struct MpTableConfig {
  int nr_cpus = 1;
  uint32_t cpu_signature = 0;  // CPUID.1:EAX
  uint32_t cpu_features = 0;   // CPUID.1:EDX
  int pci_slots = 32;          // slots whose INTx routing is declared (GSI 16-23)
};

// Builds the Intel MultiProcessor Specification 1.4 tables (floating pointer + configuration
// table) to be placed at `base` (16-byte aligned).
std::vector<uint8_t> build_mptable(const MpTableConfig& cfg, uint64_t base);

// The IOAPIC input a PCI slot/pin (0 = INTA) is wired to: GSI 16 + (slot + pin) % 4.
uint32_t pci_intx_gsi(int slot, int pin);

}  // namespace colo
