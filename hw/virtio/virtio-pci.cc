// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/virtio/virtio-pci.h"

#include <cstring>
#include <map>

#include "migration/vmstate.h"
#include "util/keyval.h"
#include "util/log.h"

namespace colo {

namespace {

constexpr uint16_t kVirtioPciVendor = 0x1af4;
constexpr uint16_t kVirtioPciDeviceBase = 0x1040;
constexpr uint8_t kPciCapIdVendor = 0x09;
constexpr uint8_t kVirtioCapLen = 16;
constexpr uint8_t kVirtioNotifyCapLen = 20;
constexpr uint8_t kVirtioPciCfgCapLen = 20;
// struct virtio_pci_cap fields.
constexpr uint32_t kCapCfgType = 3, kCapBar = 4, kCapOffset = 8, kCapLength = 12,
                   kCapNotifyMult = 16, kCapPciCfgData = 16;

// The transport's migratable state: PCI config space, transport and virtio registers, the
// queues' ring positions, MSI-X. Arrays have room for kVirtioMaxQueues queues and
// kMsixMaxVectors vectors; entries past the device's own must be zero.
struct VirtioPciState {
  uint16_t device_id = 0;
  uint16_t num_queues = 0;
  uint16_t msix_vectors = 0;
  std::array<uint8_t, kPciConfigSpaceSize> pci_config{};
  uint32_t dfselect = 0;
  uint32_t gfselect = 0;
  uint16_t queue_select = 0;
  uint8_t status = 0;
  uint64_t driver_features = 0;
  uint8_t config_generation = 0;
  uint8_t isr = 0;
  uint16_t config_vector = kVirtioNoVector;
  bool broken = false;
  std::array<uint16_t, kVirtioMaxQueues> queue_size{};
  std::array<uint16_t, kVirtioMaxQueues> queue_vector{};
  std::array<bool, kVirtioMaxQueues> queue_enabled{};
  std::array<uint64_t, kVirtioMaxQueues> queue_desc{};
  std::array<uint64_t, kVirtioMaxQueues> queue_avail{};
  std::array<uint64_t, kVirtioMaxQueues> queue_used{};
  std::array<uint16_t, kVirtioMaxQueues> last_avail_idx{};
  std::array<uint16_t, kVirtioMaxQueues> used_idx{};
  std::array<uint16_t, kVirtioMaxQueues> signalled_used{};
  std::array<bool, kVirtioMaxQueues> signalled_used_valid{};
  std::array<uint32_t, kMsixMaxVectors * 4> msix_table{};
  std::array<uint64_t, kMsixMaxVectors / 64> msix_pba{};
};

constexpr VmStateField kVirtioPciFields[] = {
    VMSTATE_FIELD(VirtioPciState, device_id),
    VMSTATE_FIELD(VirtioPciState, num_queues),
    VMSTATE_FIELD(VirtioPciState, msix_vectors),
    VMSTATE_FIELD(VirtioPciState, pci_config),
    VMSTATE_FIELD(VirtioPciState, dfselect),
    VMSTATE_FIELD(VirtioPciState, gfselect),
    VMSTATE_FIELD(VirtioPciState, queue_select),
    VMSTATE_FIELD(VirtioPciState, status),
    VMSTATE_FIELD(VirtioPciState, driver_features),
    VMSTATE_FIELD(VirtioPciState, config_generation),
    VMSTATE_FIELD(VirtioPciState, isr),
    VMSTATE_FIELD(VirtioPciState, config_vector),
    VMSTATE_FIELD(VirtioPciState, broken),
    VMSTATE_FIELD(VirtioPciState, queue_size),
    VMSTATE_FIELD(VirtioPciState, queue_vector),
    VMSTATE_FIELD(VirtioPciState, queue_enabled),
    VMSTATE_FIELD(VirtioPciState, queue_desc),
    VMSTATE_FIELD(VirtioPciState, queue_avail),
    VMSTATE_FIELD(VirtioPciState, queue_used),
    VMSTATE_FIELD(VirtioPciState, last_avail_idx),
    VMSTATE_FIELD(VirtioPciState, used_idx),
    VMSTATE_FIELD(VirtioPciState, signalled_used),
    VMSTATE_FIELD(VirtioPciState, signalled_used_valid),
    VMSTATE_FIELD(VirtioPciState, msix_table),
    VMSTATE_FIELD(VirtioPciState, msix_pba),
};

Status virtio_pci_post_load(const void* opaque) {
  const auto* s = static_cast<const VirtioPciState*>(opaque);
  if (s->num_queues == 0 || s->num_queues > kVirtioMaxQueues) {
    return make_error("%u queues", s->num_queues);
  }
  if (s->msix_vectors == 0 || s->msix_vectors > kMsixMaxVectors) {
    return make_error("%u MSI-X vectors", s->msix_vectors);
  }
  for (size_t q = s->num_queues; q < kVirtioMaxQueues; q++) {
    if (s->queue_size[q] || s->queue_vector[q] || s->queue_enabled[q] || s->queue_desc[q] ||
        s->queue_avail[q] || s->queue_used[q] || s->last_avail_idx[q] || s->used_idx[q] ||
        s->signalled_used[q] || s->signalled_used_valid[q]) {
      return make_error("queue %zu is set but the device has %u queues", q, s->num_queues);
    }
  }
  auto vector_ok = [&](uint16_t v) { return v == kVirtioNoVector || v < s->msix_vectors; };
  if (!vector_ok(s->config_vector)) {
    return make_error("configuration vector %u of %u", s->config_vector, s->msix_vectors);
  }
  for (size_t q = 0; q < s->num_queues; q++) {
    if (!vector_ok(s->queue_vector[q])) {
      return make_error("queue %zu: vector %u of %u", q, s->queue_vector[q], s->msix_vectors);
    }
  }
  return ok_status();
}

const VmStateDescription kVirtioPciVmState = {
    .name = "virtio-pci",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = kVirtioPciFields,
    .post_load = virtio_pci_post_load,
};

// "virtio-blk" -> "virtio-blk0", "virtio-blk1", ... (thread names, at most 15 characters).
std::string next_thread_name(const std::string& base) {
  static std::mutex mu;
  static auto* counters = new std::map<std::string, int>();
  std::lock_guard<std::mutex> lock(mu);
  return base + std::to_string((*counters)[base]++);
}

Result<std::pair<int, int>> parse_pci_addr(const std::string& s) {
  // QEMU: "SLOT[.FN]" in hex, e.g. "04.0", "0x4", "1f.7".
  std::string slot_s = s.substr(0, s.find('.'));
  std::string fn_s = s.find('.') == std::string::npos ? "0" : s.substr(s.find('.') + 1);
  if (slot_s.rfind("0x", 0) == 0 || slot_s.rfind("0X", 0) == 0)
    slot_s = slot_s.substr(2);
  auto hex = [](const std::string& t, int max, int* out) {
    if (t.empty() || t.size() > 2)
      return false;
    char* end;
    long v = strtol(t.c_str(), &end, 16);
    if (*end != '\0' || v < 0 || v > max)
      return false;
    *out = static_cast<int>(v);
    return true;
  };
  int slot, fn;
  if (!hex(slot_s, 31, &slot) || !hex(fn_s, 7, &fn)) {
    return make_error("Property 'addr' doesn't take value '%s'", s.c_str())
        .set_hint("a PCI address is SLOT[.FUNCTION] in hex, e.g. 04.0");
  }
  return std::make_pair(slot, fn);
}

}  // namespace

uint32_t virtio_pci_class(uint16_t device_id) {
  switch (device_id) {
    case kVirtioIdNet:
      return 0x020000;  // network, Ethernet
    case kVirtioIdBlock:
      return 0x010000;  // storage, SCSI (as QEMU)
    default:
      return 0xff0000;
  }
}

Result<VirtioPciOptions> virtio_pci_take_options(OptionReader& opts) {
  VirtioPciOptions o;
  if (auto addr = opts.take("addr")) {
    COLO_ASSIGN_OR_RETURN(auto sf, parse_pci_addr(*addr));
    o.slot = sf.first;
    o.function = sf.second;
  }
  if (opts.has("vectors")) {
    COLO_ASSIGN_OR_RETURN(uint64_t vectors, opts.take_uint("vectors", 0));
    if (vectors == 0 || vectors > kMsixMaxVectors) {
      return make_error(
          "Property 'vectors': %llu vectors; 1 to %u are supported (MSI-X is "
          "always present)",
          static_cast<unsigned long long>(vectors), kMsixMaxVectors);
    }
    o.vectors = static_cast<uint16_t>(vectors);
  }
  COLO_ASSIGN_OR_RETURN(o.ioeventfd, opts.take_bool("ioeventfd", true));
  COLO_ASSIGN_OR_RETURN(o.event_idx, opts.take_bool("event_idx", true));
  COLO_ASSIGN_OR_RETURN(o.indirect_desc, opts.take_bool("indirect_desc", true));
  COLO_ASSIGN_OR_RETURN(bool disable_legacy, opts.take_bool("disable-legacy", true));
  COLO_ASSIGN_OR_RETURN(bool disable_modern, opts.take_bool("disable-modern", false));
  if (!disable_legacy) {
    return make_error("legacy virtio is not supported (only disable-legacy=on)");
  }
  if (disable_modern)
    return make_error("disable-modern=on is not supported: colovm is modern-only");
  return o;
}

VirtioPciDevice::VirtioPciDevice(std::string type_name, std::unique_ptr<VirtioDevice> vdev,
                                 const VirtioPciOptions& options, DeviceContext& ctx,
                                 uint16_t pci_device_id)
    : PciDevice(type_name, kVirtioPciVendor, pci_device_id, virtio_pci_class(vdev->device_id()), 1),
      type_name_(std::move(type_name)),
      vdev_(std::move(vdev)),
      options_(options),
      ioeventfd_(options.ioeventfd ? ctx.ioeventfd : nullptr) {}

Result<std::unique_ptr<VirtioPciDevice>> VirtioPciDevice::create(std::string type_name,
                                                                 std::unique_ptr<VirtioDevice> vdev,
                                                                 const VirtioPciOptions& options,
                                                                 DeviceContext& ctx) {
  if (ctx.pci == nullptr || ctx.memory == nullptr) {
    return make_error("%s needs a PCI bus and guest memory", type_name.c_str());
  }
  auto pci_id = static_cast<uint16_t>(kVirtioPciDeviceBase + vdev->device_id());
  std::unique_ptr<VirtioPciDevice> dev(
      new VirtioPciDevice(std::move(type_name), std::move(vdev), options, ctx, pci_id));
  COLO_TRY(dev->init(ctx));
  return dev;
}

Status VirtioPciDevice::init(DeviceContext& ctx) {
  int nq = vdev_->num_queues();
  uint32_t vectors = options_.vectors != 0 ? options_.vectors : static_cast<uint32_t>(nq + 1);
  if (vectors > kMsixMaxVectors) {
    return make_error("%u MSI-X vectors needed, at most %u are supported", vectors,
                      kMsixMaxVectors);
  }
  add_caps();
  msix_ = std::make_unique<Msix>(this, ctx.msi, static_cast<uint16_t>(vectors), kVirtioPciMsixBar,
                                 0, kVirtioPciMsixPbaOffset);
  register_bar(kVirtioPciMsixBar, kVirtioPciMsixBarSize, PciBarType::kMem32, false, msix_.get());
  register_bar(kVirtioPciModernBar, kVirtioPciModernBarSize, PciBarType::kMem64, true,
               &modern_bar_);
  set_interrupt_pin(1);
  registered_.assign(static_cast<size_t>(nq), false);
  vdev_->set_ring_features(options_.event_idx, options_.indirect_desc);
  COLO_TRY(vdev_->attach(this, next_thread_name(vdev_->name())));
  return ctx.pci->add_device(this, options_.slot, options_.function);
}

void VirtioPciDevice::add_caps() {
  uint8_t* cfg = config_bytes();
  auto add = [&](uint8_t type, uint8_t len, uint32_t offset, uint32_t length) {
    uint8_t cap = add_capability(kPciCapIdVendor, len);
    cfg[cap + 2] = len;
    cfg[cap + kCapCfgType] = type;
    cfg[cap + kCapBar] = kVirtioPciModernBar;
    store_le32(cfg + cap + kCapOffset, offset);
    store_le32(cfg + cap + kCapLength, length);
    caps_[type] = cap;
    return cap;
  };
  add(kVirtioPciCapCommonCfg, kVirtioCapLen, kVirtioPciCommonOffset, kVirtioPciRegionSize);
  add(kVirtioPciCapIsrCfg, kVirtioCapLen, kVirtioPciIsrOffset, kVirtioPciRegionSize);
  add(kVirtioPciCapDeviceCfg, kVirtioCapLen, kVirtioPciDeviceOffset, kVirtioPciRegionSize);
  uint8_t notify = add(kVirtioPciCapNotifyCfg, kVirtioNotifyCapLen, kVirtioPciNotifyOffset,
                       kVirtioPciRegionSize);
  store_le32(cfg + notify + kCapNotifyMult, kVirtioPciNotifyMultiplier);
  // VIRTIO_PCI_CAP_PCI_CFG: bar, offset, length and data are the driver's to write.
  uint8_t pcicfg = add(kVirtioPciCapPciCfg, kVirtioPciCfgCapLen, 0, 0);
  cfg[pcicfg + kCapBar] = 0;
  set_wmask(pcicfg + kCapBar, 0xff, 1);
  set_wmask(pcicfg + kCapOffset, 0xffffffff, 4);
  set_wmask(pcicfg + kCapLength, 0xffffffff, 4);
  set_wmask(pcicfg + kCapPciCfgData, 0xffffffff, 4);
  set_reset_config();
}

VirtioPciDevice::~VirtioPciDevice() {
  // The worker goes first: it may still raise interrupts or touch the queues.
  vdev_->detach();
  remove_ioeventfds();
}

uint8_t VirtioPciDevice::cap_offset(uint8_t cfg_type) const {
  return cfg_type < caps_.size() ? caps_[cfg_type] : 0;
}

bool VirtioPciDevice::ioeventfd_registered(int index) {
  std::lock_guard<std::mutex> lock(ioeventfd_mutex_);
  return index >= 0 && static_cast<size_t>(index) < registered_.size() && registered_[index];
}

// ---- interrupts ----------------------------------------------------------------------------

void VirtioPciDevice::interrupt(uint8_t isr_bit, uint16_t vector) {
  if (msix_->enabled()) {
    vdev_->raise_isr(isr_bit);
    if (vector != kVirtioNoVector)
      msix_->notify(vector);
    return;
  }
  // The ISR and the INTx level change together: otherwise a driver reading the ISR between
  // the two would clear the bits and lower the line just before it goes up, which leaves it
  // high with an empty ISR.
  std::lock_guard<std::mutex> lock(intx_mutex_);
  vdev_->raise_isr(isr_bit);
  set_irq(true);
}

uint8_t VirtioPciDevice::isr_read() {
  std::lock_guard<std::mutex> lock(intx_mutex_);
  uint8_t v = vdev_->take_isr();
  set_irq(false);
  return v;
}

void VirtioPciDevice::lower_intx() {
  std::lock_guard<std::mutex> lock(intx_mutex_);
  set_irq(false);
}

// ---- BAR4 ----------------------------------------------------------------------------------

void VirtioPciDevice::ModernBar::read(uint64_t offset, std::span<uint8_t> data) {
  memset(data.data(), 0, data.size());
  int size = static_cast<int>(data.size());
  if (offset < kVirtioPciIsrOffset) {
    store_le_n(data, dev_->common_read(static_cast<uint32_t>(offset), size));
  } else if (offset < kVirtioPciDeviceOffset) {
    if (offset == kVirtioPciIsrOffset)
      data[0] = dev_->isr_read();
  } else if (offset < kVirtioPciNotifyOffset) {
    uint64_t off = offset - kVirtioPciDeviceOffset;
    size_t cfg_size = dev_->vdev_->config_size();
    if (off + data.size() <= cfg_size) {
      std::vector<uint8_t> cfg(cfg_size);
      dev_->vdev_->get_config(cfg);
      memcpy(data.data(), cfg.data() + off, data.size());
    }
  }
}

void VirtioPciDevice::ModernBar::write(uint64_t offset, std::span<const uint8_t> data) {
  int size = static_cast<int>(data.size());
  if (offset < kVirtioPciIsrOffset) {
    dev_->common_write(static_cast<uint32_t>(offset), load_le_n(data), size);
  } else if (offset < kVirtioPciDeviceOffset) {
    // The ISR is read-only.
  } else if (offset < kVirtioPciNotifyOffset) {
    uint64_t off = offset - kVirtioPciDeviceOffset;
    if (off + data.size() <= dev_->vdev_->config_size()) {
      dev_->vdev_->set_config(static_cast<uint32_t>(off), data);
    }
  } else {
    dev_->notify_write(static_cast<uint32_t>(offset - kVirtioPciNotifyOffset), size);
  }
}

void VirtioPciDevice::notify_write(uint32_t offset, int size) {
  // The queue is chosen by the address, as in QEMU; the value is not needed.
  uint32_t q = offset / kVirtioPciNotifyMultiplier;
  if (offset % kVirtioPciNotifyMultiplier != 0 || q >= static_cast<uint32_t>(vdev_->num_queues())) {
    return;
  }
  vdev_->signal_queue_notifier(static_cast<int>(q));
}

uint64_t VirtioPciDevice::common_read(uint32_t offset, int size) {
  uint8_t c[kVirtioPciCommonSize] = {};
  uint16_t qsel;
  uint32_t dfsel, gfsel;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    qsel = queue_select_;
    dfsel = dfselect_;
    gfsel = gfselect_;
  }
  uint64_t offered = vdev_->offered_features();
  store_le32(c + kVirtioPciCommonDfselect, dfsel);
  store_le32(c + kVirtioPciCommonDf,
             dfsel < 2 ? static_cast<uint32_t>(offered >> (32 * dfsel)) : 0);
  store_le32(c + kVirtioPciCommonGfselect, gfsel);
  store_le32(c + kVirtioPciCommonGf, vdev_->driver_features_word(static_cast<int>(gfsel)));
  store_le16(c + kVirtioPciCommonMsix, vdev_->config_vector());
  store_le16(c + kVirtioPciCommonNumq, static_cast<uint16_t>(vdev_->num_queues()));
  c[kVirtioPciCommonStatus] = vdev_->status();
  c[kVirtioPciCommonCfgGeneration] = vdev_->config_generation();
  store_le16(c + kVirtioPciCommonQSelect, qsel);
  if (qsel < vdev_->num_queues()) {
    VirtioQueueRegs q = vdev_->queue_regs(qsel);
    store_le16(c + kVirtioPciCommonQSize, q.size);
    store_le16(c + kVirtioPciCommonQMsix, q.vector);
    store_le16(c + kVirtioPciCommonQEnable, q.enabled ? 1 : 0);
    store_le16(c + kVirtioPciCommonQNoff, qsel);
    store_le64(c + kVirtioPciCommonQDescLo, q.desc);
    store_le64(c + kVirtioPciCommonQAvailLo, q.avail);
    store_le64(c + kVirtioPciCommonQUsedLo, q.used);
  }
  if (offset + static_cast<uint32_t>(size) > kVirtioPciCommonSize)
    return 0;
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; i--)
    v = (v << 8) | c[offset + i];
  return v;
}

void VirtioPciDevice::common_write(uint32_t offset, uint64_t value, int size) {
  uint16_t qsel;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    qsel = queue_select_;
  }
  int q = qsel;
  auto vector = [&](uint64_t v) {
    auto vec = static_cast<uint16_t>(v);
    return vec < msix_->vectors() ? vec : kVirtioNoVector;  // read back as "no vector"
  };
  auto set_addr_half = [&](int which, bool high) {
    VirtioQueueRegs r = vdev_->queue_regs(q);
    uint64_t cur = which == 0 ? r.desc : which == 1 ? r.avail : r.used;
    uint64_t next = size == 8 ? value
                    : high    ? (cur & 0xffffffffULL) | (value << 32)
                              : (cur & ~0xffffffffULL) | (value & 0xffffffffULL);
    vdev_->set_queue_addr(q, which, next);
  };
  switch (offset) {
    case kVirtioPciCommonDfselect:
      if (size == 4) {
        std::lock_guard<std::mutex> lock(mutex_);
        dfselect_ = static_cast<uint32_t>(value);
      }
      return;
    case kVirtioPciCommonGfselect:
      if (size == 4) {
        std::lock_guard<std::mutex> lock(mutex_);
        gfselect_ = static_cast<uint32_t>(value);
      }
      return;
    case kVirtioPciCommonGf:
      if (size == 4) {
        uint32_t sel;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          sel = gfselect_;
        }
        vdev_->set_driver_features_word(static_cast<int>(sel), static_cast<uint32_t>(value));
      }
      return;
    case kVirtioPciCommonMsix:
      if (size == 2)
        vdev_->set_config_vector(vector(value));
      return;
    case kVirtioPciCommonStatus:
      if (size == 1) {
        vdev_->set_status(static_cast<uint8_t>(value));
        if (value == 0) {
          lower_intx();
          update_ioeventfds();
        }
      }
      return;
    case kVirtioPciCommonQSelect:
      if (size == 2) {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_select_ = static_cast<uint16_t>(value);
      }
      return;
    case kVirtioPciCommonQSize:
      if (size == 2)
        vdev_->set_queue_size(q, static_cast<uint16_t>(value));
      return;
    case kVirtioPciCommonQMsix:
      if (size == 2)
        vdev_->set_queue_vector(q, vector(value));
      return;
    case kVirtioPciCommonQEnable:
      // Writing 0 is not allowed to the driver (no VIRTIO_F_RING_RESET): ignored.
      if (size == 2 && value == 1 && vdev_->enable_queue(q))
        update_ioeventfds();
      return;
    case kVirtioPciCommonQDescLo:
    case kVirtioPciCommonQDescHi:
      if (size == 4 || (size == 8 && offset == kVirtioPciCommonQDescLo)) {
        set_addr_half(0, offset == kVirtioPciCommonQDescHi);
      }
      return;
    case kVirtioPciCommonQAvailLo:
    case kVirtioPciCommonQAvailHi:
      if (size == 4 || (size == 8 && offset == kVirtioPciCommonQAvailLo)) {
        set_addr_half(1, offset == kVirtioPciCommonQAvailHi);
      }
      return;
    case kVirtioPciCommonQUsedLo:
    case kVirtioPciCommonQUsedHi:
      if (size == 4 || (size == 8 && offset == kVirtioPciCommonQUsedLo)) {
        set_addr_half(2, offset == kVirtioPciCommonQUsedHi);
      }
      return;
    default:
      return;  // read-only fields and unaligned accesses
  }
}

// ---- config space --------------------------------------------------------------------------

uint32_t VirtioPciDevice::config_read(uint32_t offset, int size) {
  uint8_t cap = caps_[kVirtioPciCapPciCfg];
  uint32_t data = cap + kCapPciCfgData;
  if (cap != 0 && offset < data + 4 && offset + static_cast<uint32_t>(size) > data) {
    // VIRTIO_PCI_CAP_PCI_CFG: a read of pci_cfg_data reads the BAR window the driver chose.
    uint8_t bar = static_cast<uint8_t>(PciDevice::config_read(cap + kCapBar, 1));
    uint32_t off = PciDevice::config_read(cap + kCapOffset, 4);
    uint32_t len = PciDevice::config_read(cap + kCapLength, 4);
    if (bar == kVirtioPciModernBar && (len == 1 || len == 2 || len == 4) &&
        off <= kVirtioPciModernBarSize - len) {
      uint8_t buf[4] = {};
      modern_bar_.read(off, {buf, len});
      std::lock_guard<std::mutex> lock(config_mutex_);
      memcpy(config_bytes() + data, buf, len);
    }
  }
  return PciDevice::config_read(offset, size);
}

void VirtioPciDevice::config_write(uint32_t offset, uint32_t value, int size) {
  PciDevice::config_write(offset, value, size);
  msix_->config_written(offset, size);
  uint8_t cap = caps_[kVirtioPciCapPciCfg];
  uint32_t data = cap + kCapPciCfgData;
  if (cap != 0 && offset < data + 4 && offset + static_cast<uint32_t>(size) > data) {
    uint8_t bar = static_cast<uint8_t>(PciDevice::config_read(cap + kCapBar, 1));
    uint32_t off = PciDevice::config_read(cap + kCapOffset, 4);
    uint32_t len = PciDevice::config_read(cap + kCapLength, 4);
    if (bar == kVirtioPciModernBar && (len == 1 || len == 2 || len == 4) &&
        off <= kVirtioPciModernBarSize - len) {
      uint8_t buf[4];
      store_le32(buf, PciDevice::config_read(data, 4));
      modern_bar_.write(off, {buf, len});
    }
  }
}

void VirtioPciDevice::config_changed() {
  update_ioeventfds();
}

// ---- ioeventfd -----------------------------------------------------------------------------

void VirtioPciDevice::update_ioeventfds() {
  if (ioeventfd_ == nullptr)
    return;
  std::lock_guard<std::mutex> lock(ioeventfd_mutex_);
  uint64_t base = 0;
  uint64_t bar = bar_address(kVirtioPciModernBar);
  bool decoding = PciDevice::config_read(kPciCommand, 2) & kPciCommandMemory;
  if (decoding && bar != 0 && bar < (1ULL << 52))
    base = bar + kVirtioPciNotifyOffset;
  for (size_t q = 0; q < registered_.size(); q++) {
    bool want = base != 0 && !ioeventfd_failed_ && vdev_->queue_regs(static_cast<int>(q)).enabled;
    if (registered_[q] && (!want || base != notify_base_)) {
      Status st = ioeventfd_->remove_ioeventfd(
          IoSpace::kMmio, notify_base_ + kVirtioPciNotifyMultiplier * q, 2,
          vdev_->queue_notifier(static_cast<int>(q)), std::nullopt);
      if (!st.ok())
        debug_report("%s", st.error().message().c_str());
      registered_[q] = false;
    }
    if (want && !registered_[q]) {
      Status st =
          ioeventfd_->add_ioeventfd(IoSpace::kMmio, base + kVirtioPciNotifyMultiplier * q, 2,
                                    vdev_->queue_notifier(static_cast<int>(q)), std::nullopt);
      if (st.ok()) {
        registered_[q] = true;
      } else {
        // The notify BAR handler signals the same eventfd: slower, but it works.
        warn_report("%s: no ioeventfd for queue notifications, using exits: %s", type_name_.c_str(),
                    st.error().message().c_str());
        ioeventfd_failed_ = true;
      }
    }
  }
  notify_base_ = base;
}

void VirtioPciDevice::remove_ioeventfds() {
  if (ioeventfd_ == nullptr)
    return;
  std::lock_guard<std::mutex> lock(ioeventfd_mutex_);
  for (size_t q = 0; q < registered_.size(); q++) {
    if (!registered_[q])
      continue;
    Status st =
        ioeventfd_->remove_ioeventfd(IoSpace::kMmio, notify_base_ + kVirtioPciNotifyMultiplier * q,
                                     2, vdev_->queue_notifier(static_cast<int>(q)), std::nullopt);
    if (!st.ok())
      debug_report("%s", st.error().message().c_str());
    registered_[q] = false;
  }
}

// ---- Device --------------------------------------------------------------------------------

void VirtioPciDevice::reset() {
  // The device first: once its queues are stopped the worker raises no more interrupts, so the
  // line lowered and the vectors masked below stay that way.
  vdev_->reset_device();
  PciDevice::reset();
  msix_->reset();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dfselect_ = gfselect_ = 0;
    queue_select_ = 0;
  }
  update_ioeventfds();
}

void VirtioPciDevice::pause() {
  vdev_->pause();
}

void VirtioPciDevice::resume() {
  vdev_->resume();
}

const VmStateDescription* VirtioPciDevice::vmsd() const {
  return &kVirtioPciVmState;
}

void VirtioPciDevice::save_state(ByteWriter& out) const {
  // Saving never changes the device; these accessors are logically const.
  auto* self = const_cast<VirtioPciDevice*>(this);
  VirtioPciState s;
  s.device_id = vdev_->device_id();
  s.num_queues = static_cast<uint16_t>(vdev_->num_queues());
  s.msix_vectors = msix_->vectors();
  s.pci_config = self->config_snapshot();
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    s.dfselect = dfselect_;
    s.gfselect = gfselect_;
    s.queue_select = queue_select_;
  }
  VirtioRegs r = vdev_->save_regs();
  s.status = r.status;
  s.driver_features = r.driver_features;
  s.config_generation = r.config_generation;
  s.isr = r.isr;
  s.config_vector = r.config_vector;
  s.broken = r.broken;
  std::vector<VirtqIndices> idx = self->vdev_->save_indices();
  for (size_t q = 0; q < r.queues.size(); q++) {
    s.queue_size[q] = r.queues[q].size;
    s.queue_vector[q] = r.queues[q].vector;
    s.queue_enabled[q] = r.queues[q].enabled;
    s.queue_desc[q] = r.queues[q].desc;
    s.queue_avail[q] = r.queues[q].avail;
    s.queue_used[q] = r.queues[q].used;
    s.last_avail_idx[q] = idx[q].last_avail_idx;
    s.used_idx[q] = idx[q].used_idx;
    s.signalled_used[q] = idx[q].signalled_used;
    s.signalled_used_valid[q] = idx[q].signalled_used_valid;
  }
  MsixState m = msix_->save();
  s.msix_table = m.table;
  s.msix_pba = m.pba;

  ByteWriter transport;
  vmstate_save(kVirtioPciVmState, &s, transport);
  out.be32(static_cast<uint32_t>(transport.size()));
  out.bytes(transport.buffer());
  const VmStateDescription* dev_vmsd = vdev_->device_vmsd();
  out.be32(dev_vmsd != nullptr ? static_cast<uint32_t>(dev_vmsd->version_id) : 0);
  vdev_->save_device_state(out);
}

Status VirtioPciDevice::load_state(std::span<const uint8_t> data, int version_id) {
  ByteReader in(data);
  uint32_t len = in.be32();
  std::span<const uint8_t> transport = in.view(len);
  uint32_t dev_version = in.be32();
  if (in.failed())
    return make_error("%s: state truncated", type_name_.c_str());
  std::span<const uint8_t> device = data.subspan(in.position());

  COLO_ASSIGN_OR_RETURN(VirtioPciState s, vmstate_load_into(kVirtioPciVmState, VirtioPciState{},
                                                            transport, version_id));
  if (s.device_id != vdev_->device_id() || s.num_queues != vdev_->num_queues() ||
      s.msix_vectors != msix_->vectors()) {
    return make_error(
        "%s: state of a device with ID %u, %u queues, %u vectors; this one has "
        "ID %u, %u queues, %u vectors",
        type_name_.c_str(), s.device_id, s.num_queues, s.msix_vectors, vdev_->device_id(),
        vdev_->num_queues(), msix_->vectors());
  }
  VirtioRegs r;
  r.status = s.status;
  r.driver_features = s.driver_features;
  r.config_generation = s.config_generation;
  r.isr = s.isr;
  r.config_vector = s.config_vector;
  r.broken = s.broken;
  std::vector<VirtqIndices> idx;
  for (size_t q = 0; q < s.num_queues; q++) {
    r.queues.push_back({s.queue_size[q], s.queue_vector[q], s.queue_enabled[q], s.queue_desc[q],
                        s.queue_avail[q], s.queue_used[q]});
    idx.push_back(
        {s.last_avail_idx[q], s.used_idx[q], s.signalled_used[q], s.signalled_used_valid[q]});
  }
  MsixState m;
  m.table = s.msix_table;
  m.pba = s.msix_pba;
  // Validate everything first, so that a refused state changes nothing...
  COLO_TRY(check_config(s.pci_config).prepend(type_name_));
  COLO_TRY(msix_->check(m).prepend(type_name_));
  COLO_TRY(vdev_->check_load(r, idx).prepend(type_name_));
  // ...then the device's own part, which validates before it applies...
  COLO_TRY(vdev_->load_device_state(device, static_cast<int>(dev_version)).prepend(type_name_));
  // ...then the rest, which cannot fail any more.
  COLO_TRY(vdev_->load(r, idx));
  COLO_TRY(msix_->load(m));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dfselect_ = s.dfselect;
    gfselect_ = s.gfselect;
    queue_select_ = s.queue_select;
  }
  COLO_TRY(restore_config(s.pci_config));
  update_ioeventfds();
  {
    std::lock_guard<std::mutex> lock(intx_mutex_);
    set_irq(!msix_->enabled() && s.isr != 0);
  }
  return ok_status();
}

std::vector<std::pair<std::string, std::string>> VirtioPciDevice::properties() const {
  std::vector<std::pair<std::string, std::string>> p = vdev_->properties();
  p.emplace_back("addr", string_printf("%02x.%x", slot(), function()));
  p.emplace_back("vectors", std::to_string(msix_->vectors()));
  p.emplace_back("ioeventfd", options_.ioeventfd ? "on" : "off");
  p.emplace_back("event_idx", options_.event_idx ? "on" : "off");
  p.emplace_back("indirect_desc", options_.indirect_desc ? "on" : "off");
  return p;
}

Result<std::unique_ptr<Device>> virtio_pci_create(std::string type_name,
                                                  std::unique_ptr<VirtioDevice> vdev,
                                                  OptionReader& opts, DeviceContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtioPciOptions o, virtio_pci_take_options(opts));
  COLO_ASSIGN_OR_RETURN(auto dev,
                        VirtioPciDevice::create(std::move(type_name), std::move(vdev), o, ctx));
  return std::unique_ptr<Device>(std::move(dev));
}

}  // namespace colo
