// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/pci/pci.h"

#include <algorithm>
#include <cstring>

#include "hw/i386/boot.h"
#include "util/bytes.h"
#include "util/log.h"

namespace colo {

PciDevice::PciDevice(std::string name, uint16_t vendor, uint16_t device, uint32_t class_code,
                     uint8_t revision)
    : name_(std::move(name)) {
  store_le16(config_.data() + kPciVendorId, vendor);
  store_le16(config_.data() + kPciDeviceId, device);
  config_[kPciRevision] = revision;
  config_[kPciClassProg] = static_cast<uint8_t>(class_code);
  config_[kPciClassProg + 1] = static_cast<uint8_t>(class_code >> 8);
  config_[kPciClassProg + 2] = static_cast<uint8_t>(class_code >> 16);
  store_le16(config_.data() + kPciSubsystemVendorId, 0x1af4);
  store_le16(config_.data() + kPciSubsystemId, 0x1100);
  // Writable: command (I/O, memory, bus master, INTx disable), interrupt line.
  set_wmask(kPciCommand,
            kPciCommandIo | kPciCommandMemory | kPciCommandMaster | kPciCommandIntxDisable, 2);
  set_wmask(kPciInterruptLine, 0xff, 1);
  reset_config_ = config_;
}

PciDevice::~PciDevice() {
  if (bus_ == nullptr)
    return;
  for (auto& b : bars_) {
    if (b.mapped && b.handler != nullptr) {
      (b.type == PciBarType::kIo ? bus_->pio() : bus_->mmio())->unmap(b.mapped_at, b.handler);
    }
  }
  // A device that failed after it was plugged (an unknown -device property) leaves no trace.
  if (bus_->devices_[devfn_] == this)
    bus_->devices_[devfn_] = nullptr;
}

void PciDevice::set_wmask(uint32_t offset, uint32_t mask, int size) {
  for (int i = 0; i < size && offset + i < kPciConfigSpaceSize; i++) {
    wmask_[offset + i] = static_cast<uint8_t>(mask >> (8 * i));
  }
}

void PciDevice::register_bar(int index, uint64_t size, PciBarType type, bool prefetchable,
                             BusDevice* handler) {
  // Sizes are powers of two, at least 16 bytes for memory and 4 for I/O.
  uint64_t min = type == PciBarType::kIo ? 4 : 16;
  uint64_t s = min;
  while (s < size)
    s <<= 1;
  Bar& b = bars_[index];
  b.size = s;
  b.type = type;
  b.prefetchable = prefetchable;
  b.handler = handler;
  uint32_t low_flags = type == PciBarType::kIo
                           ? 0x1
                           : ((type == PciBarType::kMem64 ? 0x4 : 0) | (prefetchable ? 0x8 : 0));
  store_le32(config_.data() + kPciBar0 + 4 * index, low_flags);
  // Writable address bits: everything above the size.
  uint64_t mask = ~(s - 1);
  set_wmask(kPciBar0 + 4 * index,
            static_cast<uint32_t>(mask) & (type == PciBarType::kIo ? ~0x3u : ~0xfu), 4);
  if (type == PciBarType::kMem64) {
    store_le32(config_.data() + kPciBar0 + 4 * (index + 1), 0);
    set_wmask(kPciBar0 + 4 * (index + 1), static_cast<uint32_t>(mask >> 32), 4);
  }
  reset_config_ = config_;
}

uint64_t PciDevice::bar_address(int index) const {
  const Bar& b = bars_[index];
  if (b.size == 0)
    return 0;
  uint64_t lo = load_le32(config_.data() + kPciBar0 + 4 * index);
  if (b.type == PciBarType::kIo)
    return lo & ~0x3ULL;
  uint64_t addr = lo & ~0xfULL;
  if (b.type == PciBarType::kMem64) {
    addr |= static_cast<uint64_t>(load_le32(config_.data() + kPciBar0 + 4 * (index + 1))) << 32;
  }
  return addr;
}

uint8_t PciDevice::add_capability(uint8_t id, uint8_t size) {
  uint8_t off = next_cap_;
  next_cap_ = static_cast<uint8_t>((off + size + 3) & ~3);
  config_[off] = id;
  config_[off + 1] = config_[kPciCapabilityList];
  config_[kPciCapabilityList] = off;
  store_le16(config_.data() + kPciStatus,
             static_cast<uint16_t>(load_le16(config_.data() + kPciStatus) | kPciStatusCapList));
  reset_config_ = config_;
  return off;
}

void PciDevice::set_interrupt_pin(uint8_t pin) {
  config_[kPciInterruptPin] = pin;
  reset_config_ = config_;
}

void PciDevice::set_irq(bool level) {
  uint8_t pin;
  bool effective;
  {
    std::lock_guard<std::mutex> lock(config_mutex_);
    pin = config_[kPciInterruptPin];
    uint16_t status = load_le16(config_.data() + kPciStatus);
    status = static_cast<uint16_t>(level ? (status | kPciStatusInterrupt)
                                         : (status & ~kPciStatusInterrupt));
    store_le16(config_.data() + kPciStatus, status);
    bool disabled = load_le16(config_.data() + kPciCommand) & kPciCommandIntxDisable;
    effective = level && !disabled;
    if (effective == irq_level_)
      return;
    irq_level_ = effective;
  }
  if (bus_ != nullptr && pin != 0)
    bus_->set_intx(this, pin, effective);
}

uint32_t PciDevice::config_read(uint32_t offset, int size) {
  std::lock_guard<std::mutex> lock(config_mutex_);
  if (offset + size > kPciConfigSpaceSize)
    return 0xffffffff;
  uint32_t v = 0;
  for (int i = size - 1; i >= 0; i--)
    v = (v << 8) | config_[offset + i];
  return v;
}

void PciDevice::config_write(uint32_t offset, uint32_t value, int size) {
  if (offset + size > kPciConfigSpaceSize)
    return;
  bool remap = false;
  {
    std::lock_guard<std::mutex> lock(config_mutex_);
    for (int i = 0; i < size; i++) {
      uint32_t o = offset + i;
      uint8_t b = static_cast<uint8_t>(value >> (8 * i));
      config_[o] = static_cast<uint8_t>((config_[o] & ~wmask_[o]) | (b & wmask_[o]));
      if ((o >= kPciBar0 && o < kPciBar0 + 24) || o == kPciCommand || o == kPciCommand + 1) {
        remap = true;
      }
    }
    if (remap)
      update_mappings_locked();
  }
  // INTx disable may have changed the effective line.
  if (offset <= kPciCommand + 1 && offset + size > kPciCommand) {
    bool pending;
    {
      std::lock_guard<std::mutex> lock(config_mutex_);
      pending = load_le16(config_.data() + kPciStatus) & kPciStatusInterrupt;
    }
    set_irq(pending);
  }
  if (remap)
    config_changed();
}

void PciDevice::update_mappings_locked() {
  if (bus_ == nullptr)
    return;
  uint16_t cmd = load_le16(config_.data() + kPciCommand);
  for (int i = 0; i < kPciNumBars; i++) {
    Bar& b = bars_[i];
    if (b.size == 0 || b.handler == nullptr)
      continue;
    bool io = b.type == PciBarType::kIo;
    bool enabled = cmd & (io ? kPciCommandIo : kPciCommandMemory);
    uint64_t addr = bar_address(i);
    // An address of 0 or one that wraps, or one in the sizing pattern (all ones), is unmapped.
    // A 32-bit memory BAR must end below 4 GiB (QEMU's rule), which excludes the sizing pattern.
    uint64_t limit = io ? 0x10000 : (b.type == PciBarType::kMem64 ? ~0ULL : 0xffffffffULL);
    bool valid = enabled && addr != 0 && addr + b.size > addr && addr + b.size <= limit;
    IoBus* target = io ? bus_->pio() : bus_->mmio();
    if (b.mapped && (!valid || b.mapped_at != addr)) {
      target->unmap(b.mapped_at, b.handler);
      b.mapped = false;
    }
    if (valid && !b.mapped) {
      Status st = target->map(addr, b.size, b.handler, string_printf("%s BAR%d", name_.c_str(), i));
      if (st.ok()) {
        b.mapped = true;
        b.mapped_at = addr;
      } else {
        debug_report("%s", st.error().message().c_str());
      }
    }
  }
}

void PciDevice::reset() {
  {
    std::lock_guard<std::mutex> lock(config_mutex_);
    config_ = reset_config_;
    update_mappings_locked();
  }
  set_irq(false);
}

void PciDevice::set_reset_config() {
  std::lock_guard<std::mutex> lock(config_mutex_);
  reset_config_ = config_;
}

std::array<uint8_t, kPciConfigSpaceSize> PciDevice::config_snapshot() {
  std::lock_guard<std::mutex> lock(config_mutex_);
  return config_;
}

Status PciDevice::check_config(std::span<const uint8_t> config) {
  if (config.size() != kPciConfigSpaceSize) {
    return make_error("PCI config space of %zu bytes, expected %zu", config.size(),
                      kPciConfigSpaceSize);
  }
  std::lock_guard<std::mutex> lock(config_mutex_);
  for (size_t i = 0; i < kPciConfigSpaceSize; i++) {
    // The status register's interrupt bit follows the device, not the guest.
    if (i == kPciStatus)
      continue;
    if ((config[i] & ~wmask_[i]) != (config_[i] & ~wmask_[i])) {
      return make_error("PCI config byte 0x%zx: read-only bits 0x%02x differ from 0x%02x", i,
                        config[i] & ~wmask_[i], config_[i] & ~wmask_[i]);
    }
  }
  return ok_status();
}

Status PciDevice::restore_config(std::span<const uint8_t> config) {
  COLO_TRY(check_config(config));
  {
    std::lock_guard<std::mutex> lock(config_mutex_);
    for (size_t i = 0; i < kPciConfigSpaceSize; i++) {
      if (i == kPciStatus)
        continue;
      config_[i] = static_cast<uint8_t>((config_[i] & ~wmask_[i]) | (config[i] & wmask_[i]));
    }
    update_mappings_locked();
  }
  config_changed();
  return ok_status();
}

PciBus::PciBus(IoBus* pio, IoBus* mmio, std::function<IrqLine*(uint32_t)> intx)
    : pio_(pio), mmio_(mmio), intx_(std::move(intx)) {}

Status PciBus::add_device(PciDevice* dev, int slot, int function) {
  if (slot < 0) {
    for (int s = 0; s < 32; s++) {
      if (devices_[s << 3] == nullptr) {
        slot = s;
        break;
      }
    }
    if (slot < 0)
      return make_error("PCI bus is full");
  }
  if (slot > 31 || function < 0 || function > 7) {
    return make_error("invalid PCI address %02x.%x", slot, function);
  }
  int devfn = (slot << 3) | function;
  if (devices_[devfn] != nullptr) {
    return make_error("PCI: slot %d function %d not available for %s, in use by %s", slot, function,
                      dev->name().c_str(), devices_[devfn]->name().c_str());
  }
  devices_[devfn] = dev;
  dev->bus_ = this;
  dev->devfn_ = devfn;
  return ok_status();
}

std::vector<PciDevice*> PciBus::devices() const {
  std::vector<PciDevice*> out;
  for (PciDevice* d : devices_) {
    if (d != nullptr)
      out.push_back(d);
  }
  return out;
}

uint32_t PciBus::config_read(uint8_t bus, uint8_t devfn, uint32_t offset, int size) {
  PciDevice* d = bus == 0 ? devices_[devfn] : nullptr;
  if (d == nullptr)
    return size == 4 ? 0xffffffff : ((1u << (8 * size)) - 1);
  return d->config_read(offset, size);
}

void PciBus::config_write(uint8_t bus, uint8_t devfn, uint32_t offset, uint32_t value, int size) {
  PciDevice* d = bus == 0 ? devices_[devfn] : nullptr;
  if (d != nullptr)
    d->config_write(offset, value, size);
}

void PciBus::set_intx(PciDevice* dev, uint8_t pin, bool level) {
  uint32_t gsi = pci_intx_gsi(dev->slot(), pin - 1);
  bool changed;
  bool now;
  {
    std::lock_guard<std::mutex> lock(intx_mutex_);
    int before = intx_count_[gsi];
    intx_count_[gsi] += level ? 1 : -1;
    if (intx_count_[gsi] < 0)
      intx_count_[gsi] = 0;
    now = intx_count_[gsi] > 0;
    changed = (before > 0) != now;
  }
  if (changed) {
    IrqLine* line = intx_ ? intx_(gsi) : nullptr;
    if (line != nullptr)
      line->set_level(now);
  }
}

Status PciBus::assign_resources(uint64_t mmio32_start, uint64_t mmio32_end, uint64_t mmio64_start,
                                uint16_t io_start, uint16_t io_end) {
  struct Req {
    PciDevice* dev;
    int bar;
  };
  std::vector<Req> reqs;
  for (PciDevice* d : devices()) {
    for (int i = 0; i < kPciNumBars; i++) {
      if (d->bars_[i].size != 0)
        reqs.push_back({d, i});
    }
  }
  // Largest first keeps natural alignment without gaps.
  std::sort(reqs.begin(), reqs.end(), [](const Req& a, const Req& b) {
    return a.dev->bars_[a.bar].size > b.dev->bars_[b.bar].size;
  });
  uint64_t mem = mmio32_start, mem64 = mmio64_start, io = io_start;
  for (const Req& r : reqs) {
    PciDevice* d = r.dev;
    const auto& bar = d->bars_[r.bar];
    uint64_t addr;
    if (bar.type == PciBarType::kIo) {
      addr = (io + bar.size - 1) & ~(bar.size - 1);
      if (addr + bar.size > io_end)
        return make_error("PCI: out of I/O space for %s", d->name().c_str());
      io = addr + bar.size;
    } else {
      addr = (mem + bar.size - 1) & ~(bar.size - 1);
      if (addr + bar.size > mmio32_end) {
        if (bar.type != PciBarType::kMem64) {
          return make_error("PCI: out of 32-bit MMIO space for %s", d->name().c_str());
        }
        addr = (mem64 + bar.size - 1) & ~(bar.size - 1);
        mem64 = addr + bar.size;
      } else {
        mem = addr + bar.size;
      }
    }
    uint32_t off = kPciBar0 + 4 * r.bar;
    uint32_t low = d->config_read(off, 4);
    d->config_write(
        off, static_cast<uint32_t>(addr) | (low & (bar.type == PciBarType::kIo ? 0x3 : 0xf)), 4);
    if (bar.type == PciBarType::kMem64)
      d->config_write(off + 4, static_cast<uint32_t>(addr >> 32), 4);
  }
  for (PciDevice* d : devices()) {
    uint8_t pin = static_cast<uint8_t>(d->config_read(kPciInterruptPin, 1));
    if (pin != 0) {
      d->config_write(kPciInterruptLine, pci_intx_gsi(d->slot(), pin - 1), 1);
    }
    uint16_t cmd = static_cast<uint16_t>(d->config_read(kPciCommand, 2));
    d->config_write(kPciCommand, cmd | kPciCommandIo | kPciCommandMemory | kPciCommandMaster, 2);
    // What firmware programmed is what a reset returns to (the guest has no BIOS to redo it).
    std::lock_guard<std::mutex> lock(d->config_mutex_);
    d->reset_config_ = d->config_;
  }
  return ok_status();
}

void PciHostConf1::read(uint64_t offset, std::span<uint8_t> data) {
  if (offset == 1 && data.size() == 1 && port_cf9_ != nullptr) {
    port_cf9_->read(0, data);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (offset == 0 && data.size() == 4) {
    store_le32(data.data(), address_);
    return;
  }
  if (offset < 4 || !(address_ & 0x80000000u)) {
    memset(data.data(), 0xff, data.size());
    return;
  }
  uint8_t bus = static_cast<uint8_t>(address_ >> 16);
  uint8_t devfn = static_cast<uint8_t>(address_ >> 8);
  uint32_t reg = (address_ & 0xfc) + static_cast<uint32_t>(offset - 4);
  uint32_t v = bus_->config_read(bus, devfn, reg, static_cast<int>(data.size()));
  store_le_n(data, v);
}

void PciHostConf1::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset == 1 && data.size() == 1 && port_cf9_ != nullptr) {
    port_cf9_->write(0, data);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (offset == 0 && data.size() == 4) {
    address_ = load_le32(data.data()) & 0x80fffffc;
    return;
  }
  if (offset < 4 || !(address_ & 0x80000000u))
    return;
  uint8_t bus = static_cast<uint8_t>(address_ >> 16);
  uint8_t devfn = static_cast<uint8_t>(address_ >> 8);
  uint32_t reg = (address_ & 0xfc) + static_cast<uint32_t>(offset - 4);
  bus_->config_write(bus, devfn, reg, static_cast<uint32_t>(load_le_n(data)),
                     static_cast<int>(data.size()));
}

void PciHostConf1::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  address_ = 0;
}

}  // namespace colo
