// SPDX-License-Identifier: GPL-2.0-or-later
//
// Intel MultiProcessor Specification 1.4 tables: how Linux finds the CPUs, the IOAPIC and the
// interrupt wiring on a machine without ACPI.
#include <cstring>

#include "hw/i386/boot.h"
#include "util/bytes.h"

namespace colo {

namespace {

constexpr uint8_t kEntryProcessor = 0, kEntryBus = 1, kEntryIoapic = 2, kEntryIoInt = 3,
                  kEntryLocalInt = 4;
constexpr uint8_t kIntTypeInt = 0, kIntTypeNmi = 1, kIntTypeExtInt = 3;
constexpr uint8_t kBusPci = 0, kBusIsa = 1;
// Polarity active low (3) | trigger level (3 << 2).
constexpr uint16_t kIrqFlagsPciLevelLow = 0x0f;

uint8_t checksum(const uint8_t* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; i++)
    sum = static_cast<uint8_t>(sum + p[i]);
  return static_cast<uint8_t>(-sum);
}

void io_int(ByteWriter& w, uint8_t type, uint16_t flags, uint8_t bus, uint8_t bus_irq,
            uint8_t ioapic, uint8_t pin) {
  w.u8(kEntryIoInt);
  w.u8(type);
  w.le16(flags);
  w.u8(bus);
  w.u8(bus_irq);
  w.u8(ioapic);
  w.u8(pin);
}

}  // namespace

uint32_t pci_intx_gsi(int slot, int pin) {
  return 16 + static_cast<uint32_t>((slot + pin) % 4);
}

std::vector<uint8_t> build_mptable(const MpTableConfig& cfg, uint64_t base) {
  const uint8_t ioapic_id = static_cast<uint8_t>(cfg.nr_cpus);
  ByteWriter entries;
  uint16_t count = 0;
  for (int i = 0; i < cfg.nr_cpus; i++) {
    entries.u8(kEntryProcessor);
    entries.u8(static_cast<uint8_t>(i));                     // local APIC id
    entries.u8(0x14);                                        // local APIC version
    entries.u8(static_cast<uint8_t>(1 | (i == 0 ? 2 : 0)));  // enabled | bootstrap
    entries.le32(cfg.cpu_signature);
    entries.le32(cfg.cpu_features);
    entries.zeros(8);
    count++;
  }
  for (auto [id, name] :
       {std::pair<uint8_t, const char*>{kBusPci, "PCI   "}, {kBusIsa, "ISA   "}}) {
    entries.u8(kEntryBus);
    entries.u8(id);
    entries.str(name);
    count++;
  }
  entries.u8(kEntryIoapic);
  entries.u8(ioapic_id);
  entries.u8(0x11);  // KVM's IOAPIC version
  entries.u8(1);     // enabled
  entries.le32(static_cast<uint32_t>(kIoapicAddr));
  count++;
  // ISA IRQs: the 8259 cascade as ExtINT on pin 0, IRQ 0 (PIT) overridden to pin 2, the rest
  // identity-mapped, edge-triggered active-high (flags 0 = bus default).
  io_int(entries, kIntTypeExtInt, 0, kBusIsa, 0, ioapic_id, 0);
  count++;
  for (uint8_t irq = 0; irq < 16; irq++) {
    if (irq == 2)
      continue;
    io_int(entries, kIntTypeInt, 0, kBusIsa, irq, ioapic_id, irq == 0 ? 2 : irq);
    count++;
  }
  // PCI INTx: source bus irq = slot << 2 | pin, level-triggered active-low, on GSIs 16-23.
  for (int slot = 0; slot < cfg.pci_slots; slot++) {
    for (int pin = 0; pin < 4; pin++) {
      io_int(entries, kIntTypeInt, kIrqFlagsPciLevelLow, kBusPci,
             static_cast<uint8_t>((slot << 2) | pin), ioapic_id,
             static_cast<uint8_t>(pci_intx_gsi(slot, pin)));
      count++;
    }
  }
  for (auto [type, lint] : {std::pair<uint8_t, uint8_t>{kIntTypeExtInt, 0}, {kIntTypeNmi, 1}}) {
    entries.u8(kEntryLocalInt);
    entries.u8(type);
    entries.le16(0);
    entries.u8(kBusIsa);
    entries.u8(0);
    entries.u8(0xff);  // all local APICs
    entries.u8(lint);
    count++;
  }

  const uint64_t config_addr = base + 16;
  ByteWriter config;
  config.str("PCMP");
  config.le16(static_cast<uint16_t>(44 + entries.size()));
  config.u8(4);  // spec revision 1.4
  config.u8(0);  // checksum, filled below
  config.str("COLOVM  ");
  config.str("PC          ");
  config.le32(0);  // OEM table pointer
  config.le16(0);  // OEM table size
  config.le16(count);
  config.le32(static_cast<uint32_t>(kLapicAddr));
  config.le16(0);  // extended table length
  config.u8(0);    // extended table checksum
  config.u8(0);
  config.bytes(entries.buffer());
  std::vector<uint8_t> table = config.take();
  table[7] = checksum(table.data(), table.size());

  ByteWriter fp;
  fp.str("_MP_");
  fp.le32(static_cast<uint32_t>(config_addr));
  fp.u8(1);  // length in 16-byte units
  fp.u8(4);  // spec revision
  fp.u8(0);  // checksum
  fp.u8(0);  // feature 1: configuration table present
  fp.zeros(4);
  std::vector<uint8_t> out = fp.take();
  out[10] = checksum(out.data(), out.size());
  out.insert(out.end(), table.begin(), table.end());
  return out;
}

}  // namespace colo
