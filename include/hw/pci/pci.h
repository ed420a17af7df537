// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/pci/pci.h
//
// Conventional PCI: a bus of up to 32 slots x 8 functions with 256-byte configuration spaces,
// reached through the conf1 mechanism (ports 0xcf8/0xcfc). A device declares its BARs; the bus
// maps them on the machine's PIO/MMIO buses whenever the guest changes a BAR or the command
// register, exactly as the hardware decodes them. Since colovm boots kernels without firmware,
// assign_resources() does what the BIOS would: give every BAR an address and enable decoding.
//
// INTx: slot s, pin p (0 = INTA) is wired to IOAPIC input pci_intx_gsi(s, p) (GSI 16-23), as the
// MP table declares. Lines shared by several devices are ORed.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/bus.h"
#include "hw/irq.h"

namespace colo {

constexpr size_t kPciConfigSpaceSize = 256;
constexpr int kPciNumBars = 6;

// Standard header offsets.
constexpr uint32_t kPciVendorId = 0x00, kPciDeviceId = 0x02, kPciCommand = 0x04, kPciStatus = 0x06,
                   kPciRevision = 0x08, kPciClassProg = 0x09, kPciHeaderType = 0x0e,
                   kPciBar0 = 0x10, kPciSubsystemVendorId = 0x2c, kPciSubsystemId = 0x2e,
                   kPciCapabilityList = 0x34, kPciInterruptLine = 0x3c, kPciInterruptPin = 0x3d;
constexpr uint16_t kPciCommandIo = 0x1, kPciCommandMemory = 0x2, kPciCommandMaster = 0x4,
                   kPciCommandIntxDisable = 0x400;
constexpr uint16_t kPciStatusInterrupt = 0x8, kPciStatusCapList = 0x10;

enum class PciBarType { kIo, kMem32, kMem64 };

class PciBus;

class PciDevice {
 public:
  PciDevice(std::string name, uint16_t vendor, uint16_t device, uint32_t class_code,
            uint8_t revision);
  virtual ~PciDevice();

  const std::string& name() const { return name_; }
  int slot() const { return devfn_ >> 3; }
  int function() const { return devfn_ & 7; }
  int devfn() const { return devfn_; }
  PciBus* bus() const { return bus_; }

  // Config space accesses from the guest (size 1, 2 or 4; offset aligned to size).
  virtual uint32_t config_read(uint32_t offset, int size);
  virtual void config_write(uint32_t offset, uint32_t value, int size);

  // Declares BAR `index` (a 64-bit BAR also uses index + 1), decoded by `handler`.
  void register_bar(int index, uint64_t size, PciBarType type, bool prefetchable,
                    BusDevice* handler);
  // The address the BAR is currently programmed to (0 if unassigned).
  uint64_t bar_address(int index) const;
  uint64_t bar_size(int index) const { return bars_[index].size; }
  PciBarType bar_type(int index) const { return bars_[index].type; }
  bool bar_prefetchable(int index) const { return bars_[index].prefetchable; }

  // Appends a capability of `size` bytes with ID `id` to the list; returns its offset. The
  // caller fills the body through config_bytes() and sets writable bits with set_wmask().
  uint8_t add_capability(uint8_t id, uint8_t size);
  uint8_t* config_bytes() { return config_.data(); }
  void set_wmask(uint32_t offset, uint32_t mask, int size);

  // INTx pin 1..4 (0: none); set_irq() drives it, honouring Command.INTxDisable.
  void set_interrupt_pin(uint8_t pin);
  void set_irq(bool level);

  // Device reset: back to the declared config space, BARs unmapped.
  virtual void reset();

  // Makes the config space as it is now the state reset() returns to (for devices that fill
  // in capability bodies after add_capability()).
  void set_reset_config();
  // The whole config space, for migration.
  std::array<uint8_t, kPciConfigSpaceSize> config_snapshot();
  // Whether restore_config() would accept `config`: read-only bits must match this device's.
  Status check_config(std::span<const uint8_t> config);
  // Loads a config space saved by config_snapshot() of the same kind of device and remaps the
  // BARs. A config that check_config() refuses is an error and changes nothing.
  Status restore_config(std::span<const uint8_t> config);

 protected:
  // Called after a config write that changed BARs or the command register, under no lock.
  virtual void config_changed() {}
  std::mutex config_mutex_;

 private:
  friend class PciBus;
  struct Bar {
    uint64_t size = 0;
    PciBarType type = PciBarType::kMem32;
    bool prefetchable = false;
    BusDevice* handler = nullptr;
    uint64_t mapped_at = 0;  // 0 = not mapped
    bool mapped = false;
  };
  void update_mappings_locked();
  uint32_t bar_value_locked(int index) const;

  std::string name_;
  PciBus* bus_ = nullptr;
  int devfn_ = -1;
  std::array<uint8_t, kPciConfigSpaceSize> config_{};
  std::array<uint8_t, kPciConfigSpaceSize> wmask_{};
  std::array<uint8_t, kPciConfigSpaceSize> reset_config_{};
  std::array<Bar, kPciNumBars> bars_{};
  uint8_t next_cap_ = 0x40;
  bool irq_level_ = false;
};

class PciBus {
 public:
  // `intx` returns the interrupt line of a GSI (16-23).
  PciBus(IoBus* pio, IoBus* mmio, std::function<IrqLine*(uint32_t gsi)> intx);

  // Plugs `dev` at slot/function (slot -1: first free slot).
  Status add_device(PciDevice* dev, int slot = -1, int function = 0);
  PciDevice* device(int devfn) const { return devices_[devfn]; }
  std::vector<PciDevice*> devices() const;

  uint32_t config_read(uint8_t bus, uint8_t devfn, uint32_t offset, int size);
  void config_write(uint8_t bus, uint8_t devfn, uint32_t offset, uint32_t value, int size);

  // Firmware's job: addresses for every BAR, decoding enabled, interrupt line set.
  Status assign_resources(uint64_t mmio32_start, uint64_t mmio32_end, uint64_t mmio64_start,
                          uint16_t io_start, uint16_t io_end);

  IoBus* pio() const { return pio_; }
  IoBus* mmio() const { return mmio_; }
  void set_intx(PciDevice* dev, uint8_t pin, bool level);

 private:
  friend class PciDevice;  // a device unplugs itself when it is destroyed
  IoBus* pio_;
  IoBus* mmio_;
  std::function<IrqLine*(uint32_t)> intx_;
  std::array<PciDevice*, 256> devices_{};
  std::mutex intx_mutex_;
  std::array<int, 24> intx_count_{};
};

// Ports 0xcf8-0xcff: the address latch (dword accesses at 0xcf8) and the data window. A byte
// access to 0xcf9 is the PC's reset control register, handled by `port_cf9`.
class PciHostConf1 : public BusDevice {
 public:
  PciHostConf1(PciBus* bus, BusDevice* port_cf9) : bus_(bus), port_cf9_(port_cf9) {}
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  void reset();

 private:
  PciBus* bus_;
  BusDevice* port_cf9_;
  std::mutex mutex_;
  uint32_t address_ = 0;
};

// 00:00.0, the host bridge (Intel 440FX, as QEMU's pc machine has).
class PciHostBridge : public PciDevice {
 public:
  PciHostBridge() : PciDevice("i440FX", 0x8086, 0x1237, 0x060000, 0x02) {}
};

}  // namespace colo
