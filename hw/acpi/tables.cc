// SPDX-License-Identifier: GPL-2.0-or-later
//
// The PC machine's ACPI tables (see hw/acpi/tables.h for what they say).
#include "hw/acpi/tables.h"

#include <algorithm>
#include <cstdio>

#include "hw/acpi/aml.h"
#include "hw/acpi/pm.h"
#include "util/bytes.h"

namespace colo {

namespace {

constexpr size_t kRsdpSize = 36;
constexpr size_t kFacsSize = 64;

// Generic Address Structure address space ids and access sizes.
constexpr uint8_t kGasSystemIo = 1;
constexpr uint8_t kGasAccessUndefined = 0, kGasAccessByte = 1;

// MADT.
constexpr uint8_t kMadtLocalApic = 0, kMadtIoApic = 1, kMadtIntSrcOverride = 2,
                  kMadtLocalApicNmi = 4;
constexpr uint32_t kMadtPcatCompat = 1;
constexpr uint32_t kMadtLocalApicEnabled = 1;
// MPS INTI flags: polarity active high (1), trigger level (3 << 2).
constexpr uint16_t kMpsIntiActiveHighLevel = 0x000d;

void table_header(ByteWriter& w, std::string_view signature, uint8_t revision) {
  w.str(signature);
  w.le32(0);  // length, set by finish_table()
  w.u8(revision);
  w.u8(0);  // checksum, set by finish_table()
  w.str("COLOVM");
  w.str("COLOVMPC");
  w.le32(1);  // OEM revision
  w.str("COLO");
  w.le32(1);  // creator revision
}

std::vector<uint8_t> finish_table(ByteWriter& w) {
  std::vector<uint8_t> t = w.take();
  store_le32(t.data() + 4, static_cast<uint32_t>(t.size()));
  t[9] = acpi_checksum(t);
  return t;
}

// Generic Address Structure.
void gas(ByteWriter& w, uint8_t space, uint8_t bit_width, uint8_t access, uint64_t addr) {
  w.u8(space);
  w.u8(bit_width);
  w.u8(0);  // bit offset
  w.u8(access);
  w.le64(addr);
}

void gas_io(ByteWriter& w, uint16_t port, uint8_t len) {
  if (port == 0)
    len = 0;
  gas(w, port ? kGasSystemIo : 0, static_cast<uint8_t>(len * 8), kGasAccessUndefined, port);
}

std::vector<uint8_t> build_rsdp(uint32_t rsdt, uint64_t xsdt) {
  ByteWriter w;
  w.str("RSD PTR ");
  w.u8(0);  // checksum of the first 20 bytes
  w.str("COLOVM");
  w.u8(2);  // revision: ACPI 2.0+, with XSDT
  w.le32(rsdt);
  w.le32(kRsdpSize);
  w.le64(xsdt);
  w.u8(0);  // extended checksum of all 36 bytes
  w.zeros(3);
  std::vector<uint8_t> r = w.take();
  r[8] = acpi_checksum(std::span<const uint8_t>(r).first(20));
  r[32] = acpi_checksum(r);
  return r;
}

std::vector<uint8_t> build_rsdt(const std::vector<uint64_t>& entries) {
  ByteWriter w;
  table_header(w, "RSDT", 1);
  for (uint64_t e : entries)
    w.le32(static_cast<uint32_t>(e));
  return finish_table(w);
}

std::vector<uint8_t> build_xsdt(const std::vector<uint64_t>& entries) {
  ByteWriter w;
  table_header(w, "XSDT", 1);
  for (uint64_t e : entries)
    w.le64(e);
  return finish_table(w);
}

size_t align_up(size_t v, size_t a) {
  return (v + a - 1) / a * a;
}

}  // namespace

uint8_t acpi_checksum(std::span<const uint8_t> data) {
  uint8_t sum = 0;
  for (uint8_t b : data)
    sum = static_cast<uint8_t>(sum + b);
  return static_cast<uint8_t>(-sum);
}

std::vector<uint8_t> build_facs() {
  ByteWriter w;
  w.str("FACS");
  w.le32(kFacsSize);
  w.le32(0);  // hardware signature
  w.le32(0);  // firmware waking vector
  w.le32(0);  // global lock
  w.le32(0);  // flags: no S4BIOS, no 64-bit wake
  w.le64(0);  // X firmware waking vector
  w.u8(2);    // version
  w.zeros(3);
  w.le32(0);  // OSPM flags
  w.zeros(24);
  return w.take();
}

std::vector<uint8_t> build_fadt(const AcpiConfig& cfg, uint32_t facs_addr, uint64_t dsdt_addr) {
  const uint16_t evt = cfg.pm_io_base + AcpiPm::kPm1EvtOffset;
  const uint16_t cnt = cfg.pm_io_base + AcpiPm::kPm1CntOffset;
  const uint16_t tmr = cfg.pm_io_base + AcpiPm::kPmTmrOffset;
  ByteWriter w;
  table_header(w, "FACP", 3);
  w.le32(facs_addr);                         // FIRMWARE_CTRL
  w.le32(static_cast<uint32_t>(dsdt_addr));  // DSDT
  w.u8(1);                                   // ACPI 1.0 INT_MODEL: multiple APIC
  w.u8(0);                                   // preferred PM profile: unspecified
  w.le16(static_cast<uint16_t>(cfg.sci_irq));
  w.le32(0);    // SMI_CMD: none, the machine is always in ACPI mode
  w.u8(0);      // ACPI_ENABLE
  w.u8(0);      // ACPI_DISABLE
  w.u8(0);      // S4BIOS_REQ
  w.u8(0);      // PSTATE_CNT
  w.le32(evt);  // PM1a_EVT_BLK
  w.le32(0);    // PM1b_EVT_BLK
  w.le32(cnt);  // PM1a_CNT_BLK
  w.le32(0);    // PM1b_CNT_BLK
  w.le32(0);    // PM2_CNT_BLK
  w.le32(tmr);  // PM_TMR_BLK
  w.le32(0);    // GPE0_BLK
  w.le32(0);    // GPE1_BLK
  w.u8(AcpiPm::kPm1EvtLen);
  w.u8(AcpiPm::kPm1CntLen);
  w.u8(0);  // PM2_CNT_LEN
  w.u8(AcpiPm::kPmTmrLen);
  w.u8(0);        // GPE0_BLK_LEN
  w.u8(0);        // GPE1_BLK_LEN
  w.u8(0);        // GPE1_BASE
  w.u8(0);        // CST_CNT
  w.le16(0xfff);  // P_LVL2_LAT: no C2
  w.le16(0xfff);  // P_LVL3_LAT: no C3
  w.le16(0);      // FLUSH_SIZE
  w.le16(0);      // FLUSH_STRIDE
  w.u8(0);        // DUTY_OFFSET
  w.u8(0);        // DUTY_WIDTH
  w.u8(0);        // DAY_ALRM
  w.u8(0);        // MON_ALRM
  w.u8(0x32);     // CENTURY: the RTC's century register
  // ISA devices (COM ports, RTC, PIC, PIT), no 8042 (it answers 0xff), no VGA.
  w.le16(fadt::kLegacyDevices | fadt::kVgaNotPresent);
  w.u8(0);
  uint32_t flags = fadt::kWbinvd | fadt::kProcC1 | fadt::kSlpButton | fadt::kResetRegSup |
                   fadt::kUsePlatformClock;
  if (cfg.nr_cpus > 8)
    flags |= fadt::kForceApicClusterModel;
  w.le32(flags);
  gas(w, kGasSystemIo, 8, kGasAccessByte, kAcpiResetPort);  // RESET_REG
  w.u8(kAcpiResetValue);
  w.zeros(3);  // ARM_BOOT_ARCH, FADT minor version (ACPI 5.1+)
  w.le64(0);   // X_FIRMWARE_CTRL: FIRMWARE_CTRL is used
  w.le64(dsdt_addr);
  gas_io(w, evt, AcpiPm::kPm1EvtLen);  // X_PM1a_EVT_BLK
  gas_io(w, 0, 0);                     // X_PM1b_EVT_BLK
  gas_io(w, cnt, AcpiPm::kPm1CntLen);  // X_PM1a_CNT_BLK
  gas_io(w, 0, 0);                     // X_PM1b_CNT_BLK
  gas_io(w, 0, 0);                     // X_PM2_CNT_BLK
  gas_io(w, tmr, AcpiPm::kPmTmrLen);   // X_PM_TMR_BLK
  gas_io(w, 0, 0);                     // X_GPE0_BLK
  gas_io(w, 0, 0);                     // X_GPE1_BLK
  return finish_table(w);
}

std::vector<uint8_t> build_madt(const AcpiConfig& cfg) {
  ByteWriter w;
  table_header(w, "APIC", 1);
  w.le32(static_cast<uint32_t>(kLapicAddr));
  w.le32(kMadtPcatCompat);
  for (int i = 0; i < cfg.nr_cpus; i++) {
    w.u8(kMadtLocalApic);
    w.u8(8);
    w.u8(static_cast<uint8_t>(i));  // ACPI processor UID
    w.u8(static_cast<uint8_t>(i));  // APIC id
    w.le32(kMadtLocalApicEnabled);
  }
  w.u8(kMadtIoApic);
  w.u8(12);
  w.u8(static_cast<uint8_t>(cfg.nr_cpus));  // IOAPIC id, as in the MP table
  w.u8(0);
  w.le32(static_cast<uint32_t>(kIoapicAddr));
  w.le32(0);  // GSI base
  auto override_irq = [&](uint8_t irq, uint32_t gsi, uint16_t flags) {
    w.u8(kMadtIntSrcOverride);
    w.u8(10);
    w.u8(0);  // bus: ISA
    w.u8(irq);
    w.le32(gsi);
    w.le16(flags);
  };
  override_irq(0, 2, 0);  // the PIT is on IOAPIC pin 2
  override_irq(static_cast<uint8_t>(cfg.sci_irq), cfg.sci_irq, kMpsIntiActiveHighLevel);
  w.u8(kMadtLocalApicNmi);
  w.u8(6);
  w.u8(0xff);  // all processors
  w.le16(0);   // flags: conforms to the bus
  w.u8(1);     // LINT1
  return finish_table(w);
}

std::vector<uint8_t> build_dsdt(const AcpiConfig& cfg) {
  std::vector<AmlBytes> prt;
  for (int slot = 0; slot < cfg.pci_slots; slot++) {
    for (int pin = 0; pin < 4; pin++) {
      prt.push_back(aml_package({aml_int((static_cast<uint64_t>(slot) << 16) | 0xffff),
                                 aml_int(static_cast<uint64_t>(pin)), aml_int(0),
                                 aml_int(pci_intx_gsi(slot, pin))}));
    }
  }
  AmlResources crs;
  crs.word_bus_number(0x00, 0xff)
      .io(0x0cf8, 0x0cf8, 1, 8)
      .word_io(0x0000, 0x0cf7)
      .word_io(0x0d00, 0xffff)
      .dword_memory(cfg.pci_mmio_start, cfg.pci_mmio_end, false);
  if (cfg.pci_mmio64_size != 0) {
    crs.qword_memory(cfg.pci_mmio64_start, cfg.pci_mmio64_start + cfg.pci_mmio64_size - 1, true);
  }
  std::vector<AmlBytes> sb;
  sb.push_back(aml_device("PCI0", {
                                      aml_name_decl("_HID", aml_eisaid("PNP0A03")),
                                      aml_name_decl("_ADR", aml_int(0)),
                                      aml_name_decl("_UID", aml_int(0)),
                                      aml_name_decl("_BBN", aml_int(0)),
                                      aml_name_decl("_CRS", crs.buffer()),
                                      aml_name_decl("_PRT", aml_package(prt)),
                                  }));
  for (int i = 0; i < cfg.nr_cpus; i++) {
    char name[16];
    snprintf(name, sizeof(name), "C%03X", static_cast<unsigned>(i) & 0xfff);
    sb.push_back(aml_device(name, {
                                      aml_name_decl("_HID", aml_string("ACPI0007")),
                                      aml_name_decl("_UID", aml_int(static_cast<uint64_t>(i))),
                                  }));
  }

  ByteWriter w;
  table_header(w, "DSDT", 2);  // revision 2: 64-bit integers
  // \_S5: SLP_TYP for PM1a and PM1b, two reserved.
  w.bytes(aml_name_decl("_S5", aml_package({aml_int(0), aml_int(0), aml_int(0), aml_int(0)})));
  w.bytes(aml_scope("\\_SB", sb));
  return finish_table(w);
}

const AcpiTableLocation* AcpiTables::find(std::string_view signature) const {
  for (const auto& t : tables) {
    if (t.signature == signature)
      return &t;
  }
  return nullptr;
}

std::span<const uint8_t> AcpiTables::bytes(std::string_view signature) const {
  const AcpiTableLocation* t = find(signature);
  if (t == nullptr)
    return {};
  return std::span<const uint8_t>(blob).subspan(t->addr - base, t->length);
}

Result<AcpiTables> build_acpi_tables(const AcpiConfig& cfg, uint64_t base, uint64_t limit) {
  if (base % 16 != 0)
    return make_error("ACPI tables: base 0x%llx is not 16-byte aligned",
                      static_cast<unsigned long long>(base));
  if (limit > k4GiB)
    return make_error("ACPI tables must lie below 4 GiB");
  // One byte for APIC ids and processor UIDs; the IOAPIC takes id nr_cpus.
  if (cfg.nr_cpus < 1 || cfg.nr_cpus > 255) {
    return make_error("ACPI tables: %d CPUs, 1 to 255 supported", cfg.nr_cpus);
  }
  if (cfg.pci_mmio64_size != 0 &&
      (cfg.pci_mmio64_start < k4GiB ||
       cfg.pci_mmio64_start + cfg.pci_mmio64_size < cfg.pci_mmio64_start)) {
    return make_error("ACPI tables: bad 64-bit PCI window");
  }
  if (cfg.pci_slots < 0 || cfg.pci_slots > 32) {
    return make_error("ACPI tables: %d PCI slots, at most 32", cfg.pci_slots);
  }
  AcpiTables out;
  out.base = base;
  auto place = [&](std::string name, const std::vector<uint8_t>& table, size_t align) {
    size_t off = align_up(out.blob.size(), align);
    out.blob.resize(off, 0);
    out.blob.insert(out.blob.end(), table.begin(), table.end());
    out.tables.push_back({std::move(name), base + off, static_cast<uint32_t>(table.size())});
    return base + off;
  };
  // The RSDP's and the FADT's contents depend on where the others land: reserve their space
  // first, fill them in at the end.
  uint64_t rsdp = place("RSD PTR ", std::vector<uint8_t>(kRsdpSize), 16);
  uint64_t facs = place("FACS", build_facs(), 64);
  uint64_t dsdt = place("DSDT", build_dsdt(cfg), 16);
  std::vector<uint8_t> fadt_table = build_fadt(cfg, static_cast<uint32_t>(facs), dsdt);
  uint64_t fadt = place("FACP", fadt_table, 16);
  uint64_t madt = place("APIC", build_madt(cfg), 16);
  uint64_t rsdt = place("RSDT", build_rsdt({fadt, madt}), 16);
  uint64_t xsdt = place("XSDT", build_xsdt({fadt, madt}), 16);
  std::vector<uint8_t> rsdp_table = build_rsdp(static_cast<uint32_t>(rsdt), xsdt);
  std::copy(rsdp_table.begin(), rsdp_table.end(), out.blob.begin() + (rsdp - base));
  out.rsdp_addr = rsdp;
  if (base + out.blob.size() > limit) {
    return make_error("ACPI tables (%zu bytes) do not fit in 0x%llx-0x%llx", out.blob.size(),
                      static_cast<unsigned long long>(base),
                      static_cast<unsigned long long>(limit));
  }
  return out;
}

}  // namespace colo
