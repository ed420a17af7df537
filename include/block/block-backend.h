// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: block/block-backend.h
//
// A BlockBackend is what a guest device (or a -drive id) uses: a named handle on a root node,
// with the device-level settings of -drive (interface, write cache, error policies, serial)
// and its own statistics for query-blockstats. It checks requests against the root's size and
// read-only flag, and with the write cache disabled (cache=writethrough/directsync) it flushes
// after every write. Like nodes it is synchronous and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "block/block.h"
#include "util/error.h"

namespace colo::block {

// What a device does when a request fails (QEMU's BlockdevOnError).
enum class OnError { kReport, kIgnore, kEnospc, kStop };

// The -drive settings that belong to the device rather than to a node.
struct BackendOptions {
  std::string interface = "none";  // if=: "none" or "virtio"
  bool write_cache = true;         // false for cache=writethrough/directsync
  OnError werror = OnError::kEnospc;
  OnError rerror = OnError::kReport;
  std::string serial;
  bool read_only = false;
};

class BlockBackend {
 public:
  BlockBackend(std::string name, std::shared_ptr<BlockNode> root, BackendOptions options);

  const std::string& name() const { return name_; }
  const std::shared_ptr<BlockNode>& root() const { return root_; }
  const BackendOptions& options() const { return options_; }
  bool read_only() const { return options_.read_only || root_->read_only(); }
  bool write_cache_enabled() const { return options_.write_cache; }
  uint64_t size() const { return root_->size(); }

  Status read(uint64_t offset, std::span<uint8_t> buf);
  Status write(uint64_t offset, std::span<const uint8_t> buf);
  Status write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode = ZeroMode::kAllocate);
  Status discard(uint64_t offset, uint64_t bytes);
  Status flush();

  BlockDeviceStats stats() const { return stats_.snapshot(); }

 private:
  std::string name_;
  std::shared_ptr<BlockNode> root_;
  BackendOptions options_;
  IoStats stats_;

  Status check(uint64_t offset, uint64_t bytes, bool write) const;
};

std::string_view on_error_name(OnError e);

}  // namespace colo::block
