// SPDX-License-Identifier: GPL-2.0-or-later
#include "block/block-backend.h"

#include <chrono>

namespace colo::block {

namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

std::string_view on_error_name(OnError e) {
  switch (e) {
    case OnError::kReport:
      return "report";
    case OnError::kIgnore:
      return "ignore";
    case OnError::kEnospc:
      return "enospc";
    case OnError::kStop:
      return "stop";
  }
  return "report";
}

BlockBackend::BlockBackend(std::string name, std::shared_ptr<BlockNode> root,
                           BackendOptions options)
    : name_(std::move(name)), root_(std::move(root)), options_(std::move(options)) {}

Status BlockBackend::check(uint64_t offset, uint64_t bytes, bool write) const {
  if (write && read_only())
    return make_error("Device '%s' is read-only", name_.c_str());
  uint64_t sz = size();
  if (offset > sz || bytes > sz - offset) {
    return make_error("Request beyond end of device '%s' (offset %llu, length %llu, size %llu)",
                      name_.c_str(), static_cast<unsigned long long>(offset),
                      static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(sz));
  }
  return ok_status();
}

Status BlockBackend::read(uint64_t offset, std::span<uint8_t> buf) {
  Status st = check(offset, buf.size(), false);
  if (!st.ok()) {
    stats_.account(IoKind::kRead, IoOutcome::kInvalid, 0, 0);
    return st;
  }
  uint64_t start = now_ns();
  st = root_->read(offset, buf);
  stats_.account(IoKind::kRead, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, buf.size(),
                 now_ns() - start);
  return st;
}

Status BlockBackend::write(uint64_t offset, std::span<const uint8_t> buf) {
  Status st = check(offset, buf.size(), true);
  if (!st.ok()) {
    stats_.account(IoKind::kWrite, IoOutcome::kInvalid, 0, 0);
    return st;
  }
  uint64_t start = now_ns();
  st = root_->write(offset, buf);
  if (st.ok() && !options_.write_cache)
    st = root_->flush();
  stats_.account(IoKind::kWrite, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, buf.size(),
                 now_ns() - start);
  if (st.ok())
    stats_.note_write_end(offset + buf.size());
  return st;
}

Status BlockBackend::write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode) {
  Status st = check(offset, bytes, true);
  if (!st.ok()) {
    stats_.account(IoKind::kWrite, IoOutcome::kInvalid, 0, 0);
    return st;
  }
  uint64_t start = now_ns();
  st = root_->write_zeroes(offset, bytes, mode);
  if (st.ok() && !options_.write_cache)
    st = root_->flush();
  stats_.account(IoKind::kWrite, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, bytes,
                 now_ns() - start);
  if (st.ok())
    stats_.note_write_end(offset + bytes);
  return st;
}

Status BlockBackend::discard(uint64_t offset, uint64_t bytes) {
  Status st = check(offset, bytes, true);
  if (!st.ok()) {
    stats_.account(IoKind::kUnmap, IoOutcome::kInvalid, 0, 0);
    return st;
  }
  uint64_t start = now_ns();
  st = root_->discard(offset, bytes);
  stats_.account(IoKind::kUnmap, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, bytes,
                 now_ns() - start);
  return st;
}

Status BlockBackend::flush() {
  uint64_t start = now_ns();
  Status st = root_->flush();
  stats_.account(IoKind::kFlush, st.ok() ? IoOutcome::kDone : IoOutcome::kFailed, 0,
                 now_ns() - start);
  return st;
}

}  // namespace colo::block
