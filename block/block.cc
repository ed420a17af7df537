// SPDX-License-Identifier: GPL-2.0-or-later
//
// The generic part of every node: request checks, statistics, detect-zeroes, the driver
// registry, and the chain helpers is_allocated_above() and block_commit().
#include "block/block.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "block/block-driver.h"
#include "block/drivers.h"
#include "util/log.h"

namespace colo::block {

namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

size_t kind_index(IoKind kind) {
  return static_cast<size_t>(kind);
}

// A zero buffer for writing zeros in chunks.
constexpr size_t kZeroChunk = 1 << 20;

}  // namespace

bool buffer_is_zero(std::span<const uint8_t> buf) {
  const uint8_t* p = buf.data();
  size_t n = buf.size();
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    if (v != 0)
      return false;
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    if (*p != 0)
      return false;
    p++;
    n--;
  }
  return true;
}

// ---- IoStats ----

void IoStats::account(IoKind kind, IoOutcome outcome, uint64_t bytes, uint64_t ns) {
  PerKind& k = kinds_[kind_index(kind)];
  switch (outcome) {
    case IoOutcome::kDone:
      k.ops.fetch_add(1, std::memory_order_relaxed);
      k.bytes.fetch_add(bytes, std::memory_order_relaxed);
      k.time_ns.fetch_add(ns, std::memory_order_relaxed);
      break;
    case IoOutcome::kFailed:
      k.failed.fetch_add(1, std::memory_order_relaxed);
      k.time_ns.fetch_add(ns, std::memory_order_relaxed);
      break;
    case IoOutcome::kInvalid:
      k.invalid.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

void IoStats::note_write_end(uint64_t end) {
  uint64_t cur = wr_highest_offset_.load(std::memory_order_relaxed);
  while (end > cur && !wr_highest_offset_.compare_exchange_weak(cur, end)) {
  }
}

BlockDeviceStats IoStats::snapshot() const {
  BlockDeviceStats s;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  const PerKind& rd = kinds_[kind_index(IoKind::kRead)];
  const PerKind& wr = kinds_[kind_index(IoKind::kWrite)];
  const PerKind& fl = kinds_[kind_index(IoKind::kFlush)];
  const PerKind& un = kinds_[kind_index(IoKind::kUnmap)];
  s.rd_bytes = get(rd.bytes);
  s.wr_bytes = get(wr.bytes);
  s.unmap_bytes = get(un.bytes);
  s.rd_operations = get(rd.ops);
  s.wr_operations = get(wr.ops);
  s.flush_operations = get(fl.ops);
  s.unmap_operations = get(un.ops);
  s.rd_total_time_ns = get(rd.time_ns);
  s.wr_total_time_ns = get(wr.time_ns);
  s.flush_total_time_ns = get(fl.time_ns);
  s.unmap_total_time_ns = get(un.time_ns);
  s.failed_rd_operations = get(rd.failed);
  s.failed_wr_operations = get(wr.failed);
  s.failed_flush_operations = get(fl.failed);
  s.failed_unmap_operations = get(un.failed);
  s.invalid_rd_operations = get(rd.invalid);
  s.invalid_wr_operations = get(wr.invalid);
  s.invalid_flush_operations = get(fl.invalid);
  s.invalid_unmap_operations = get(un.invalid);
  s.wr_highest_offset = get(wr_highest_offset_);
  return s;
}

// ---- BlockNode ----

BlockNode::BlockNode(const BlockDriver& driver, NodeOptions options)
    : read_only_(options.read_only), driver_(driver), options_(std::move(options)) {}

BlockNode::~BlockNode() = default;

std::string_view BlockNode::driver_name() const {
  return driver_.name();
}

void BlockNode::add_child(std::string role, std::shared_ptr<BlockNode> node) {
  children_.push_back(BlockChild{std::move(role), std::move(node)});
}

std::shared_ptr<BlockNode> BlockNode::child(std::string_view role) const {
  for (const BlockChild& c : children_) {
    if (c.role == role)
      return c.node;
  }
  return nullptr;
}

std::string BlockNode::filename() const {
  auto f = file();
  return f ? f->filename() : std::string();
}

Status BlockNode::check_request(uint64_t offset, uint64_t bytes, bool write) const {
  if (closed_.load())
    return make_error("Block node '%s' is closed", node_name().c_str());
  if (write && read_only_.load()) {
    return make_error("Block node '%s' is read-only", node_name().c_str());
  }
  if (bytes > UINT64_MAX - offset || offset + bytes > (UINT64_C(1) << 63)) {
    return make_error("Request out of range (offset %llu, length %llu)",
                      static_cast<unsigned long long>(offset),
                      static_cast<unsigned long long>(bytes));
  }
  // A file grows on writes past its end and reads zeros there.
  if (growable())
    return ok_status();
  uint64_t sz = size();
  if (offset > sz || bytes > sz - offset) {
    return make_error("Request beyond end of device '%s' (offset %llu, length %llu, size %llu)",
                      node_name().c_str(), static_cast<unsigned long long>(offset),
                      static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(sz));
  }
  return ok_status();
}

Status BlockNode::read(uint64_t offset, std::span<uint8_t> buf) {
  std::lock_guard<std::mutex> lock(mutex_);
  Status st = check_request(offset, buf.size(), false);
  if (!st.ok()) {
    stats_.account(IoKind::kRead, IoOutcome::kInvalid, 0, 0);
    return st;
  }
  if (buf.empty())
    return ok_status();
  uint64_t start = now_ns();
  st = do_read(offset, buf);
  stats_.account(IoKind::kRead, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, buf.size(),
                 now_ns() - start);
  return st;
}

Status BlockNode::write(uint64_t offset, std::span<const uint8_t> buf) {
  std::lock_guard<std::mutex> lock(mutex_);
  Status st = check_request(offset, buf.size(), true);
  if (!st.ok()) {
    stats_.account(IoKind::kWrite, IoOutcome::kInvalid, 0, 0);
    return st;
  }
  if (buf.empty())
    return ok_status();
  uint64_t start = now_ns();
  if (options_.detect_zeroes != DetectZeroes::kOff && buffer_is_zero(buf)) {
    ZeroMode mode =
        options_.detect_zeroes == DetectZeroes::kUnmap ? ZeroMode::kMayUnmap : ZeroMode::kAllocate;
    st = do_write_zeroes(offset, buf.size(), mode);
  } else {
    st = do_write(offset, buf);
  }
  stats_.account(IoKind::kWrite, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, buf.size(),
                 now_ns() - start);
  if (st.ok())
    stats_.note_write_end(offset + buf.size());
  return st;
}

Status BlockNode::write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  Status st = check_request(offset, bytes, true);
  if (!st.ok()) {
    stats_.account(IoKind::kWrite, IoOutcome::kInvalid, 0, 0);
    return st;
  }
  if (bytes == 0)
    return ok_status();
  if (options_.discard != DiscardMode::kUnmap)
    mode = ZeroMode::kAllocate;
  uint64_t start = now_ns();
  st = do_write_zeroes(offset, bytes, mode);
  stats_.account(IoKind::kWrite, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, bytes,
                 now_ns() - start);
  if (st.ok())
    stats_.note_write_end(offset + bytes);
  return st;
}

Status BlockNode::discard(uint64_t offset, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  Status st = check_request(offset, bytes, true);
  if (!st.ok()) {
    stats_.account(IoKind::kUnmap, IoOutcome::kInvalid, 0, 0);
    return st;
  }
  if (bytes == 0)
    return ok_status();
  uint64_t start = now_ns();
  if (options_.discard == DiscardMode::kUnmap)
    st = do_discard(offset, bytes);
  stats_.account(IoKind::kUnmap, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, bytes,
                 now_ns() - start);
  return st;
}

Status BlockNode::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_.load()) {
    stats_.account(IoKind::kFlush, IoOutcome::kInvalid, 0, 0);
    return make_error("Block node '%s' is closed", node_name().c_str());
  }
  if (read_only_.load())
    return ok_status();
  uint64_t start = now_ns();
  Status st = do_flush();
  stats_.account(IoKind::kFlush, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, 0,
                 now_ns() - start);
  return st;
}

Status BlockNode::make_empty() {
  std::lock_guard<std::mutex> lock(mutex_);
  COLO_TRY(check_request(0, 0, true));
  return do_make_empty();
}

Result<BlockStatus> BlockNode::block_status(uint64_t offset, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_.load())
    return make_error("Block node '%s' is closed", node_name().c_str());
  uint64_t sz = size();
  if (offset >= sz || bytes == 0) {
    return make_error("Block status query beyond end of device '%s' (offset %llu, size %llu)",
                      node_name().c_str(), static_cast<unsigned long long>(offset),
                      static_cast<unsigned long long>(sz));
  }
  bytes = std::min(bytes, sz - offset);
  COLO_ASSIGN_OR_RETURN(BlockStatus st, do_block_status(offset, bytes));
  if (st.bytes == 0 || st.bytes > bytes)
    st.bytes = bytes;
  return st;
}

Result<bool> BlockNode::is_allocated(uint64_t offset, uint64_t bytes, uint64_t* pnum) {
  COLO_ASSIGN_OR_RETURN(BlockStatus st, block_status(offset, bytes));
  *pnum = st.bytes;
  return st.allocated;
}

Status BlockNode::reopen(AccessMode mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_.load())
    return make_error("Block node '%s' is closed", node_name().c_str());
  bool want_ro = mode == AccessMode::kReadOnly;
  if (want_ro == read_only_.load())
    return ok_status();
  COLO_TRY(do_reopen(mode).prepend(string_printf("Cannot reopen '%s' %s", node_name().c_str(),
                                                 want_ro ? "read-only" : "read-write")));
  read_only_.store(want_ro);
  return ok_status();
}

Status BlockNode::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_.load())
    return ok_status();
  Status st = do_close();
  closed_.store(true);
  return st;
}

ImageInfo BlockNode::image_info() const {
  ImageInfo info;
  info.filename = filename();
  info.format = std::string(driver_name());
  info.virtual_size = size();
  info.backing_filename = backing_filename();
  info.backing_filename_format = backing_format();
  fill_image_info(info);
  if (auto b = backing()) {
    info.backing_image = std::make_unique<ImageInfo>(b->image_info());
    if (info.full_backing_filename.empty())
      info.full_backing_filename = b->filename();
  }
  return info;
}

Status BlockNode::do_write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode) {
  std::vector<uint8_t> zeros(std::min<uint64_t>(bytes, kZeroChunk), 0);
  while (bytes > 0) {
    uint64_t n = std::min<uint64_t>(bytes, zeros.size());
    COLO_TRY(do_write(offset, std::span<const uint8_t>(zeros.data(), n)));
    offset += n;
    bytes -= n;
  }
  return ok_status();
}

Status BlockNode::do_discard(uint64_t offset, uint64_t bytes) {
  return ok_status();
}

Status BlockNode::do_make_empty() {
  return make_error("Driver '%s' does not support emptying the image",
                    std::string(driver_name()).c_str());
}

Result<BlockStatus> BlockNode::do_block_status(uint64_t offset, uint64_t bytes) {
  BlockStatus st;
  st.bytes = bytes;
  st.allocated = true;
  st.data = true;
  return st;
}

Status BlockNode::do_reopen(AccessMode mode) {
  if (auto f = file())
    return f->reopen(mode);
  return ok_status();
}

Status BlockNode::do_close() {
  if (read_only_.load())
    return ok_status();
  return do_flush();
}

void BlockNode::fill_image_info(ImageInfo& info) const {
  if (auto f = file()) {
    ImageInfo fi = f->image_info();
    info.actual_size = fi.actual_size;
  }
}

// ---- Driver registry ----

namespace {

struct DriverRegistry {
  std::mutex mutex;
  std::vector<std::unique_ptr<BlockDriver>> drivers;
};

DriverRegistry& registry() {
  static DriverRegistry* r = [] {
    auto* reg = new DriverRegistry;
    reg->drivers.push_back(make_file_driver());
    reg->drivers.push_back(make_host_device_driver());
    reg->drivers.push_back(make_raw_driver());
    reg->drivers.push_back(make_qcow2_driver());
    return reg;
  }();
  return *r;
}

}  // namespace

Status register_block_driver(std::unique_ptr<BlockDriver> driver) {
  DriverRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& d : r.drivers) {
    if (d->name() == driver->name()) {
      return make_error("Block driver '%s' is already registered",
                        std::string(driver->name()).c_str());
    }
  }
  r.drivers.push_back(std::move(driver));
  return ok_status();
}

const BlockDriver* find_block_driver(std::string_view name) {
  DriverRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& d : r.drivers) {
    if (d->name() == name)
      return d.get();
  }
  return nullptr;
}

std::vector<const BlockDriver*> block_drivers() {
  DriverRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<const BlockDriver*> out;
  for (const auto& d : r.drivers)
    out.push_back(d.get());
  return out;
}

// ---- Chains ----

Result<bool> is_allocated_above(BlockNode& top, const BlockNode* base, uint64_t offset,
                                uint64_t bytes, uint64_t* pnum) {
  uint64_t top_size = top.size();
  if (offset >= top_size || bytes == 0) {
    return make_error("Allocation query beyond end of device '%s'", top.node_name().c_str());
  }
  uint64_t n = std::min(bytes, top_size - offset);
  std::shared_ptr<BlockNode> holder;
  BlockNode* node = &top;
  int depth = 0;
  while (node != nullptr && node != base) {
    if (++depth > 1024)
      return make_error("Backing chain of '%s' is too deep", top.node_name().c_str());
    uint64_t sz = node->size();
    if (offset >= sz) {
      // A layer shorter than the top reads as zeros from its end on: that decides the data.
      *pnum = n;
      return true;
    }
    uint64_t pn = 0;
    COLO_ASSIGN_OR_RETURN(bool allocated,
                          node->is_allocated(offset, std::min(n, sz - offset), &pn));
    if (allocated) {
      *pnum = pn;
      return true;
    }
    n = std::min(n, pn);
    holder = node->backing();
    node = holder.get();
  }
  *pnum = n;
  return false;
}

namespace {

// Restores read-only flags of nodes reopened read-write, whatever happens.
class ReopenGuard {
 public:
  ~ReopenGuard() {
    for (auto it = reopened_.rbegin(); it != reopened_.rend(); ++it) {
      Status st = (*it)->reopen(AccessMode::kReadOnly);
      if (!st.ok())
        error_report_err(st.error());
    }
  }
  Status make_writable(BlockNode& node) {
    if (!node.read_only())
      return ok_status();
    COLO_TRY(node.reopen(AccessMode::kReadWrite));
    reopened_.push_back(&node);
    return ok_status();
  }

 private:
  std::vector<BlockNode*> reopened_;
};

constexpr uint64_t kCommitChunk = 4 << 20;

}  // namespace

Status block_commit(BlockNode& top, BlockNode* base) {
  std::shared_ptr<BlockNode> base_holder;
  if (base == nullptr) {
    base_holder = top.backing();
    base = base_holder.get();
    if (base == nullptr) {
      return make_error("Cannot commit '%s': it has no backing file", top.node_name().c_str());
    }
  }
  if (base == &top)
    return make_error("Cannot commit '%s' into itself", top.node_name().c_str());
  // The layers above base, top first.
  std::vector<std::shared_ptr<BlockNode>> layers;
  std::shared_ptr<BlockNode> node = top.shared_from_this();
  while (node && node.get() != base) {
    layers.push_back(node);
    if (layers.size() > 1024) {
      return make_error("Backing chain of '%s' is too deep", top.node_name().c_str());
    }
    node = node->backing();
  }
  if (!node) {
    return make_error("'%s' is not in the backing chain of '%s'", base->node_name().c_str(),
                      top.node_name().c_str());
  }
  uint64_t size = top.size();
  if (size > base->size()) {
    return make_error("Cannot commit '%s' (%llu bytes) into the smaller '%s' (%llu bytes)",
                      top.node_name().c_str(), static_cast<unsigned long long>(size),
                      base->node_name().c_str(), static_cast<unsigned long long>(base->size()));
  }

  ReopenGuard guard;
  COLO_TRY(guard.make_writable(*base));
  for (const auto& layer : layers)
    COLO_TRY(guard.make_writable(*layer));

  std::vector<uint8_t> buf;
  uint64_t offset = 0;
  while (offset < size) {
    uint64_t pnum = 0;
    COLO_ASSIGN_OR_RETURN(bool allocated,
                          is_allocated_above(top, base, offset, size - offset, &pnum));
    if (pnum == 0)
      return make_error("Allocation query made no progress");
    if (allocated) {
      uint64_t end = offset + pnum;
      while (offset < end) {
        uint64_t n = std::min(end - offset, kCommitChunk);
        buf.resize(n);
        COLO_TRY(top.read(offset, buf).prepend("commit: reading the top"));
        if (buffer_is_zero(buf)) {
          COLO_TRY(base->write_zeroes(offset, n).prepend("commit: writing the base"));
        } else {
          COLO_TRY(base->write(offset, buf).prepend("commit: writing the base"));
        }
        offset += n;
      }
    } else {
      offset += pnum;
    }
  }
  COLO_TRY(base->flush().prepend("commit: flushing the base"));
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    COLO_TRY((*it)->make_empty().prepend(
        string_printf("commit: emptying '%s'", (*it)->node_name().c_str())));
  }
  return ok_status();
}

}  // namespace colo::block
