// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/acpi/tables.h
//
// The ACPI tables of the PC machine, built by colovm at boot in place of firmware:
//
//   RSDP (revision 2) -> XSDT, RSDT -> FACP (FADT revision 3) -> FACS, DSDT
//                                   -> APIC (MADT)
//
// - FADT: the PIIX4-style fixed hardware of hw/acpi/pm.h at I/O 0x600 (PM1a_EVT_BLK 0x600,
//   PM1a_CNT_BLK 0x604, PM_TMR_BLK 0x608, 24-bit timer), SCI on IRQ 9, no SMI_CMD (ACPI mode
//   is always on), a fixed power button, no sleep button, RESET_REG = I/O 0xcf9 value 0x06.
//   Both the 32-bit block addresses and the X_ GAS fields are filled, with the same values.
// - MADT: a local APIC per vCPU (APIC id = processor UID = index), the IOAPIC at 0xfec00000
//   with id nr_cpus (as the MP table says), overrides IRQ0 -> GSI 2 and IRQ9 level/active-high
//   (the SCI), NMI on LINT1 of every local APIC, PCAT_COMPAT.
// - DSDT: \_S5 = Package {0, 0, 0, 0} (SLP_TYP 0 is soft-off, as on QEMU's i440fx/PIIX4),
//   \_SB.PCI0 (PNP0A03) with _CRS (bus 0-255, I/O 0-0xcf7 and 0xd00-0xffff, the 32-bit MMIO
//   window up to the IOAPIC, the 64-bit window above RAM) and a _PRT routing slot/pin to GSI
//   pci_intx_gsi(slot, pin) as the MP table does, and a processor device (ACPI0007) per vCPU.
//
// All of it lies in one blob written to guest RAM at kAcpiTablesAddr, inside the e820-reserved
// BIOS area after the MP table, where guests that scan 0xe0000-0xfffff find the RSDP.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hw/i386/boot.h"
#include "util/error.h"

namespace colo {

constexpr uint64_t kAcpiTablesAddr = 0xf2000;  // after the MP table at kBiosAreaStart
constexpr uint64_t kAcpiTablesEnd = kHighMemStart;
constexpr uint16_t kAcpiPmIoBase = 0x600;
constexpr uint32_t kAcpiSciIrq = 9;
constexpr uint16_t kAcpiResetPort = 0xcf9;
constexpr uint8_t kAcpiResetValue = 0x06;
constexpr uint32_t kPciMmioWindowEnd = 0xfebfffff;  // last byte below the IOAPIC

// Byte offsets of FADT fields used by tests and by colovm itself.
namespace fadt {
constexpr size_t kFirmwareCtrl = 36, kDsdt = 40, kSciInt = 46, kSmiCmd = 48, kPm1aEvtBlk = 56,
                 kPm1aCntBlk = 64, kPmTmrBlk = 76, kPm1EvtLen = 88, kPm1CntLen = 89, kPmTmrLen = 91,
                 kCentury = 108, kIapcBootArch = 109, kFlags = 112, kResetReg = 116,
                 kResetValue = 128, kXFirmwareCtrl = 132, kXDsdt = 140, kXPm1aEvtBlk = 148,
                 kXPm1aCntBlk = 172, kXPmTmrBlk = 208, kLength = 244;
// Flags.
constexpr uint32_t kWbinvd = 1u << 0, kProcC1 = 1u << 2, kPwrButton = 1u << 4, kSlpButton = 1u << 5,
                   kTmrValExt = 1u << 8, kResetRegSup = 1u << 10, kUsePlatformClock = 1u << 15,
                   kForceApicClusterModel = 1u << 18;
// IAPC_BOOT_ARCH.
constexpr uint16_t kLegacyDevices = 1u << 0, k8042 = 1u << 1, kVgaNotPresent = 1u << 2;
}  // namespace fadt

struct AcpiConfig {
  int nr_cpus = 1;
  int pci_slots = 32;  // slots routed in _PRT (4 pins each)
  uint16_t pm_io_base = kAcpiPmIoBase;
  uint32_t sci_irq = kAcpiSciIrq;
  uint32_t pci_mmio_start = static_cast<uint32_t>(kPciHoleStart);
  uint32_t pci_mmio_end = kPciMmioWindowEnd;
  // The 64-bit MMIO window above RAM (where 64-bit BARs go); size 0: none.
  uint64_t pci_mmio64_start = 0;
  uint64_t pci_mmio64_size = 0;
};

struct AcpiTableLocation {
  std::string signature;  // "RSD PTR " for the RSDP
  uint64_t addr;
  uint32_t length;
};

struct AcpiTables {
  uint64_t base = 0;          // guest-physical address of blob[0]
  std::vector<uint8_t> blob;  // every table, to be written at `base`
  uint64_t rsdp_addr = 0;
  std::vector<AcpiTableLocation> tables;  // in blob order

  const AcpiTableLocation* find(std::string_view signature) const;
  // The bytes of one table inside the blob (empty if absent).
  std::span<const uint8_t> bytes(std::string_view signature) const;
};

// Builds every table for `cfg`, laid out from `base` (16-byte aligned); error if they do not
// fit below `limit`.
Result<AcpiTables> build_acpi_tables(const AcpiConfig& cfg, uint64_t base, uint64_t limit);

// The single tables (headers and checksums complete), for tests.
std::vector<uint8_t> build_dsdt(const AcpiConfig& cfg);
std::vector<uint8_t> build_madt(const AcpiConfig& cfg);
std::vector<uint8_t> build_fadt(const AcpiConfig& cfg, uint32_t facs_addr, uint64_t dsdt_addr);
std::vector<uint8_t> build_facs();

// The 8-bit sum that makes `data` add up to zero.
uint8_t acpi_checksum(std::span<const uint8_t> data);

}  // namespace colo
