// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/virtio/virtio-net.h"

#include <algorithm>
#include <cstring>

#include "hw/virtio/virtio-pci.h"
#include "migration/vmstate.h"
#include "system/guest-memory.h"
#include "util/bytes.h"
#include "util/keyval.h"
#include "util/log.h"

namespace colo {

namespace {

constexpr int kTxPerRound = 256;         // then yield the worker (pause latency, receive turns)
constexpr uint64_t kEthHeaderSize = 14;  // shorter "frames" are dropped (a tap refuses them)

constexpr VmStateField kVirtioNetFields[] = {
    VMSTATE_FIELD(VirtioNetState, mac),
    VMSTATE_FIELD(VirtioNetState, status),
};

Status virtio_net_post_load(const void* opaque) {
  const auto* s = static_cast<const VirtioNetState*>(opaque);
  if (s->status & ~(kVirtioNetSLinkUp | kVirtioNetSAnnounce)) {
    return make_error("virtio-net status 0x%x has unknown bits", s->status);
  }
  if (s->mac[0] & 1)
    return make_error("virtio-net MAC is a multicast address");
  return ok_status();
}

const VmStateDescription kVirtioNetVmState = {
    .name = "virtio-net",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = kVirtioNetFields,
    .post_load = virtio_net_post_load,
};

}  // namespace

VirtioNet::VirtioNet(GuestMemory* mem, Netdev* netdev, NetdevRegistry* registry,
                     VirtioNetOptions options)
    : VirtioDevice(kVirtioIdNet, "virtio-net", mem),
      netdev_(netdev),
      registry_(registry),
      options_(std::move(options)) {
  add_queue(options_.rx_queue_size);
  add_queue(options_.tx_queue_size);
  state_.mac = options_.mac.a;
  state_.status = kVirtioNetSLinkUp;
  if (registry_ != nullptr)
    registry_->register_nic(this, "");
}

VirtioNet::~VirtioNet() {
  if (registry_ != nullptr)
    registry_->unregister_nic(this);
  if (debug_enabled()) {
    VirtioNetStats s = stats();
    debug_report(
        "virtio-net %s: rx %llu frames, %llu dropped; tx %llu frames, %llu dropped, "
        "%llu runs",
        nic_mac().to_string().c_str(), static_cast<unsigned long long>(s.rx_frames),
        static_cast<unsigned long long>(s.rx_dropped), static_cast<unsigned long long>(s.tx_frames),
        static_cast<unsigned long long>(s.tx_dropped), static_cast<unsigned long long>(s.tx_runs));
  }
}

uint64_t VirtioNet::host_features() const {
  uint64_t f = virtio_bit(kVirtioNetFMac);
  if (options_.status)
    f |= virtio_bit(kVirtioNetFStatus);
  return f;
}

void VirtioNet::get_config(std::span<uint8_t> c) {
  std::fill(c.begin(), c.end(), 0);
  std::lock_guard<std::mutex> lock(mutex_);
  memcpy(&c[0], state_.mac.data(), 6);
  // Without VIRTIO_NET_F_STATUS the driver assumes the link is up and ignores the field.
  store_le16(&c[6], options_.status ? state_.status : kVirtioNetSLinkUp);
  store_le16(&c[8], 1);  // max_virtqueue_pairs (meaningful only with VIRTIO_NET_F_MQ)
}

VirtioNetStats VirtioNet::stats() const {
  VirtioNetStats s;
  s.rx_frames = counters_.rx_frames.load();
  s.rx_dropped = counters_.rx_dropped.load();
  s.tx_frames = counters_.tx_frames.load();
  s.tx_dropped = counters_.tx_dropped.load();
  s.tx_runs = counters_.tx_runs.load();
  return s;
}

MacAddr VirtioNet::nic_mac() const {
  std::lock_guard<std::mutex> lock(mutex_);
  MacAddr m;
  m.a = state_.mac;
  return m;
}

NicRxFilter VirtioNet::nic_rx_filter() const {
  // No control queue: the device passes everything (QEMU's defaults without ctrl_rx).
  NicRxFilter f;
  f.promiscuous = true;
  f.broadcast_allowed = true;
  return f;
}

bool VirtioNet::nic_link_up() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_.status & kVirtioNetSLinkUp;
}

void VirtioNet::nic_set_link(bool up) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    uint16_t old = state_.status;
    state_.status = up ? (old | kVirtioNetSLinkUp) : (old & ~kVirtioNetSLinkUp);
    if (state_.status == old)
      return;
  }
  if (options_.status)
    notify_config_changed();
  // Frames that waited for the link may flow now.
  if (up && netdev_ != nullptr)
    netdev_->run_in_net_thread([this] { netdev_->peer_ready(); });
}

std::string VirtioNet::nic_id() const {
  return owner_ != nullptr ? owner_->id() : std::string();
}

Status VirtioNet::realize() {
  if (netdev_ == nullptr)
    return ok_status();
  // The backend's I/O moves to our worker: receive() and the queues meet on one thread.
  COLO_TRY(netdev_->attach_peer(this, iothread().context()).prepend("netdev " + options_.netdev));
  attached_ = true;
  return ok_status();
}

void VirtioNet::unrealize() {
  if (attached_)
    netdev_->detach_peer();
  attached_ = false;
}

void VirtioNet::start() {
  // DRIVER_OK: the backend may read again (the receive queue says whether there is room).
  if (netdev_ != nullptr)
    netdev_->peer_ready();
}

void VirtioNet::reset() {
  rx_pushed_ = 0;
  tx_buf_.clear();
  tx_buf_.shrink_to_fit();
}

void VirtioNet::on_resume() {
  if (netdev_ != nullptr)
    netdev_->peer_ready();
}

void VirtioNet::handle_queue(VirtQueue& vq) {
  if (vq.index() == kRxQueue) {
    handle_rx_kick();
  } else {
    handle_tx(vq);
  }
}

// The driver posted receive buffers (it kicks only when we asked, see can_receive()).
void VirtioNet::handle_rx_kick() {
  if (netdev_ != nullptr)
    netdev_->peer_ready();
}

bool VirtioNet::can_receive() {
  if (!can_process())
    return false;
  VirtQueue& rx = queue(kRxQueue);
  if (!rx.ready())
    return false;
  if (rx.has_available()) {
    rx.set_notification(false);
    return true;
  }
  // Empty: ask for a kick when the driver adds buffers, then look again (it may have added
  // some between the check and the request).
  rx.set_notification(true);
  return rx.has_available();
}

bool VirtioNet::receive(std::span<const uint8_t> frame) {
  if (!can_process() || !nic_link_up()) {
    counters_.rx_dropped++;
    return false;
  }
  VirtQueue& rx = queue(kRxQueue);
  if (!rx.ready()) {
    counters_.rx_dropped++;
    return false;
  }
  std::optional<VirtqElement> e = rx.pop();
  if (!e) {
    counters_.rx_dropped++;
    return false;
  }
  if (e->in_bytes() < kVirtioNetHdrSize + frame.size()) {
    // Without mergeable buffers a frame must fit one chain. The chain stays for a smaller
    // frame, as in QEMU; this one is lost.
    rx.unpop();
    counters_.rx_dropped++;
    debug_report("virtio-net: %zu-byte frame does not fit a %llu-byte receive buffer", frame.size(),
                 static_cast<unsigned long long>(e->in_bytes()));
    return false;
  }
  uint8_t hdr[kVirtioNetHdrSize] = {};
  store_le16(&hdr[10], 1);  // num_buffers
  e->write(0, hdr);
  e->write(kVirtioNetHdrSize, frame);  // marks the pages dirty
  rx.push(*e, static_cast<uint32_t>(kVirtioNetHdrSize + frame.size()));
  rx_pushed_++;
  counters_.rx_frames++;
  return true;
}

void VirtioNet::receive_flush() {
  if (rx_pushed_ == 0 || !can_process())
    return;
  rx_pushed_ = 0;
  VirtQueue& rx = queue(kRxQueue);
  if (rx.ready())
    notify(rx);  // one interrupt per burst, if the driver wants one
}

void VirtioNet::transmit_ready() {
  schedule_queue(kTxQueue);
}

void VirtioNet::handle_tx(VirtQueue& vq) {
  counters_.tx_runs++;
  int done = 0;
  do {
    vq.set_notification(false);
    while (done < kTxPerRound) {
      if (netdev_ != nullptr && !netdev_->can_transmit()) {
        // The backend is full: transmit_ready() brings us back. Kicks stay off meanwhile.
        if (done > 0)
          notify(vq);
        return;
      }
      std::optional<VirtqElement> e = vq.pop();
      if (!e)
        break;
      if (e->out_bytes() < kVirtioNetHdrSize) {
        set_broken("virtio-net transmit chain shorter than its header");
        return;
      }
      uint64_t len = e->out_bytes() - kVirtioNetHdrSize;
      if (len > kNetMaxFrameSize || len < kEthHeaderSize) {
        counters_.tx_dropped++;
      } else if (netdev_ == nullptr || !nic_link_up()) {
        counters_.tx_dropped++;
      } else {
        // Copied out once: the guest may change its buffers, the filters must see one frame.
        tx_buf_.resize(len);
        e->read(kVirtioNetHdrSize, tx_buf_);
        netdev_->receive_from_peer(tx_buf_);
        counters_.tx_frames++;
      }
      vq.push(*e, 0);
      done++;
    }
    vq.set_notification(true);
    if (done >= kTxPerRound) {
      notify(vq);
      schedule_queue(vq.index());
      return;
    }
  } while (vq.has_available());
  if (done > 0)
    notify(vq);
}

// ---- State ----

const VmStateDescription* VirtioNet::device_vmsd() const {
  return &kVirtioNetVmState;
}

void VirtioNet::save_device_state(ByteWriter& out) const {
  VirtioNetState s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s = state_;
  }
  vmstate_save(kVirtioNetVmState, &s, out);
}

Status VirtioNet::load_device_state(std::span<const uint8_t> data, int version_id) {
  VirtioNetState base;
  base.mac = options_.mac.a;
  base.status = kVirtioNetSLinkUp;
  COLO_ASSIGN_OR_RETURN(VirtioNetState loaded,
                        vmstate_load_into(kVirtioNetVmState, base, data, version_id));
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = loaded;
  return ok_status();
}

std::vector<std::pair<std::string, std::string>> VirtioNet::properties() const {
  return {{"netdev", options_.netdev},
          {"mac", nic_mac().to_string()},
          {"status", options_.status ? "on" : "off"},
          {"rx_queue_size", std::to_string(options_.rx_queue_size)},
          {"tx_queue_size", std::to_string(options_.tx_queue_size)}};
}

// ---- -device virtio-net-pci ----

namespace {

// QEMU properties for features colovm does not offer: accepted when off.
constexpr const char* kOffOnlyProperties[] = {
    "csum",
    "guest_csum",
    "gso",
    "guest_tso4",
    "guest_tso6",
    "guest_ecn",
    "guest_ufo",
    "guest_uso4",
    "guest_uso6",
    "host_tso4",
    "host_tso6",
    "host_ecn",
    "host_ufo",
    "host_uso",
    "mrg_rxbuf",
    "ctrl_vq",
    "ctrl_rx",
    "ctrl_vlan",
    "ctrl_rx_extra",
    "ctrl_mac_addr",
    "ctrl_guest_offloads",
    "mq",
    "guest_announce",
    "rss",
    "hash",
};

Result<uint16_t> take_queue_size(OptionReader& opts, const char* name) {
  COLO_ASSIGN_OR_RETURN(uint64_t v, opts.take_uint(name, 256));
  if (v < 256 || v > kVirtqMaxSize || (v & (v - 1)) != 0) {
    return make_error("Invalid %s (= %llu), must be a power of 2 between 256 and %u", name,
                      static_cast<unsigned long long>(v), kVirtqMaxSize);
  }
  return static_cast<uint16_t>(v);
}

Result<std::unique_ptr<Device>> create_virtio_net_pci(OptionReader& opts, DeviceContext& ctx) {
  VirtioNetOptions o;
  Netdev* netdev = nullptr;
  if (auto nd = opts.take("netdev")) {
    if (ctx.netdevs != nullptr)
      netdev = ctx.netdevs->find(*nd);
    if (netdev == nullptr) {
      return make_error("Property 'virtio-net-pci.netdev' can't find value '%s'", nd->c_str());
    }
    if (netdev->has_peer()) {
      return make_error("Property 'virtio-net-pci.netdev' can't take value '%s', it's in use",
                        nd->c_str());
    }
    o.netdev = *nd;
  }
  std::optional<MacAddr> mac;
  if (auto m = opts.take("mac")) {
    Result<MacAddr> parsed = MacAddr::parse(*m);
    if (!parsed.ok() || (parsed->a[0] & 1) != 0) {
      return make_error("Property 'virtio-net-pci.mac' doesn't take value '%s'", m->c_str())
          .set_hint("a unicast address such as 52:54:00:12:34:56");
    }
    mac = *parsed;
  }
  COLO_ASSIGN_OR_RETURN(o.status, opts.take_bool("status", true));
  COLO_ASSIGN_OR_RETURN(o.rx_queue_size, take_queue_size(opts, "rx_queue_size"));
  COLO_ASSIGN_OR_RETURN(o.tx_queue_size, take_queue_size(opts, "tx_queue_size"));
  for (const char* name : kOffOnlyProperties) {
    COLO_ASSIGN_OR_RETURN(bool on, opts.take_bool(name, false));
    if (on) {
      return make_error("Property 'virtio-net-pci.%s': colovm's virtio-net has no such feature",
                        name)
          .set_hint(string_printf("use %s=off (COLO compares packets without offloads)", name));
    }
  }
  // There are no option ROMs (no firmware); QEMU command lines often say romfile=.
  opts.take("romfile");
  o.mac = mac_default_if_unset(mac);

  auto vdev = std::make_unique<VirtioNet>(ctx.memory, netdev, ctx.netdevs, std::move(o));
  VirtioNet* net = vdev.get();
  COLO_ASSIGN_OR_RETURN(std::unique_ptr<Device> dev,
                        virtio_pci_create("virtio-net-pci", std::move(vdev), opts, ctx));
  net->set_owner(dev.get());
  return dev;
}

}  // namespace

void virtio_net_register_types() {
  device_register_type(
      {"virtio-net-pci", "virtio network device (PCI, modern)", create_virtio_net_pci});
}

VirtioNet* virtio_net_of(Device& dev) {
  auto* pci = dynamic_cast<VirtioPciDevice*>(&dev);
  if (pci == nullptr)
    return nullptr;
  return dynamic_cast<VirtioNet*>(&pci->vdev());
}

}  // namespace colo
