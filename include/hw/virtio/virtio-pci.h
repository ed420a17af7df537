// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/virtio/virtio-pci.h
//
// The modern virtio PCI transport (virtio 1.2, 4.1), modern only (no legacy I/O BAR), laid out
// as QEMU lays out a virtio-*-pci device:
//
//   PCI IDs     vendor 0x1af4, device 0x1040 + virtio ID, revision 1, subsystem 0x1af4:0x1100
//   BAR1        32-bit memory, 4 KiB: MSI-X table at 0x000, PBA at 0x800
//   BAR4        64-bit prefetchable memory, 16 KiB:
//                 0x0000 common configuration   (cap type 1, at config offset 0x40)
//                 0x1000 ISR status             (cap type 3, 0x50; a read clears it and INTx)
//                 0x2000 device configuration   (cap type 4, 0x60)
//                 0x3000 notifications          (cap type 2, 0x70; notify_off_multiplier 4:
//                                                queue n at 0x3000 + 4n)
//   config 0x84 the PCI configuration access capability (cap type 5)
//   config 0x98 MSI-X: vectors= entries (default: one per queue plus one for configuration)
//
// Notifications: each enabled queue's notify address is registered as an ioeventfd
// (DeviceContext::ioeventfd) that signals the queue's eventfd inside KVM, so a kick never exits
// to user space. Writes that do reach the BAR (no ioeventfd, ioeventfd=off, other sizes) signal
// the same eventfd, so the device sees one path. When the guest moves BAR4 or turns memory
// decoding off, the registrations follow.
//
// Interrupts: MSI-X when the driver enabled it (a queue or config vector of 0xffff means none),
// otherwise the ISR bits and INTx pin A.
//
// -device properties common to every virtio-*-pci type (virtio_pci_take_options):
//   addr=SLOT[.FN]  vectors=N  ioeventfd=on|off  event_idx=on|off  indirect_desc=on|off
//   disable-legacy=on (the only choice)  disable-modern=off (the only choice)
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hw/ioeventfd.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/qdev.h"
#include "hw/virtio/virtio.h"

namespace colo {

// Capability types (virtio_pci_cap.cfg_type).
constexpr uint8_t kVirtioPciCapCommonCfg = 1;
constexpr uint8_t kVirtioPciCapNotifyCfg = 2;
constexpr uint8_t kVirtioPciCapIsrCfg = 3;
constexpr uint8_t kVirtioPciCapDeviceCfg = 4;
constexpr uint8_t kVirtioPciCapPciCfg = 5;

// BARs and regions.
constexpr int kVirtioPciMsixBar = 1;
constexpr int kVirtioPciModernBar = 4;
constexpr uint32_t kVirtioPciCommonOffset = 0x0000;
constexpr uint32_t kVirtioPciIsrOffset = 0x1000;
constexpr uint32_t kVirtioPciDeviceOffset = 0x2000;
constexpr uint32_t kVirtioPciNotifyOffset = 0x3000;
constexpr uint32_t kVirtioPciRegionSize = 0x1000;
constexpr uint32_t kVirtioPciModernBarSize = 0x4000;
constexpr uint32_t kVirtioPciNotifyMultiplier = 4;
constexpr uint32_t kVirtioPciMsixBarSize = 0x1000;
constexpr uint32_t kVirtioPciMsixPbaOffset = 0x800;

// struct virtio_pci_common_cfg.
constexpr uint32_t kVirtioPciCommonDfselect = 0x00;
constexpr uint32_t kVirtioPciCommonDf = 0x04;
constexpr uint32_t kVirtioPciCommonGfselect = 0x08;
constexpr uint32_t kVirtioPciCommonGf = 0x0c;
constexpr uint32_t kVirtioPciCommonMsix = 0x10;
constexpr uint32_t kVirtioPciCommonNumq = 0x12;
constexpr uint32_t kVirtioPciCommonStatus = 0x14;
constexpr uint32_t kVirtioPciCommonCfgGeneration = 0x15;
constexpr uint32_t kVirtioPciCommonQSelect = 0x16;
constexpr uint32_t kVirtioPciCommonQSize = 0x18;
constexpr uint32_t kVirtioPciCommonQMsix = 0x1a;
constexpr uint32_t kVirtioPciCommonQEnable = 0x1c;
constexpr uint32_t kVirtioPciCommonQNoff = 0x1e;
constexpr uint32_t kVirtioPciCommonQDescLo = 0x20;
constexpr uint32_t kVirtioPciCommonQDescHi = 0x24;
constexpr uint32_t kVirtioPciCommonQAvailLo = 0x28;
constexpr uint32_t kVirtioPciCommonQAvailHi = 0x2c;
constexpr uint32_t kVirtioPciCommonQUsedLo = 0x30;
constexpr uint32_t kVirtioPciCommonQUsedHi = 0x34;
constexpr uint32_t kVirtioPciCommonSize = 0x38;

// Transport properties of -device virtio-*-pci.
struct VirtioPciOptions {
  int slot = -1;  // -1: first free slot
  int function = 0;
  uint16_t vectors = 0;  // 0: number of queues + 1
  bool ioeventfd = true;
  bool event_idx = true;
  bool indirect_desc = true;
};

// Takes the transport properties out of `opts`.
Result<VirtioPciOptions> virtio_pci_take_options(OptionReader& opts);

class VirtioPciDevice : public Device, public PciDevice, private VirtioTransport {
 public:
  // Builds the PCI function around `vdev`, plugs it into ctx.pci, starts the worker thread
  // ("<vdev name><n>", e.g. "virtio-blk0").
  static Result<std::unique_ptr<VirtioPciDevice>> create(std::string type_name,
                                                         std::unique_ptr<VirtioDevice> vdev,
                                                         const VirtioPciOptions& options,
                                                         DeviceContext& ctx);
  ~VirtioPciDevice() override;

  VirtioDevice& vdev() { return *vdev_; }
  Msix& msix() { return *msix_; }
  const VirtioPciOptions& options() const { return options_; }
  // Offsets of the capabilities in config space.
  uint8_t cap_offset(uint8_t cfg_type) const;
  // Whether queue `index`'s notify address is currently registered as an ioeventfd.
  bool ioeventfd_registered(int index);

  // Device.
  std::string_view type_name() const override { return type_name_; }
  void reset() override;  // also PciDevice::reset()
  void pause() override;
  void resume() override;
  const VmStateDescription* vmsd() const override;
  // The transport state (vmsd()) framed, then the device's own state with its version:
  //   be32 length, transport state, be32 device state version, device state (to the end).
  void save_state(ByteWriter& out) const override;
  Status load_state(std::span<const uint8_t> data, int version_id) override;
  std::vector<std::pair<std::string, std::string>> properties() const override;

  // PciDevice.
  uint32_t config_read(uint32_t offset, int size) override;
  void config_write(uint32_t offset, uint32_t value, int size) override;

 protected:
  void config_changed() override;

 private:
  class ModernBar : public BusDevice {
   public:
    explicit ModernBar(VirtioPciDevice* dev) : dev_(dev) {}
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    VirtioPciDevice* dev_;
  };

  VirtioPciDevice(std::string type_name, std::unique_ptr<VirtioDevice> vdev,
                  const VirtioPciOptions& options, DeviceContext& ctx, uint16_t pci_device_id);
  Status init(DeviceContext& ctx);
  void add_caps();

  // VirtioTransport.
  void interrupt(uint8_t isr_bit, uint16_t vector) override;

  // BAR4 regions.
  uint64_t common_read(uint32_t offset, int size);
  void common_write(uint32_t offset, uint64_t value, int size);
  uint8_t isr_read();
  void lower_intx();
  void notify_write(uint32_t offset, int size);

  // ioeventfd registrations follow queue enables, resets and BAR moves.
  void update_ioeventfds();
  void remove_ioeventfds();

  std::string type_name_;
  std::unique_ptr<VirtioDevice> vdev_;
  VirtioPciOptions options_;
  IoEventNotifier* ioeventfd_;
  std::unique_ptr<Msix> msix_;
  ModernBar modern_bar_{this};
  std::array<uint8_t, 6> caps_{};  // config offsets by cfg_type (index 1..5)

  // Makes the ISR and the INTx level change together (interrupt() vs a driver's ISR read).
  std::mutex intx_mutex_;

  // Transport registers.
  std::mutex mutex_;
  uint32_t dfselect_ = 0;
  uint32_t gfselect_ = 0;
  uint16_t queue_select_ = 0;

  // Queues with an ioeventfd at notify_base_ + 4 * n (notify_base_ 0: none registered).
  std::mutex ioeventfd_mutex_;
  uint64_t notify_base_ = 0;
  std::vector<bool> registered_;
  bool ioeventfd_failed_ = false;
};

// Creates a VirtioPciDevice from -device options (the transport properties in `opts`) and
// returns it as a Device: the tail of every virtio-*-pci factory.
Result<std::unique_ptr<Device>> virtio_pci_create(std::string type_name,
                                                  std::unique_ptr<VirtioDevice> vdev,
                                                  OptionReader& opts, DeviceContext& ctx);

// The PCI class of a virtio device type (network 0x020000, storage 0x010000, other 0xff0000).
uint32_t virtio_pci_class(uint16_t device_id);

}  // namespace colo
