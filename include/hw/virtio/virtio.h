// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/virtio/virtio.h
//
// The virtio device core (virtio 1.2, modern devices only). HOW A DEVICE USES IT:
//
//   1. Derive from VirtioDevice. In the constructor, pass the virtio device ID and a short
//      name, and declare the queues in order with add_queue(max_size):
//
//        class VirtioFoo : public VirtioDevice {
//         public:
//          explicit VirtioFoo(GuestMemory* mem) : VirtioDevice(kVirtioIdFoo, "virtio-foo", mem) {
//            rx_ = &add_queue(256);
//            tx_ = &add_queue(256);
//          }
//
//   2. Implement host_features() (the device's own feature bits; the core adds
//      VIRTIO_F_VERSION_1 and, unless switched off, RING_INDIRECT_DESC and RING_EVENT_IDX),
//      config_size()/get_config() (the device configuration structure, little-endian; call
//      notify_config_changed() when it changes) and handle_queue(vq).
//
//   3. handle_queue(vq) runs on the device's own worker thread (an IoThread named after the
//      device, "virtio-foo0") whenever the driver kicked vq, after DRIVER_OK and after resume.
//      Pop chains, do the work, push them back, then notify():
//
//        void VirtioFoo::handle_queue(VirtQueue& vq) {
//          do {
//            vq.set_notification(false);
//            while (auto elem = vq.pop()) {
//              uint8_t hdr[12];
//              if (elem->read(0, hdr) != sizeof(hdr)) { set_broken("short header"); return; }
//              size_t n = elem->write(0, reply);      // marks the guest pages dirty
//              vq.push(*elem, n);
//            }
//            vq.set_notification(true);
//          } while (vq.has_available());
//          notify(vq);                               // interrupt if the driver wants one
//        }
//
//      pop() checks every descriptor against guest RAM; a malformed chain marks the device
//      broken (DEVICE_NEEDS_RESET, config interrupt) and pop() returns nullopt. A device that
//      finds the driver misbehaving in its own protocol calls set_broken(why) the same way.
//      Work that does not start from a kick (a tap fd becoming readable) is attached to
//      iothread().context() (in realize()) or queued with iothread().run(); it must check
//      can_process() first and use the queues only on that thread.
//
//   4. Register a -device type that wraps the device in the PCI transport
//      (hw/virtio/virtio-pci.h):
//
//        device_register_type({"virtio-foo-pci", "virtio foo (PCI)",
//            [](OptionReader& opts, DeviceContext& ctx) -> Result<std::unique_ptr<Device>> {
//              ... take the device's own properties from opts ...
//              return virtio_pci_create("virtio-foo-pci", std::make_unique<VirtioFoo>(ctx.memory),
//                                       opts, ctx);   // addr=, vectors=, ioeventfd=, ...
//            }});
//
//   5. Checkpoints: pause() returns once the worker is idle and will not touch guest memory
//      until resume(). A device with work outside handle_queue() (backends) stops it in
//      on_pause() and restarts it in on_resume() (both on the worker thread); it must not
//      keep popped-but-unpushed chains across a pause (unpop() them). State: implement
//      device_vmsd()/save_device_state()/load_device_state() for device registers (MAC
//      filters, ...); the core and the transport save everything else.
//
// Threads: the transport calls the register methods (status, features, queue setup) from vCPU
// threads; they are serialised by a control mutex and apply queue changes on the worker with
// IoThread::run_sync(), so queue state is only ever touched by the worker. Register values are
// guarded by mutex_. Interrupts are sent from the worker (notify) or any thread
// (notify_config_changed, set_broken).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "hw/virtio/virtqueue.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/iothread.h"

namespace colo {

class GuestMemory;
struct VmStateDescription;

// Device IDs (virtio 1.2, 5).
constexpr uint16_t kVirtioIdNet = 1;
constexpr uint16_t kVirtioIdBlock = 2;

// Reserved feature bits (virtio 1.2, 6).
constexpr int kVirtioFRingIndirectDesc = 28;
constexpr int kVirtioFRingEventIdx = 29;
constexpr int kVirtioFVersion1 = 32;
constexpr uint64_t virtio_bit(int bit) {
  return 1ULL << bit;
}

// Device status (virtio 1.2, 2.1).
constexpr uint8_t kVirtioStatusAcknowledge = 0x01;
constexpr uint8_t kVirtioStatusDriver = 0x02;
constexpr uint8_t kVirtioStatusDriverOk = 0x04;
constexpr uint8_t kVirtioStatusFeaturesOk = 0x08;
constexpr uint8_t kVirtioStatusNeedsReset = 0x40;
constexpr uint8_t kVirtioStatusFailed = 0x80;

// ISR status bits (virtio 1.2, 4.1.4.5).
constexpr uint8_t kVirtioIsrQueue = 0x1;
constexpr uint8_t kVirtioIsrConfig = 0x2;

constexpr uint16_t kVirtioNoVector = 0xffff;
// The most queues a device may declare (the state declaration has room for this many).
constexpr int kVirtioMaxQueues = 64;

// What the transport must do for the core: deliver interrupts.
class VirtioTransport {
 public:
  virtual ~VirtioTransport() = default;
  // Interrupts the driver for a queue (kVirtioIsrQueue) or a configuration change
  // (kVirtioIsrConfig) through `vector` (MSI-X) or INTx + ISR.
  virtual void interrupt(uint8_t isr_bit, uint16_t vector) = 0;
};

// The driver-visible registers of one queue.
struct VirtioQueueRegs {
  uint16_t size = 0;  // the driver may lower it from the maximum
  uint16_t vector = kVirtioNoVector;
  bool enabled = false;
  uint64_t desc = 0;
  uint64_t avail = 0;  // "driver area"
  uint64_t used = 0;   // "device area"
};

// The driver-visible registers of the device, as a value (migration, tests).
struct VirtioRegs {
  uint8_t status = 0;
  uint64_t driver_features = 0;
  uint8_t config_generation = 0;
  uint8_t isr = 0;
  uint16_t config_vector = kVirtioNoVector;
  bool broken = false;  // DEVICE_NEEDS_RESET was raised; no processing until reset
  std::vector<VirtioQueueRegs> queues;
};

class VirtioDevice {
 public:
  VirtioDevice(uint16_t device_id, std::string name, GuestMemory* mem);
  virtual ~VirtioDevice();
  VirtioDevice(const VirtioDevice&) = delete;
  VirtioDevice& operator=(const VirtioDevice&) = delete;

  // ---- What a device implements -----------------------------------------------------------

  // The device-type feature bits it offers (bits 0-23 and any others it implements).
  virtual uint64_t host_features() const = 0;
  // Size of the device configuration structure in bytes.
  virtual size_t config_size() const = 0;
  // Fills the whole configuration structure (config_size() bytes). Any thread.
  virtual void get_config(std::span<uint8_t> config) = 0;
  // The driver wrote `data` at `offset` of the configuration (within config_size()).
  virtual void set_config(uint32_t offset, std::span<const uint8_t> data) {}
  // FEATURES_OK: the driver accepted `features`, a subset of the offered ones with
  // VIRTIO_F_VERSION_1. An error leaves FEATURES_OK clear (the driver gives up).
  virtual Status validate_features(uint64_t features) { return ok_status(); }
  // Worker thread. Buffers are available on vq (kick, DRIVER_OK, resume).
  virtual void handle_queue(VirtQueue& vq) = 0;
  // Worker thread. The driver set DRIVER_OK (after the queues are set up).
  virtual void start() {}
  // Worker thread. The device is being reset (status 0, machine reset, before a load); the
  // queues are already stopped. Back to the power-on state of the device-specific part.
  virtual void reset() {}
  // Worker thread, around a checkpoint: stop and restart work outside handle_queue().
  virtual void on_pause() {}
  virtual void on_resume() {}
  // Main thread, once the worker runs (attach backend sources to iothread().context()).
  virtual Status realize() { return ok_status(); }
  // Worker thread, before it stops (detach them).
  virtual void unrealize() {}
  // Device-specific migratable state (nullptr: none). Saved and loaded while paused.
  virtual const VmStateDescription* device_vmsd() const { return nullptr; }
  virtual void save_device_state(ByteWriter& out) const {}
  virtual Status load_device_state(std::span<const uint8_t> data, int version_id) {
    return ok_status();
  }
  // -device properties for queries.
  virtual std::vector<std::pair<std::string, std::string>> properties() const { return {}; }

  // ---- What the core provides to devices -----------------------------------------------

  uint16_t device_id() const { return device_id_; }
  const std::string& name() const { return name_; }
  GuestMemory* memory() const { return mem_; }
  // The worker thread (valid between attach() and detach()).
  IoThread& iothread() { return *iothread_; }
  int num_queues() const { return static_cast<int>(queues_.size()); }
  VirtQueue& queue(int index) { return *queues_[index]; }
  // The negotiated features (after FEATURES_OK).
  uint64_t features() const;
  bool has_feature(int bit) const { return (features() >> bit) & 1; }
  // Worker thread: interrupts the driver for chains pushed on vq, if it wants that.
  void notify(VirtQueue& vq);
  // Any thread: the configuration changed: new generation, configuration interrupt.
  void notify_config_changed();
  // Any thread: the driver broke the protocol: DEVICE_NEEDS_RESET (with a configuration
  // interrupt after DRIVER_OK), processing stops until the driver resets the device. Logged
  // once per reset.
  void set_broken(const std::string& why);
  bool broken() const;
  // Worker thread: DRIVER_OK, not broken, not paused.
  bool can_process() const { return running_ && !paused_; }
  // Any thread: runs handle_queue(vq) on the worker soon (if it can process then).
  void schedule_queue(int index);

  // ---- What the transport uses ------------------------------------------------------------

  // Before attach(): turn off offering of the optional ring features (QEMU's event_idx= and
  // indirect_desc= properties).
  void set_ring_features(bool event_idx, bool indirect_desc);
  // Starts the worker thread "<thread_name>", creates the queue notifiers, calls realize().
  Status attach(VirtioTransport* transport, const std::string& thread_name);
  // Calls unrealize(), stops the worker. Before the device is destroyed.
  void detach();
  // The eventfd a guest notification of queue `index` signals (registered as an ioeventfd or
  // written by the transport's notify handler).
  int queue_notifier(int index) const { return notifiers_[index]; }
  void signal_queue_notifier(int index);

  uint64_t offered_features() const;
  uint8_t status() const;
  // Writes the status register: 0 resets; FEATURES_OK is checked; DRIVER_OK starts processing.
  void set_status(uint8_t status);
  // The driver feature bits, 32 at a time (ignored once FEATURES_OK is set).
  void set_driver_features_word(int word, uint32_t value);
  uint32_t driver_features_word(int word) const;
  uint8_t config_generation() const;
  uint16_t config_vector() const;
  void set_config_vector(uint16_t vector);
  // Reads and clears the ISR (the transport lowers INTx).
  uint8_t take_isr();
  void raise_isr(uint8_t bits);

  VirtioQueueRegs queue_regs(int index) const;
  // Writes of the queue registers while the queue is disabled (ignored when enabled). A size
  // that is not a power of 2 up to the maximum is ignored.
  void set_queue_size(int index, uint16_t size);
  void set_queue_vector(int index, uint16_t vector);
  void set_queue_addr(int index, int which, uint64_t addr);  // 0 desc, 1 avail, 2 used
  // queue_enable = 1: checks the rings and starts the queue (a bad ring makes the device
  // broken). Returns whether the queue is enabled now.
  bool enable_queue(int index);

  // Device reset (the machine's, or status 0).
  void reset_device();
  // Stop/restart the worker for checkpoints (qdev pause/resume).
  void pause();
  void resume();
  bool paused_for_checkpoint() const { return paused_.load(); }

  // Migration: registers plus each queue's ring position. Any thread, device paused.
  VirtioRegs save_regs() const;
  std::vector<VirtqIndices> save_indices();
  // Validates and applies saved registers/indices (vectors were checked by the transport):
  // features a subset of the offered ones, queue sizes, enabled rings inside guest RAM.
  Status check_load(const VirtioRegs& regs, const std::vector<VirtqIndices>& indices) const;
  Status load(const VirtioRegs& regs, const std::vector<VirtqIndices>& indices);

 protected:
  // Declares the next queue (constructor only).
  VirtQueue& add_queue(uint16_t max_size);

 private:
  void process_queue(int index);  // worker
  void process_all();             // worker
  static gboolean on_notifier(gint fd, GIOCondition condition, gpointer opaque);
  void drain_notifiers();
  void apply_ring_features_locked();
  Status check_regs(const VirtioRegs& regs) const;

  const uint16_t device_id_;
  const std::string name_;
  GuestMemory* const mem_;
  std::vector<std::unique_ptr<VirtQueue>> queues_;
  std::vector<int> notifiers_;
  std::vector<GSource*> sources_;
  struct NotifierCtx {
    VirtioDevice* dev;
    int index;
  };
  std::vector<std::unique_ptr<NotifierCtx>> notifier_ctx_;
  std::unique_ptr<IoThread> iothread_;
  VirtioTransport* transport_ = nullptr;
  bool offer_event_idx_ = true;
  bool offer_indirect_ = true;

  // Serialises register writes that change queues (vCPU threads, main thread). Never taken
  // by the worker, so run_sync() under it cannot deadlock.
  std::mutex control_mutex_;
  // Guards regs_.
  mutable std::mutex mutex_;
  VirtioRegs regs_;
  bool broken_logged_ = false;

  // Worker state (read elsewhere only for diagnostics).
  std::atomic<bool> running_{false};
  std::atomic<bool> paused_{false};
};

}  // namespace colo
