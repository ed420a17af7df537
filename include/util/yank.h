// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/yank.h
//
// Yank: forcibly closing connections that hang (QEMU's util/yank.c). Each instance (a socket
// chardev, an NBD block node, the migration connections) registers a function that drops its
// connection; QMP `yank` (out of band, on the monitor I/O thread) calls it. Thread-safe: yank
// functions must be callable from any thread and must not block.
//
//   YankRegistration r = yank_register(YankKind::kChardev, "compare0", [this] { disconnect(); });
//   // ... unregistered when r is destroyed
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/error.h"

namespace colo {

enum class YankKind { kBlockNode, kChardev, kMigration };

struct YankInstanceId {
  YankKind kind = YankKind::kChardev;
  std::string name;  // node-name or chardev id; empty for migration
  bool operator==(const YankInstanceId&) const = default;
};

// Unregisters on destruction. Movable.
class YankRegistration {
 public:
  YankRegistration() = default;
  explicit YankRegistration(uint64_t handle) : handle_(handle) {}
  YankRegistration(YankRegistration&& other) noexcept : handle_(other.handle_) {
    other.handle_ = 0;
  }
  YankRegistration& operator=(YankRegistration&& other) noexcept;
  ~YankRegistration();

 private:
  uint64_t handle_ = 0;
};

[[nodiscard]] YankRegistration yank_register(YankKind kind, std::string name,
                                             std::function<void()> fn);
// The registered instances, in registration order, each once.
std::vector<YankInstanceId> yank_instances();
// Calls the functions of every given instance; DeviceNotFound "Instance not found" (QEMU's
// text) and nothing yanked if one is not registered.
Status yank(const std::vector<YankInstanceId>& instances);

}  // namespace colo
