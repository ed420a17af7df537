// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/virtio/virtio.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "system/guest-memory.h"
#include "util/log.h"

namespace colo {

namespace {

constexpr uint8_t kStatusKnownBits = kVirtioStatusAcknowledge | kVirtioStatusDriver |
                                     kVirtioStatusDriverOk | kVirtioStatusFeaturesOk |
                                     kVirtioStatusNeedsReset | kVirtioStatusFailed;

bool power_of_2(uint16_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

VirtioDevice::VirtioDevice(uint16_t device_id, std::string name, GuestMemory* mem)
    : device_id_(device_id), name_(std::move(name)), mem_(mem) {}

VirtioDevice::~VirtioDevice() {
  // The transport detaches before the derived device is destroyed; this is a safety net.
  detach();
  for (int fd : notifiers_)
    close(fd);
}

VirtQueue& VirtioDevice::add_queue(uint16_t max_size) {
  auto index = static_cast<uint16_t>(queues_.size());
  queues_.push_back(std::make_unique<VirtQueue>(mem_, index, max_size));
  VirtioQueueRegs q;
  q.size = max_size;
  regs_.queues.push_back(q);
  return *queues_.back();
}

void VirtioDevice::set_ring_features(bool event_idx, bool indirect_desc) {
  offer_event_idx_ = event_idx;
  offer_indirect_ = indirect_desc;
}

uint64_t VirtioDevice::offered_features() const {
  uint64_t f = host_features() | virtio_bit(kVirtioFVersion1);
  if (offer_event_idx_)
    f |= virtio_bit(kVirtioFRingEventIdx);
  if (offer_indirect_)
    f |= virtio_bit(kVirtioFRingIndirectDesc);
  return f;
}

Status VirtioDevice::attach(VirtioTransport* transport, const std::string& thread_name) {
  if (queues_.empty() || queues_.size() > kVirtioMaxQueues) {
    return make_error("%s: %zu queues (1 to %d supported)", name_.c_str(), queues_.size(),
                      kVirtioMaxQueues);
  }
  transport_ = transport;
  for (size_t i = 0; i < queues_.size(); i++) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
      return errno_error(errno, "%s: eventfd", name_.c_str());
    notifiers_.push_back(fd);
    queues_[i]->set_error_handler([this](const std::string& why) { set_broken(why); });
  }
  COLO_ASSIGN_OR_RETURN(iothread_, IoThread::start(thread_name));
  for (size_t i = 0; i < queues_.size(); i++) {
    notifier_ctx_.push_back(std::make_unique<NotifierCtx>(NotifierCtx{this, static_cast<int>(i)}));
    sources_.push_back(attach_fd_source(iothread_->context(), notifiers_[i], G_IO_IN, on_notifier,
                                        notifier_ctx_.back().get()));
  }
  return realize();
}

void VirtioDevice::detach() {
  if (!iothread_)
    return;
  iothread_->run_sync([this] {
    unrealize();
    for (GSource*& s : sources_)
      detach_source(&s);
    running_ = false;
  });
  iothread_.reset();
  sources_.clear();
}

gboolean VirtioDevice::on_notifier(gint fd, GIOCondition, gpointer opaque) {
  auto* ctx = static_cast<NotifierCtx*>(opaque);
  uint64_t count;
  while (::read(fd, &count, sizeof(count)) < 0 && errno == EINTR) {
  }
  ctx->dev->process_queue(ctx->index);
  return G_SOURCE_CONTINUE;
}

void VirtioDevice::signal_queue_notifier(int index) {
  if (index < 0 || index >= static_cast<int>(notifiers_.size()))
    return;
  uint64_t one = 1;
  while (::write(notifiers_[index], &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void VirtioDevice::drain_notifiers() {
  for (int fd : notifiers_) {
    uint64_t count;
    while (::read(fd, &count, sizeof(count)) < 0 && errno == EINTR) {
    }
  }
}

void VirtioDevice::process_queue(int index) {
  VirtQueue& vq = *queues_[index];
  if (!can_process() || !vq.ready())
    return;
  handle_queue(vq);
}

void VirtioDevice::process_all() {
  for (int i = 0; i < num_queues(); i++)
    process_queue(i);
}

void VirtioDevice::schedule_queue(int index) {
  if (!iothread_ || index < 0 || index >= num_queues())
    return;
  iothread_->run([this, index] { process_queue(index); });
}

uint64_t VirtioDevice::features() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return regs_.driver_features;
}

uint8_t VirtioDevice::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return regs_.status;
}

bool VirtioDevice::broken() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return regs_.broken;
}

uint8_t VirtioDevice::config_generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return regs_.config_generation;
}

uint16_t VirtioDevice::config_vector() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return regs_.config_vector;
}

void VirtioDevice::set_config_vector(uint16_t vector) {
  std::lock_guard<std::mutex> lock(mutex_);
  regs_.config_vector = vector;
}

uint8_t VirtioDevice::take_isr() {
  std::lock_guard<std::mutex> lock(mutex_);
  uint8_t v = regs_.isr;
  regs_.isr = 0;
  return v;
}

void VirtioDevice::raise_isr(uint8_t bits) {
  std::lock_guard<std::mutex> lock(mutex_);
  regs_.isr |= bits;
}

uint32_t VirtioDevice::driver_features_word(int word) const {
  if (word < 0 || word > 1)
    return 0;
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<uint32_t>(regs_.driver_features >> (32 * word));
}

void VirtioDevice::set_driver_features_word(int word, uint32_t value) {
  if (word < 0 || word > 1)
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (regs_.status & kVirtioStatusFeaturesOk)
    return;
  uint64_t mask = 0xffffffffULL << (32 * word);
  regs_.driver_features =
      (regs_.driver_features & ~mask) | (static_cast<uint64_t>(value) << (32 * word));
}

VirtioQueueRegs VirtioDevice::queue_regs(int index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (index < 0 || index >= num_queues())
    return VirtioQueueRegs{.size = 0};
  return regs_.queues[index];
}

void VirtioDevice::set_queue_size(int index, uint16_t size) {
  if (index < 0 || index >= num_queues())
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  VirtioQueueRegs& q = regs_.queues[index];
  if (q.enabled)
    return;
  if (!power_of_2(size) || size > queues_[index]->max_size()) {
    debug_report("%s: queue %d: ignoring size %u", name_.c_str(), index, size);
    return;
  }
  q.size = size;
}

void VirtioDevice::set_queue_vector(int index, uint16_t vector) {
  if (index < 0 || index >= num_queues())
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  regs_.queues[index].vector = vector;
}

void VirtioDevice::set_queue_addr(int index, int which, uint64_t addr) {
  if (index < 0 || index >= num_queues())
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  VirtioQueueRegs& q = regs_.queues[index];
  if (q.enabled)
    return;
  (which == 0 ? q.desc : which == 1 ? q.avail : q.used) = addr;
}

bool VirtioDevice::enable_queue(int index) {
  if (index < 0 || index >= num_queues() || !iothread_)
    return false;
  std::lock_guard<std::mutex> control(control_mutex_);
  VirtqConfig cfg;
  bool event_idx, indirect;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const VirtioQueueRegs& q = regs_.queues[index];
    if (q.enabled)
      return true;
    if (regs_.broken)
      return false;
    cfg = {q.size, q.desc, q.avail, q.used};
    event_idx = regs_.driver_features & virtio_bit(kVirtioFRingEventIdx);
    indirect = regs_.driver_features & virtio_bit(kVirtioFRingIndirectDesc);
  }
  Status st = ok_status();
  iothread_->run_sync([&] { st = queues_[index]->start(cfg, event_idx, indirect); });
  if (!st.ok()) {
    set_broken(st.error().message());
    return false;
  }
  bool driver_ok;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    regs_.queues[index].enabled = true;
    driver_ok = regs_.status & kVirtioStatusDriverOk;
  }
  if (driver_ok)
    schedule_queue(index);
  return true;
}

void VirtioDevice::set_status(uint8_t value) {
  if (!iothread_)
    return;
  if (value == 0) {
    reset_device();
    return;
  }
  std::lock_guard<std::mutex> control(control_mutex_);
  uint8_t old;
  uint64_t driver_features;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    old = regs_.status;
    driver_features = regs_.driver_features;
  }
  uint8_t next = value & ~kVirtioStatusNeedsReset;
  if ((next & kVirtioStatusFeaturesOk) && !(old & kVirtioStatusFeaturesOk)) {
    uint64_t offered = offered_features();
    Status st = ok_status();
    if (driver_features & ~offered) {
      st = make_error("driver accepted features 0x%llx that were not offered",
                      static_cast<unsigned long long>(driver_features & ~offered));
    } else if (!(driver_features & virtio_bit(kVirtioFVersion1))) {
      st =
          make_error("driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)");
    } else {
      st = validate_features(driver_features);
    }
    if (!st.ok()) {
      debug_report("%s: FEATURES_OK refused: %s", name_.c_str(), st.error().message().c_str());
      next &= ~kVirtioStatusFeaturesOk;
    }
  }
  bool start_now = (next & kVirtioStatusDriverOk) && !(old & kVirtioStatusDriverOk);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    regs_.status = static_cast<uint8_t>(next | (regs_.status & kVirtioStatusNeedsReset));
  }
  if (!start_now)
    return;
  if (!(next & kVirtioStatusFeaturesOk)) {
    set_broken("DRIVER_OK without FEATURES_OK");
    return;
  }
  iothread_->run_sync([this] {
    if (broken())
      return;
    running_ = true;
    start();
  });
  iothread_->run([this] { process_all(); });
}

void VirtioDevice::reset_device() {
  if (!iothread_)
    return;
  std::lock_guard<std::mutex> control(control_mutex_);
  iothread_->run_sync([this] {
    running_ = false;
    for (auto& q : queues_)
      q->stop();
    reset();
    drain_notifiers();
  });
  std::lock_guard<std::mutex> lock(mutex_);
  uint8_t generation = regs_.config_generation;
  regs_ = VirtioRegs{};
  regs_.config_generation = generation;
  for (auto& q : queues_) {
    VirtioQueueRegs r;
    r.size = q->max_size();
    regs_.queues.push_back(r);
  }
}

void VirtioDevice::notify(VirtQueue& vq) {
  if (!vq.should_notify())
    return;
  uint16_t vector;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    vector = regs_.queues[vq.index()].vector;
  }
  if (transport_ != nullptr)
    transport_->interrupt(kVirtioIsrQueue, vector);
}

void VirtioDevice::notify_config_changed() {
  uint16_t vector;
  bool driver_ok;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    regs_.config_generation++;
    vector = regs_.config_vector;
    driver_ok = regs_.status & kVirtioStatusDriverOk;
  }
  if (driver_ok && transport_ != nullptr)
    transport_->interrupt(kVirtioIsrConfig, vector);
}

void VirtioDevice::set_broken(const std::string& why) {
  bool first, driver_ok, log;
  uint16_t vector;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = !regs_.broken;
    regs_.broken = true;
    regs_.status |= kVirtioStatusNeedsReset;
    driver_ok = regs_.status & kVirtioStatusDriverOk;
    vector = regs_.config_vector;
    log = first && !broken_logged_;
    if (log)
      broken_logged_ = true;
  }
  running_ = false;
  if (!first)
    return;
  // A hostile guest could do this in a loop: warn once per device, then only in debug output.
  if (log) {
    warn_report("%s: the driver broke the virtio protocol, device needs reset: %s", name_.c_str(),
                why.c_str());
  } else {
    debug_report("%s: device needs reset: %s", name_.c_str(), why.c_str());
  }
  if (driver_ok && transport_ != nullptr)
    transport_->interrupt(kVirtioIsrConfig, vector);
}

// Both change paused_ on the worker and wait for it, so that a pause() right after a resume()
// cannot be overtaken by the resume (the checkpoint would run with the worker busy).
void VirtioDevice::pause() {
  if (!iothread_)
    return;
  iothread_->run_sync([this] {
    if (paused_)
      return;
    paused_ = true;
    on_pause();
  });
}

void VirtioDevice::resume() {
  if (!iothread_)
    return;
  iothread_->run_sync([this] {
    if (!paused_)
      return;
    paused_ = false;
    on_resume();
  });
  // What the driver made available while paused (its kicks were consumed meanwhile).
  iothread_->run([this] { process_all(); });
}

VirtioRegs VirtioDevice::save_regs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return regs_;
}

std::vector<VirtqIndices> VirtioDevice::save_indices() {
  std::vector<VirtqIndices> out;
  auto collect = [&] {
    for (auto& q : queues_)
      out.push_back(q->indices());
  };
  if (iothread_) {
    iothread_->run_sync(collect);
  } else {
    collect();
  }
  return out;
}

Status VirtioDevice::check_regs(const VirtioRegs& r) const {
  if (r.queues.size() != queues_.size()) {
    return make_error("%zu queues in the state, the device has %zu", r.queues.size(),
                      queues_.size());
  }
  if (r.status & ~kStatusKnownBits)
    return make_error("device status 0x%02x is invalid", r.status);
  uint64_t offered = offered_features();
  if (r.driver_features & ~offered) {
    return make_error("driver features 0x%llx were not offered (0x%llx)",
                      static_cast<unsigned long long>(r.driver_features),
                      static_cast<unsigned long long>(offered));
  }
  if ((r.status & kVirtioStatusFeaturesOk) && !(r.driver_features & virtio_bit(kVirtioFVersion1))) {
    return make_error("FEATURES_OK without VIRTIO_F_VERSION_1");
  }
  if (r.isr & ~(kVirtioIsrQueue | kVirtioIsrConfig))
    return make_error("ISR 0x%02x", r.isr);
  if (r.broken != bool(r.status & kVirtioStatusNeedsReset)) {
    return make_error("broken flag and DEVICE_NEEDS_RESET disagree");
  }
  for (size_t i = 0; i < r.queues.size(); i++) {
    const VirtioQueueRegs& q = r.queues[i];
    if (!power_of_2(q.size) || q.size > queues_[i]->max_size()) {
      return make_error("queue %zu: size %u is not a power of 2 up to %u", i, q.size,
                        queues_[i]->max_size());
    }
    if (q.enabled)
      COLO_TRY(queues_[i]->check_config({q.size, q.desc, q.avail, q.used}));
  }
  return ok_status();
}

Status VirtioDevice::check_load(const VirtioRegs& regs,
                                const std::vector<VirtqIndices>& indices) const {
  COLO_TRY(check_regs(regs).prepend(name_));
  if (indices.size() != queues_.size()) {
    return make_error("%s: %zu queue positions for %zu queues", name_.c_str(), indices.size(),
                      queues_.size());
  }
  for (size_t i = 0; i < indices.size(); i++) {
    // Nothing is in flight in a saved device, so the guest has seen every used entry the
    // device wrote, and the device cannot have used more than the driver made available.
    const VirtqIndices& x = indices[i];
    if (regs.queues[i].enabled &&
        static_cast<uint16_t>(x.last_avail_idx - x.used_idx) > regs.queues[i].size) {
      return make_error("%s: queue %zu: used index %u is more than a ring behind %u", name_.c_str(),
                        i, x.used_idx, x.last_avail_idx);
    }
  }
  return ok_status();
}

Status VirtioDevice::load(const VirtioRegs& regs, const std::vector<VirtqIndices>& indices) {
  COLO_TRY(check_load(regs, indices));
  std::lock_guard<std::mutex> control(control_mutex_);
  bool ei = regs.driver_features & virtio_bit(kVirtioFRingEventIdx);
  bool ind = regs.driver_features & virtio_bit(kVirtioFRingIndirectDesc);
  auto apply = [&] {
    running_ = false;
    for (size_t i = 0; i < queues_.size(); i++) {
      queues_[i]->stop();
      const VirtioQueueRegs& q = regs.queues[i];
      if (!q.enabled)
        continue;
      // Checked above; guest RAM does not change.
      Status st = queues_[i]->start({q.size, q.desc, q.avail, q.used}, ei, ind);
      if (st.ok())
        queues_[i]->set_indices(indices[i]);
    }
    drain_notifiers();
    running_ = !regs.broken && (regs.status & kVirtioStatusDriverOk) &&
               (regs.status & kVirtioStatusFeaturesOk);
  };
  if (iothread_) {
    iothread_->run_sync(apply);
  } else {
    apply();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    regs_ = regs;
  }
  if (iothread_)
    iothread_->run([this] { process_all(); });  // waits for resume() if paused
  return ok_status();
}

}  // namespace colo
