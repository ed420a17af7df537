// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/virtio/virtio-net.h
//
// virtio-net (virtio 1.2, 5.1) on a netdev (net/net.h): one receive and one transmit queue,
// VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS, no offloads (COLO compares plain packets), no
// control queue (always promiscuous, as QEMU without ctrl_rx).
//
//   -device virtio-net-pci,netdev=ID[,mac=52:54:00:12:34:56][,id=...][,status=on|off]
//           [,rx_queue_size=N][,tx_queue_size=N][,addr=..][,vectors=..][,ioeventfd=on|off]
//
// Every buffer carries the 12-byte virtio_net_hdr of VERSION_1 devices; a received frame
// goes into one receive chain (header, then the frame), which must be large enough
// (without VIRTIO_NET_F_MRG_RXBUF a driver posts 1526-byte or larger buffers), or it is
// dropped and counted. Frames written into guest memory mark their pages dirty.
//
// Threads: the netdev's I/O runs on the device's worker thread ("virtio-net0"), so the
// NetPeer calls come there and touch the queues without a lock.
//
// Flow control, both ways:
//   receive   can_receive() is false while the receive queue is empty; the backend stops
//             reading (frames wait in the tap's or the socket's kernel queue). The device then
//             asks the driver for a notification; the kick on the receive queue (or DRIVER_OK,
//             or a resume) calls Netdev::peer_ready() and the backend reads again.
//   transmit  while Netdev::can_transmit() is false (the tap or the socket is full) no more
//             chains are popped; NetPeer::transmit_ready() resumes the transmit queue.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/qdev.h"
#include "hw/virtio/virtio.h"
#include "net/net.h"

namespace colo {

// Feature bits (virtio 1.2, 5.1.3).
constexpr int kVirtioNetFCsum = 0;
constexpr int kVirtioNetFGuestCsum = 1;
constexpr int kVirtioNetFMac = 5;
constexpr int kVirtioNetFMrgRxbuf = 15;
constexpr int kVirtioNetFStatus = 16;
constexpr int kVirtioNetFCtrlVq = 17;

// Configuration: mac[6], status (le16), max_virtqueue_pairs (le16).
constexpr uint32_t kVirtioNetConfigSize = 10;
constexpr uint16_t kVirtioNetSLinkUp = 1;
constexpr uint16_t kVirtioNetSAnnounce = 2;
// struct virtio_net_hdr of a VERSION_1 device (num_buffers included).
constexpr uint32_t kVirtioNetHdrSize = 12;

struct VirtioNetOptions {
  std::string netdev;  // the netdev= value, for queries (empty: no backend)
  MacAddr mac;
  bool status = true;  // VIRTIO_NET_F_STATUS
  uint16_t rx_queue_size = 256;
  uint16_t tx_queue_size = 256;
};

// Counters of the device (the netdev counts what passed its filters).
struct VirtioNetStats {
  uint64_t rx_frames = 0;   // written into receive buffers
  uint64_t rx_dropped = 0;  // no buffer, buffer too small, link down, not running
  uint64_t tx_frames = 0;   // handed to the netdev
  uint64_t tx_dropped = 0;  // too long, no netdev, link down
  uint64_t tx_runs = 0;     // transmit queue runs (kicks and resumptions)
};

// The migratable device state (the core and the transport save the rest).
struct VirtioNetState {
  std::array<uint8_t, 6> mac{};
  uint16_t status = 0;  // kVirtioNetSLinkUp
};

class VirtioNet : public VirtioDevice, public NetPeer, public NetNic {
 public:
  // `netdev` may be null (a NIC without backend drops what the guest sends). `registry`
  // (may be null) lists the NIC for `info network`.
  VirtioNet(GuestMemory* mem, Netdev* netdev, NetdevRegistry* registry, VirtioNetOptions options);
  ~VirtioNet() override;

  const VirtioNetOptions& options() const { return options_; }
  VirtioNetStats stats() const;
  // The -device that wraps this one (its id names the NIC). Set once, at creation.
  void set_owner(const Device* owner) { owner_ = owner; }

  // VirtioDevice.
  uint64_t host_features() const override;
  size_t config_size() const override { return kVirtioNetConfigSize; }
  void get_config(std::span<uint8_t> config) override;
  void handle_queue(VirtQueue& vq) override;
  void start() override;
  void reset() override;
  void on_resume() override;
  Status realize() override;
  void unrealize() override;
  const VmStateDescription* device_vmsd() const override;
  void save_device_state(ByteWriter& out) const override;
  Status load_device_state(std::span<const uint8_t> data, int version_id) override;
  std::vector<std::pair<std::string, std::string>> properties() const override;

  // NetPeer (worker thread).
  bool can_receive() override;
  bool receive(std::span<const uint8_t> frame) override;
  void receive_flush() override;
  void transmit_ready() override;

  // NetNic (any thread).
  std::string_view nic_model() const override { return "virtio-net-pci"; }
  std::string nic_id() const override;
  MacAddr nic_mac() const override;
  Netdev* nic_netdev() const override { return netdev_; }
  NicRxFilter nic_rx_filter() const override;
  bool nic_link_up() const override;
  // QMP set_link: the status field changes and the driver gets a configuration interrupt.
  void nic_set_link(bool up) override;

 private:
  static constexpr int kRxQueue = 0;
  static constexpr int kTxQueue = 1;
  void handle_rx_kick();
  void handle_tx(VirtQueue& vq);

  Netdev* const netdev_;
  NetdevRegistry* const registry_;
  VirtioNetOptions options_;
  const Device* owner_ = nullptr;

  // Guards state_ (read by get_config() and queries from any thread).
  mutable std::mutex mutex_;
  VirtioNetState state_;

  // Worker thread only.
  std::vector<uint8_t> tx_buf_;
  uint32_t rx_pushed_ = 0;  // receive chains pushed since the last notify
  bool attached_ = false;   // the netdev's I/O runs on our worker

  struct Counters {
    std::atomic<uint64_t> rx_frames{0}, rx_dropped{0}, tx_frames{0}, tx_dropped{0};
    std::atomic<uint64_t> tx_runs{0};
  } counters_;
};

// Registers virtio-net-pci (called from device_register_builtin_types()).
void virtio_net_register_types();

// The virtio-net of `dev` if it is a virtio-net-pci, else nullptr.
VirtioNet* virtio_net_of(Device& dev);

}  // namespace colo
