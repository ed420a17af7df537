// SPDX-License-Identifier: GPL-2.0-or-later
//
// QMP query-pci (QEMU's hw/pci/pci.c qmp_query_pci()): the PC machine's one bus, each device
// as its configuration space describes it.
#include "hw/i386/pc.h"
#include "hw/pci/pci.h"
#include "hw/qdev.h"
#include "monitor/monitor.h"
#include "qapi/qapi-commands.h"
#include "system/vm.h"

namespace colo {

namespace {

// QEMU's pci_class_descriptions, for the classes colovm's devices and common guests use.
const char* pci_class_desc(uint16_t cls) {
  static const struct {
    uint16_t cls;
    const char* desc;
  } kTable[] = {
      {0x0001, "VGA controller"},
      {0x0100, "SCSI controller"},
      {0x0101, "IDE controller"},
      {0x0106, "SATA controller"},
      {0x0180, "Storage controller"},
      {0x0200, "Ethernet controller"},
      {0x0280, "Network controller"},
      {0x0300, "VGA controller"},
      {0x0380, "Display controller"},
      {0x0401, "Audio controller"},
      {0x0600, "Host bridge"},
      {0x0601, "ISA bridge"},
      {0x0604, "PCI bridge"},
      {0x0680, "Bridge"},
      {0x0780, "Communication controller"},
      {0x0c03, "USB controller"},
  };
  for (const auto& e : kTable) {
    if (e.cls == cls)
      return e.desc;
  }
  return nullptr;
}

qapi::PciDeviceInfo pci_device_info(PciDevice& dev, int bus_num) {
  qapi::PciDeviceInfo info;
  info.bus = bus_num;
  info.slot = dev.slot();
  info.function = dev.function();
  uint16_t cls = static_cast<uint16_t>(dev.config_read(kPciClassProg + 1, 2));
  info.class_info.class_ = cls;
  if (const char* desc = pci_class_desc(cls))
    info.class_info.desc = desc;
  info.id.vendor = dev.config_read(kPciVendorId, 2);
  info.id.device = dev.config_read(kPciDeviceId, 2);
  // Only bridges (header type 1) lack the subsystem IDs; colovm has none.
  uint8_t header = static_cast<uint8_t>(dev.config_read(kPciHeaderType, 1)) & 0x7f;
  if (header == 0) {
    info.id.subsystem = dev.config_read(kPciSubsystemId, 2);
    info.id.subsystem_vendor = dev.config_read(kPciSubsystemVendorId, 2);
  }
  info.irq_pin = dev.config_read(kPciInterruptPin, 1);
  if (info.irq_pin != 0)
    info.irq = dev.config_read(kPciInterruptLine, 1);
  if (auto* qdev = dynamic_cast<Device*>(&dev))
    info.qdev_id = qdev->id();
  for (int i = 0; i < kPciNumBars; i++) {
    uint64_t size = dev.bar_size(i);
    if (size == 0)
      continue;
    qapi::PciMemoryRegion r;
    r.bar = i;
    r.address = static_cast<int64_t>(dev.bar_address(i));
    r.size = static_cast<int64_t>(size);
    if (dev.bar_type(i) == PciBarType::kIo) {
      r.type = "io";
    } else {
      r.type = "memory";
      r.prefetch = dev.bar_prefetchable(i);
      r.mem_type_64 = dev.bar_type(i) == PciBarType::kMem64;
    }
    info.regions.push_back(std::move(r));
    if (dev.bar_type(i) == PciBarType::kMem64)
      i++;  // the upper half of a 64-bit BAR is not a BAR of its own
  }
  return info;
}

}  // namespace

Result<std::vector<qapi::PciInfo>> qmp_query_pci(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  qapi::PciInfo bus;
  bus.bus = 0;
  for (PciDevice* dev : vm->machine().pci().devices())
    bus.devices.push_back(pci_device_info(*dev, 0));
  std::vector<qapi::PciInfo> out;
  out.push_back(std::move(bus));
  return out;
}

}  // namespace colo
