// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/virtio/virtqueue.h
//
// The device side of a split virtqueue (virtio 1.2, 2.7): descriptor table, available ring and
// used ring in guest RAM. The guest is hostile: every index, descriptor and buffer address is
// checked, and a driver that breaks the protocol makes the queue broken (the error handler
// runs once, normally VirtioDevice::set_broken(), which sets DEVICE_NEEDS_RESET) instead of
// crashing colovm or touching memory outside guest RAM. A broken queue pops nothing more
// until it is restarted (device reset).
//
// Every write the queue makes into guest memory (used ring entries and index, used flags,
// avail_event) marks the pages dirty, and VirtqElement::write() / mark_written() do the same
// for buffer contents.
//
// Threads: a VirtQueue belongs to its device's worker thread; it has no lock. The transport
// configures it (start/stop/set_indices) on that thread too.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/error.h"

namespace colo {

class GuestMemory;

// Split-ring layout.
constexpr uint16_t kVringDescFNext = 1;
constexpr uint16_t kVringDescFWrite = 2;
constexpr uint16_t kVringDescFIndirect = 4;
constexpr uint16_t kVringAvailFNoInterrupt = 1;
constexpr uint16_t kVringUsedFNoNotify = 1;
constexpr uint32_t kVringDescSize = 16;
// Largest queue and largest indirect table accepted (QEMU's VIRTQUEUE_MAX_SIZE).
constexpr uint16_t kVirtqMaxSize = 1024;
constexpr uint32_t kVirtqMaxIndirect = 1024;

// A descriptor as it is in guest memory (little-endian).
struct VringDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

// One guest buffer of a chain, already checked to lie within guest RAM.
struct VirtqBuffer {
  uint64_t gpa;
  uint8_t* host;  // host address of gpa (valid for len bytes)
  uint32_t len;
};

// A descriptor chain popped from the available ring: the device-readable buffers (out) come
// first in the chain, then the device-writable ones (in).
class VirtqElement {
 public:
  uint16_t head() const { return head_; }
  const std::vector<VirtqBuffer>& out() const { return out_; }
  const std::vector<VirtqBuffer>& in() const { return in_; }
  uint64_t out_bytes() const { return out_bytes_; }
  uint64_t in_bytes() const { return in_bytes_; }

  // Copies device-readable bytes from byte `offset` of the out buffers into `dst`; returns how
  // many were copied (fewer when the buffers end). The guest may change them meanwhile:
  // copy a header once and parse the copy.
  size_t read(uint64_t offset, std::span<uint8_t> dst) const;
  // Copies `src` into the device-writable buffers at byte `offset`, marking the pages dirty;
  // returns how many bytes fitted.
  size_t write(uint64_t offset, std::span<const uint8_t> src) const;
  // Marks [offset, offset + len) of the in buffers dirty after writing through VirtqBuffer::host.
  void mark_written(uint64_t offset, uint64_t len) const;

 private:
  friend class VirtQueue;
  GuestMemory* mem_ = nullptr;
  uint16_t head_ = 0;
  std::vector<VirtqBuffer> out_;
  std::vector<VirtqBuffer> in_;
  uint64_t out_bytes_ = 0;
  uint64_t in_bytes_ = 0;
};

// Where a queue's rings are (the transport's queue_desc/driver/device registers).
struct VirtqConfig {
  uint16_t size = 0;
  uint64_t desc = 0;
  uint64_t avail = 0;
  uint64_t used = 0;
};

// The device's position in the rings (migrated with the device).
struct VirtqIndices {
  uint16_t last_avail_idx = 0;  // next avail entry to pop
  uint16_t used_idx = 0;        // next used entry to fill (also the index published to the guest)
  uint16_t signalled_used = 0;  // used index at the last interrupt (VIRTIO_F_EVENT_IDX)
  bool signalled_used_valid = false;
};

class VirtQueue {
 public:
  using ErrorHandler = std::function<void(const std::string& why)>;

  VirtQueue(GuestMemory* mem, uint16_t index, uint16_t max_size);

  uint16_t index() const { return index_; }
  uint16_t max_size() const { return max_size_; }
  uint16_t size() const { return cfg_.size; }
  // Started and not broken.
  bool ready() const { return started_ && !broken_; }
  bool started() const { return started_; }
  bool broken() const { return broken_; }

  // Called once, with the text of the protocol violation, when the queue breaks.
  void set_error_handler(ErrorHandler handler) { on_error_ = std::move(handler); }

  // Checks a ring configuration: size a power of 2 up to max_size(), each ring aligned and in
  // guest RAM. Start() uses it; the transport uses it when loading state.
  Status check_config(const VirtqConfig& cfg) const;
  // Starts processing with the rings at `cfg` and the negotiated ring features; indices from
  // 0. An invalid configuration returns the error (the queue stays stopped).
  Status start(const VirtqConfig& cfg, bool event_idx, bool indirect);
  // Forgets the rings and indices (device reset).
  void stop();

  // The next available chain; nullopt when there is none, or the queue is not ready or broke
  // on this chain (then the error handler ran).
  std::optional<VirtqElement> pop();
  // Returns a chain to the driver: `len` is how many bytes the device wrote into its in
  // buffers. Publishes the used index at once.
  void push(const VirtqElement& elem, uint32_t len);
  // Gives back the last `count` popped chains unused (they will be popped again).
  void unpop(uint16_t count = 1);
  // Whether the driver published chains that were not popped yet.
  bool has_available();
  // Whether the driver wants an interrupt for what was pushed since the last call
  // (VRING_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_EVENT_IDX); false when nothing was
  // pushed since then. Call after a batch of push()es; VirtioDevice::notify() does.
  bool should_notify();
  // Asks the driver to notify (kick) or not: VRING_USED_F_NO_NOTIFY, or avail_event with
  // VIRTIO_F_EVENT_IDX. The usual loop:
  //   do { set_notification(false); while (auto e = pop()) {...} set_notification(true); }
  //   while (has_available());
  void set_notification(bool enable);

  VirtqIndices indices() const { return idx_; }
  // Restores indices after start() (migration). The caller validated the queue.
  void set_indices(const VirtqIndices& indices) { idx_ = indices; }
  const VirtqConfig& config() const { return cfg_; }
  // Chains popped and not yet pushed.
  uint32_t in_flight() const { return in_flight_; }

 private:
  void fail(const std::string& why);
  uint16_t read_avail_idx();
  uint16_t read_u16(uint64_t gpa);
  void write_u16(uint64_t gpa, uint16_t v);
  bool read_desc(uint64_t table, uint32_t n, uint32_t i, VringDesc* out);

  GuestMemory* mem_;
  uint16_t index_;
  uint16_t max_size_;
  VirtqConfig cfg_;
  VirtqIndices idx_;
  bool started_ = false;
  bool broken_ = false;
  bool event_idx_ = false;
  bool indirect_ = false;
  bool notification_ = true;
  uint32_t in_flight_ = 0;
  bool pushed_ = false;  // push() since the last should_notify()
  ErrorHandler on_error_;
};

}  // namespace colo
