// SPDX-License-Identifier: GPL-2.0-or-later
//
// qcow2 metadata cache: L2 tables and refcount blocks by host offset, least recently used
// first out. Dirty tables are never evicted here: the node writes them back in order
// (Qcow2Node::make_room) first. Tables handed out are shared_ptrs, and a table somebody still
// holds is not evicted either, so a caller's pointer stays the cached copy.
#include <algorithm>

#include "block/qcow2.h"

namespace colo::block::qcow2 {

TableCache::Ptr TableCache::lookup(uint64_t offset) {
  auto it = map_.find(offset);
  if (it == map_.end())
    return nullptr;
  it->second->last_use = ++clock_;
  return it->second;
}

TableCache::Ptr TableCache::insert(uint64_t offset, std::vector<uint8_t> data) {
  auto t = std::make_shared<Table>();
  t->offset = offset;
  t->data = std::move(data);
  t->last_use = ++clock_;
  map_[offset] = t;
  return t;
}

void TableCache::drop(uint64_t offset) {
  map_.erase(offset);
}

bool TableCache::has_dirty() const {
  for (const auto& [off, t] : map_) {
    if (t->dirty)
      return true;
  }
  return false;
}

std::vector<TableCache::Ptr> TableCache::dirty_tables() const {
  std::vector<Ptr> out;
  for (const auto& [off, t] : map_) {
    if (t->dirty)
      out.push_back(t);
  }
  // In offset order: sequential writes.
  std::sort(out.begin(), out.end(),
            [](const Ptr& a, const Ptr& b) { return a->offset < b->offset; });
  return out;
}

bool TableCache::evict_clean() {
  while (map_.size() > capacity_) {
    auto victim = map_.end();
    for (auto it = map_.begin(); it != map_.end(); ++it) {
      if (it->second->dirty || it->second.use_count() > 1)
        continue;
      if (victim == map_.end() || it->second->last_use < victim->second->last_use)
        victim = it;
    }
    if (victim == map_.end())
      return false;
    map_.erase(victim);
  }
  return true;
}

}  // namespace colo::block::qcow2
