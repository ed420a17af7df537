// SPDX-License-Identifier: GPL-2.0-or-later
//
// The yank registry and the QMP commands yank and query-yank (out of band).
#include "util/yank.h"

#include <mutex>

#include "qapi/qapi-commands.h"

namespace colo {

namespace {

struct Entry {
  uint64_t handle;
  YankInstanceId id;
  std::function<void()> fn;
};

struct Registry {
  std::mutex mutex;
  uint64_t next = 1;
  std::vector<Entry> entries;
};

Registry& registry() {
  static auto* r = new Registry();
  return *r;
}

void unregister(uint64_t handle) {
  if (handle == 0)
    return;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::erase_if(r.entries, [&](const Entry& e) { return e.handle == handle; });
}

}  // namespace

YankRegistration& YankRegistration::operator=(YankRegistration&& other) noexcept {
  if (this != &other) {
    unregister(handle_);
    handle_ = other.handle_;
    other.handle_ = 0;
  }
  return *this;
}

YankRegistration::~YankRegistration() {
  unregister(handle_);
}

YankRegistration yank_register(YankKind kind, std::string name, std::function<void()> fn) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  uint64_t handle = r.next++;
  r.entries.push_back({handle, {kind, std::move(name)}, std::move(fn)});
  return YankRegistration(handle);
}

std::vector<YankInstanceId> yank_instances() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<YankInstanceId> out;
  for (const Entry& e : r.entries) {
    bool seen = false;
    for (const auto& id : out)
      seen = seen || id == e.id;
    if (!seen)
      out.push_back(e.id);
  }
  return out;
}

Status yank(const std::vector<YankInstanceId>& instances) {
  std::vector<std::function<void()>> fns;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    for (const auto& id : instances) {
      bool found = false;
      for (const Entry& e : r.entries) {
        if (e.id == id) {
          found = true;
          fns.push_back(e.fn);
        }
      }
      if (!found)
        return Error("Instance not found", ErrorClass::kDeviceNotFound);
    }
  }
  // Outside the lock: a yank function may unregister (a chardev dropping its peer).
  for (auto& fn : fns)
    fn();
  return ok_status();
}

// QMP ------------------------------------------------------------------------------------------

Status qmp_yank(const std::vector<qapi::YankInstance>& instances, QmpContext& ctx) {
  std::vector<YankInstanceId> ids;
  for (const auto& inst : instances) {
    switch (inst.type) {
      case qapi::YankInstanceType::kBlockNode:
        ids.push_back({YankKind::kBlockNode, inst.u.block_node.node_name});
        break;
      case qapi::YankInstanceType::kChardev:
        ids.push_back({YankKind::kChardev, inst.u.chardev.id});
        break;
      case qapi::YankInstanceType::kMigration:
        ids.push_back({YankKind::kMigration, ""});
        break;
    }
  }
  return yank(ids);
}

Result<std::vector<qapi::YankInstance>> qmp_query_yank(QmpContext& ctx) {
  std::vector<qapi::YankInstance> out;
  for (const auto& id : yank_instances()) {
    qapi::YankInstance inst;
    switch (id.kind) {
      case YankKind::kBlockNode:
        inst.type = qapi::YankInstanceType::kBlockNode;
        inst.u.block_node.node_name = id.name;
        break;
      case YankKind::kChardev:
        inst.type = qapi::YankInstanceType::kChardev;
        inst.u.chardev.id = id.name;
        break;
      case YankKind::kMigration:
        inst.type = qapi::YankInstanceType::kMigration;
        break;
    }
    out.push_back(std::move(inst));
  }
  return out;
}

}  // namespace colo
