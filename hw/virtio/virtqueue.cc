// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/virtio/virtqueue.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "system/guest-memory.h"
#include "util/bytes.h"

namespace colo {

namespace {

// Offsets inside the rings.
constexpr uint64_t kAvailFlags = 0, kAvailIdx = 2, kAvailRing = 4;
constexpr uint64_t kUsedFlags = 0, kUsedIdx = 2, kUsedRing = 4, kUsedElemSize = 8;

uint64_t desc_table_bytes(uint16_t size) {
  return uint64_t{kVringDescSize} * size;
}
uint64_t avail_bytes(uint16_t size) {
  return 6 + 2ULL * size;
}  // incl. used_event
uint64_t used_bytes(uint16_t size) {
  return 6 + 8ULL * size;
}  // incl. avail_event

bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace

// ---- VirtqElement -------------------------------------------------------------------------

size_t VirtqElement::read(uint64_t offset, std::span<uint8_t> dst) const {
  size_t done = 0;
  for (const VirtqBuffer& b : out_) {
    if (done == dst.size())
      break;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    size_t n = std::min<uint64_t>(b.len - offset, dst.size() - done);
    memcpy(dst.data() + done, b.host + offset, n);
    done += n;
    offset = 0;
  }
  return done;
}

size_t VirtqElement::write(uint64_t offset, std::span<const uint8_t> src) const {
  size_t done = 0;
  for (const VirtqBuffer& b : in_) {
    if (done == src.size())
      break;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    size_t n = std::min<uint64_t>(b.len - offset, src.size() - done);
    memcpy(b.host + offset, src.data() + done, n);
    mem_->mark_dirty(b.gpa + offset, n);
    done += n;
    offset = 0;
  }
  return done;
}

void VirtqElement::mark_written(uint64_t offset, uint64_t len) const {
  for (const VirtqBuffer& b : in_) {
    if (len == 0)
      break;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(b.len - offset, len);
    mem_->mark_dirty(b.gpa + offset, n);
    len -= n;
    offset = 0;
  }
}

// ---- VirtQueue ----------------------------------------------------------------------------

VirtQueue::VirtQueue(GuestMemory* mem, uint16_t index, uint16_t max_size)
    : mem_(mem), index_(index), max_size_(max_size) {}

Status VirtQueue::check_config(const VirtqConfig& cfg) const {
  if (cfg.size == 0 || cfg.size > max_size_ || (cfg.size & (cfg.size - 1)) != 0) {
    return make_error("queue %u: size %u is not a power of 2 up to %u", index_, cfg.size,
                      max_size_);
  }
  struct Ring {
    const char* what;
    uint64_t addr;
    uint64_t bytes;
    uint64_t align;
  };
  const Ring rings[] = {{"descriptor table", cfg.desc, desc_table_bytes(cfg.size), 16},
                        {"available ring", cfg.avail, avail_bytes(cfg.size), 2},
                        {"used ring", cfg.used, used_bytes(cfg.size), 4}};
  for (const Ring& r : rings) {
    if (r.addr % r.align != 0) {
      return make_error("queue %u: %s at 0x%llx is not %llu-byte aligned", index_, r.what,
                        static_cast<unsigned long long>(r.addr),
                        static_cast<unsigned long long>(r.align));
    }
    if (mem_->host_ptr(r.addr, r.bytes) == nullptr) {
      return make_error("queue %u: %s at 0x%llx+0x%llx is outside guest RAM", index_, r.what,
                        static_cast<unsigned long long>(r.addr),
                        static_cast<unsigned long long>(r.bytes));
    }
  }
  return ok_status();
}

Status VirtQueue::start(const VirtqConfig& cfg, bool event_idx, bool indirect) {
  stop();
  COLO_TRY(check_config(cfg));
  cfg_ = cfg;
  event_idx_ = event_idx;
  indirect_ = indirect;
  started_ = true;
  return ok_status();
}

void VirtQueue::stop() {
  cfg_ = VirtqConfig{};
  idx_ = VirtqIndices{};
  started_ = false;
  broken_ = false;
  event_idx_ = false;
  indirect_ = false;
  notification_ = true;
  in_flight_ = 0;
  pushed_ = false;
}

void VirtQueue::fail(const std::string& why) {
  if (broken_)
    return;
  broken_ = true;
  if (on_error_)
    on_error_(why);
}

// The rings were checked to lie in RAM and be aligned when the queue started, and guest memory
// does not move, so these cannot fail; 16-bit ring fields are naturally aligned.
uint16_t VirtQueue::read_u16(uint64_t gpa) {
  auto* p = reinterpret_cast<uint16_t*>(mem_->host_ptr(gpa, 2));
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

void VirtQueue::write_u16(uint64_t gpa, uint16_t v) {
  auto* p = reinterpret_cast<uint16_t*>(mem_->host_ptr(gpa, 2));
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
  mem_->mark_dirty(gpa, 2);
}

uint16_t VirtQueue::read_avail_idx() {
  return read_u16(cfg_.avail + kAvailIdx);
}

bool VirtQueue::read_desc(uint64_t table, uint32_t n, uint32_t i, VringDesc* out) {
  if (i >= n)
    return false;
  const uint8_t* p = mem_->host_ptr(table + uint64_t{kVringDescSize} * i, kVringDescSize);
  if (p == nullptr)
    return false;
  uint8_t raw[kVringDescSize];
  memcpy(raw, p, sizeof(raw));  // one copy: the guest may rewrite it meanwhile
  out->addr = load_le64(raw);
  out->len = load_le32(raw + 8);
  out->flags = load_le16(raw + 12);
  out->next = load_le16(raw + 14);
  return true;
}

bool VirtQueue::has_available() {
  if (!ready())
    return false;
  return read_avail_idx() != idx_.last_avail_idx;
}

std::optional<VirtqElement> VirtQueue::pop() {
  if (!ready())
    return std::nullopt;
  uint16_t avail_idx = read_avail_idx();
  uint16_t pending = static_cast<uint16_t>(avail_idx - idx_.last_avail_idx);
  if (pending == 0)
    return std::nullopt;
  if (pending > cfg_.size) {
    fail(string_printf("queue %u: available index %u is %u entries ahead of %u (size %u)", index_,
                       avail_idx, pending, idx_.last_avail_idx, cfg_.size));
    return std::nullopt;
  }
  uint16_t head = read_u16(cfg_.avail + kAvailRing + 2ULL * (idx_.last_avail_idx % cfg_.size));
  if (head >= cfg_.size) {
    fail(string_printf("queue %u: head descriptor %u beyond the queue size %u", index_, head,
                       cfg_.size));
    return std::nullopt;
  }

  VirtqElement e;
  e.mem_ = mem_;
  e.head_ = head;
  uint64_t table = cfg_.desc;
  uint32_t table_len = cfg_.size;
  uint32_t limit = cfg_.size;  // descriptors a chain may have in this table
  uint32_t seen = 0;
  bool in_indirect = false;
  uint32_t i = head;
  for (;;) {
    VringDesc d;
    if (!read_desc(table, table_len, i, &d)) {
      fail(string_printf("queue %u: descriptor %u beyond the %stable of %u", index_, i,
                         in_indirect ? "indirect " : "", table_len));
      return std::nullopt;
    }
    if (++seen > limit) {
      fail(string_printf("queue %u: descriptor chain from %u loops or is longer than %u", index_,
                         head, limit));
      return std::nullopt;
    }
    if (d.flags & kVringDescFIndirect) {
      if (!indirect_) {
        fail(string_printf("queue %u: indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC",
                           index_));
        return std::nullopt;
      }
      if (in_indirect) {
        fail(string_printf("queue %u: indirect descriptor inside an indirect table", index_));
        return std::nullopt;
      }
      if (seen != 1 || (d.flags & kVringDescFNext)) {
        fail(string_printf("queue %u: indirect descriptor %u chained to others", index_, i));
        return std::nullopt;
      }
      if (d.len == 0 || d.len % kVringDescSize != 0 || d.len / kVringDescSize > kVirtqMaxIndirect) {
        fail(string_printf("queue %u: indirect table of %u bytes", index_, d.len));
        return std::nullopt;
      }
      if (mem_->host_ptr(d.addr, d.len) == nullptr) {
        fail(string_printf("queue %u: indirect table at 0x%llx+0x%x is outside guest RAM", index_,
                           static_cast<unsigned long long>(d.addr), d.len));
        return std::nullopt;
      }
      table = d.addr;
      table_len = d.len / kVringDescSize;
      limit = table_len;
      seen = 0;
      in_indirect = true;
      i = 0;
      continue;
    }
    bool writable = d.flags & kVringDescFWrite;
    if (!writable && !e.in_.empty()) {
      fail(string_printf("queue %u: device-readable descriptor %u after a device-writable one",
                         index_, i));
      return std::nullopt;
    }
    if (d.len != 0) {
      uint8_t* host = mem_->host_ptr(d.addr, d.len);
      if (host == nullptr) {
        fail(string_printf("queue %u: buffer at 0x%llx+0x%x is outside guest RAM", index_,
                           static_cast<unsigned long long>(d.addr), d.len));
        return std::nullopt;
      }
      if (writable) {
        e.in_.push_back({d.addr, host, d.len});
        e.in_bytes_ += d.len;
      } else {
        e.out_.push_back({d.addr, host, d.len});
        e.out_bytes_ += d.len;
      }
    }
    if (!(d.flags & kVringDescFNext))
      break;
    i = d.next;
  }
  idx_.last_avail_idx++;
  in_flight_++;
  if (event_idx_ && notification_) {
    write_u16(cfg_.used + kUsedRing + kUsedElemSize * cfg_.size, idx_.last_avail_idx);
  }
  return e;
}

void VirtQueue::push(const VirtqElement& elem, uint32_t len) {
  if (!ready())
    return;  // broken or reset meanwhile: the rings are not ours any more
  uint64_t slot = idx_.used_idx % cfg_.size;
  uint64_t gpa = cfg_.used + kUsedRing + kUsedElemSize * slot;
  uint8_t* p = mem_->host_ptr(gpa, kUsedElemSize);
  uint8_t raw[kUsedElemSize];
  store_le32(raw, elem.head());
  store_le32(raw + 4, len);
  memcpy(p, raw, sizeof(raw));
  mem_->mark_dirty(gpa, kUsedElemSize);
  idx_.used_idx++;
  write_u16(cfg_.used + kUsedIdx, idx_.used_idx);  // release: the element before the index
  if (in_flight_ > 0)
    in_flight_--;
  pushed_ = true;
}

void VirtQueue::unpop(uint16_t count) {
  if (count > in_flight_)
    count = static_cast<uint16_t>(in_flight_);
  idx_.last_avail_idx = static_cast<uint16_t>(idx_.last_avail_idx - count);
  in_flight_ -= count;
}

bool VirtQueue::should_notify() {
  if (!ready())
    return false;
  // Nothing used since the last decision: nothing to tell the driver. (Without this a device
  // that runs a round with no work, e.g. at DRIVER_OK, would send a spurious interrupt.)
  if (!std::exchange(pushed_, false))
    return false;
  // The used index must be visible before we look at what the driver asked for.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) {
    return !(read_u16(cfg_.avail + kAvailFlags) & kVringAvailFNoInterrupt);
  }
  uint16_t old_idx = idx_.signalled_used;
  bool valid = idx_.signalled_used_valid;
  uint16_t new_idx = idx_.used_idx;
  idx_.signalled_used = new_idx;
  idx_.signalled_used_valid = true;
  uint16_t used_event = read_u16(cfg_.avail + kAvailRing + 2ULL * cfg_.size);
  return !valid || vring_need_event(used_event, new_idx, old_idx);
}

void VirtQueue::set_notification(bool enable) {
  notification_ = enable;
  if (!ready())
    return;
  if (event_idx_) {
    if (enable) {
      write_u16(cfg_.used + kUsedRing + kUsedElemSize * cfg_.size, read_avail_idx());
    }
  } else {
    write_u16(cfg_.used + kUsedFlags, enable ? 0 : kVringUsedFNoNotify);
  }
  // The flag must be visible before the caller checks the ring again.
  if (enable)
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace colo
