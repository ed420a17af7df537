// SPDX-License-Identifier: GPL-2.0-or-later
//
// qcow2 refcounts and cluster allocation.
//
// A host cluster is free when its refcount is 0; clusters past the range the refcount table
// covers, and clusters of a range whose refcount block is not allocated, have refcount 0.
// alloc_clusters() finds a free run (first fit from free_hint_), reserves it, and raises the
// refcounts, which may need a new refcount block (placed inside the range it describes when
// possible, so it counts itself) or a bigger refcount table (written, together with the
// refcount blocks covering it, past everything the old table covers; the header is switched
// to it only after both are on disk). Decrements of clusters that were unlinked wait in
// pending_frees_ until flush_metadata() has put the unlinking metadata on disk.
#include <algorithm>
#include <cstring>

#include "block/drivers.h"
#include "block/qcow2.h"
#include "util/log.h"

namespace colo::block::qcow2 {

uint64_t Qcow2Node::rb_get(const uint8_t* block, uint64_t index) const {
  switch (header_.refcount_order) {
    case 0:
    case 1:
    case 2: {
      uint64_t bit = index * refcount_bits_;
      return (block[bit / 8] >> (bit % 8)) & refcount_max_;
    }
    case 3:
      return block[index];
    case 4:
      return load_be16(block + index * 2);
    case 5:
      return load_be32(block + index * 4);
    default:
      return load_be64(block + index * 8);
  }
}

void Qcow2Node::rb_set(uint8_t* block, uint64_t index, uint64_t value) const {
  switch (header_.refcount_order) {
    case 0:
    case 1:
    case 2: {
      uint64_t bit = index * refcount_bits_;
      uint8_t mask = static_cast<uint8_t>(refcount_max_ << (bit % 8));
      block[bit / 8] =
          static_cast<uint8_t>((block[bit / 8] & ~mask) | ((value << (bit % 8)) & mask));
      break;
    }
    case 3:
      block[index] = static_cast<uint8_t>(value);
      break;
    case 4:
      store_be16(block + index * 2, static_cast<uint16_t>(value));
      break;
    case 5:
      store_be32(block + index * 4, static_cast<uint32_t>(value));
      break;
    default:
      store_be64(block + index * 8, value);
      break;
  }
}

Result<TableCache::Ptr> Qcow2Node::load_refcount_block(uint64_t rt_index) {
  if (rt_index >= rt_.size())
    return TableCache::Ptr();
  uint64_t entry = rt_[rt_index];
  uint64_t off = entry & kRefTableOffsetMask;
  if (off == 0)
    return TableCache::Ptr();
  if ((entry & ~kRefTableOffsetMask) != 0 || offset_in_cluster(off) != 0) {
    return corruption("refcount block offset %#llx is invalid (refcount table index %llu)",
                      static_cast<unsigned long long>(entry),
                      static_cast<unsigned long long>(rt_index));
  }
  return load_table(rb_cache_, off, "refcount block");
}

Result<uint64_t> Qcow2Node::get_refcount(uint64_t cluster) {
  COLO_ASSIGN_OR_RETURN(TableCache::Ptr block, load_refcount_block(cluster >> rb_bits_));
  if (!block)
    return uint64_t{0};
  return rb_get(block->data.data(), cluster & (rb_entries_ - 1));
}

bool Qcow2Node::is_reserved(uint64_t cluster) const {
  for (const auto& [first, count] : reserved_) {
    if (cluster >= first && cluster - first < count)
      return true;
  }
  return false;
}

Status Qcow2Node::update_refcount(uint64_t cluster, int64_t delta) {
  uint64_t rt_index = cluster >> rb_bits_;
  COLO_ASSIGN_OR_RETURN(TableCache::Ptr block, load_refcount_block(rt_index));
  if (!block) {
    if (delta < 0) {
      return corruption("refcount of cluster %llu would drop below zero",
                        static_cast<unsigned long long>(cluster));
    }
    COLO_TRY(alloc_refcount_block(rt_index));
    COLO_ASSIGN_OR_RETURN(block, load_refcount_block(rt_index));
    if (!block)
      return make_error("Refcount block allocation failed");
  }
  uint64_t index = cluster & (rb_entries_ - 1);
  uint64_t old = rb_get(block->data.data(), index);
  uint64_t value;
  if (delta < 0) {
    uint64_t d = static_cast<uint64_t>(-delta);
    if (old < d) {
      return corruption("refcount of cluster %llu would drop below zero",
                        static_cast<unsigned long long>(cluster));
    }
    value = old - d;
  } else {
    uint64_t d = static_cast<uint64_t>(delta);
    if (refcount_max_ - old < d) {
      return make_error("Refcount of cluster %llu would overflow its %u bits",
                        static_cast<unsigned long long>(cluster), refcount_bits_);
    }
    value = old + d;
  }
  rb_set(block->data.data(), index, value);
  block->dirty = true;
  if (value == 0) {
    free_hint_ = std::min(free_hint_, cluster);
    metadata_.erase(cluster);
    // A freed cluster must not be written from a stale cached copy later.
    l2_cache_.drop(offset_of(cluster));
    queue_discard(offset_of(cluster), cluster_size_);
  }
  return ok_status();
}

Result<uint64_t> Qcow2Node::alloc_clusters(uint64_t count) {
  if (count == 0)
    return make_error("Cannot allocate zero clusters");
  const uint64_t max_cluster = kMaxHostOffset >> cluster_bits_;
  // No cluster past the end of the file is in use (allocations write their clusters at once),
  // which also bounds the scan on images whose refcounts claim otherwise.
  const uint64_t file_end = (file_->size() + cluster_size_ - 1) >> cluster_bits_;
  uint64_t start = free_hint_;
  uint64_t run = 0;
  uint64_t c = start;
  // The first free cluster also advances free_hint_.
  bool hint_valid = true;
  while (run < count) {
    if (c >= max_cluster || count > max_cluster - c) {
      return make_error("qcow2 image '%s' would exceed the maximum file size", node_name().c_str());
    }
    bool busy = is_reserved(c);
    if (!busy) {
      COLO_ASSIGN_OR_RETURN(uint64_t rc, get_refcount(c));
      busy = rc != 0;
      if (busy && c >= file_end) {
        return corruption("cluster %llu past the end of the file has refcount %llu",
                          static_cast<unsigned long long>(c), static_cast<unsigned long long>(rc));
      }
    }
    if (busy) {
      if (hint_valid && c == free_hint_)
        free_hint_ = c + 1;
      c++;
      start = c;
      run = 0;
      continue;
    }
    hint_valid = false;
    run++;
    c++;
  }
  for (uint64_t i = 0; i < count; i++) {
    if (metadata_.count(start + i)) {
      return corruption("allocation of cluster %llu overlaps metadata (refcounts are broken)",
                        static_cast<unsigned long long>(start + i));
    }
  }
  reserved_.emplace_back(start, count);
  Status st = ok_status();
  uint64_t done = 0;
  for (; done < count; done++) {
    st = update_refcount(start + done, 1);
    if (!st.ok())
      break;
  }
  reserved_.pop_back();
  if (!st.ok()) {
    for (uint64_t i = 0; i < done; i++)
      (void)update_refcount(start + i, -1);
    return std::move(st).error();
  }
  if (free_hint_ == start)
    free_hint_ = start + count;
  return start;
}

Status Qcow2Node::alloc_refcount_block(uint64_t rt_index) {
  if (rt_index >= rt_.size()) {
    COLO_TRY(grow_refcount_table(rt_index + 1));
    if (rt_[rt_index] != 0)
      return ok_status();  // the new table came with this block
  }
  const uint64_t first = rt_index << rb_bits_;
  const uint64_t max_cluster = kMaxHostOffset >> cluster_bits_;
  // Every cluster of the range has refcount 0 (no block counts it): put the block in the
  // range itself, so it counts itself.
  uint64_t where = UINT64_MAX;
  for (uint64_t c = first; c < first + rb_entries_ && c < max_cluster; c++) {
    if (!is_reserved(c)) {
      where = c;
      break;
    }
  }
  std::vector<uint8_t> block(cluster_size_, 0);
  if (where != UINT64_MAX) {
    rb_set(block.data(), where - first, 1);
  } else {
    // The whole range is being allocated right now: the block goes elsewhere.
    COLO_ASSIGN_OR_RETURN(where, alloc_clusters(1));
    // Its own refcount lives in another block, which must reach the disk too.
    COLO_TRY(write_dirty(rb_cache_));
  }
  if (metadata_.count(where)) {
    return corruption("new refcount block at cluster %llu overlaps metadata",
                      static_cast<unsigned long long>(where));
  }
  COLO_TRY(file_->write(offset_of(where), block).prepend("Could not write a refcount block"));
  COLO_TRY(sync_file());
  uint8_t entry[8];
  store_be64(entry, offset_of(where));
  COLO_TRY(file_->write(header_.refcount_table_offset + rt_index * 8, entry)
               .prepend("Could not update the refcount table"));
  rt_[rt_index] = offset_of(where);
  metadata_.insert(where);
  rb_cache_.insert(offset_of(where), std::move(block));
  COLO_TRY(make_room(rb_cache_));
  return ok_status();
}

Status Qcow2Node::grow_refcount_table(uint64_t min_entries) {
  const uint64_t e = rb_entries_;
  const uint64_t old_entries = rt_.size();
  const uint64_t entries_per_cluster = cluster_size_ / 8;
  // Place the new table and its refcount blocks past everything the old table covers (all
  // free) and past any cluster being allocated.
  uint64_t start = old_entries * e;
  for (const auto& [first, count] : reserved_)
    start = std::max(start, first + count);
  uint64_t want = std::max(min_entries, old_entries + old_entries / 2 + 1);
  uint64_t blocks = 0;
  uint64_t table = (want + entries_per_cluster - 1) / entries_per_cluster;
  for (int i = 0;; i++) {
    if (i > 64)
      return make_error("Could not lay out a new refcount table");
    uint64_t end = start + blocks + table;
    uint64_t first_rt = start / e;
    uint64_t last_rt = (end - 1) / e;
    uint64_t need_blocks = last_rt - first_rt + 1;
    uint64_t need_entries = std::max(want, last_rt + 1);
    uint64_t need_table = (need_entries + entries_per_cluster - 1) / entries_per_cluster;
    if (need_blocks <= blocks && need_table <= table)
      break;
    blocks = std::max(blocks, need_blocks);
    table = std::max(table, need_table);
  }
  if (table * cluster_size_ > kMaxRefcountTableBytes) {
    return make_error("qcow2 image '%s' would need a refcount table larger than %llu bytes",
                      node_name().c_str(), static_cast<unsigned long long>(kMaxRefcountTableBytes));
  }
  const uint64_t end = start + blocks + table;
  if (end > (kMaxHostOffset >> cluster_bits_)) {
    return make_error("qcow2 image '%s' would exceed the maximum file size", node_name().c_str());
  }
  for (uint64_t c = start; c < end; c++) {
    if (metadata_.count(c)) {
      return corruption("new refcount table at cluster %llu overlaps metadata",
                        static_cast<unsigned long long>(c));
    }
  }
  const uint64_t first_rt = start / e;
  // The refcount blocks: every cluster of [start, end) has refcount 1.
  std::vector<uint8_t> block_data(blocks * cluster_size_, 0);
  for (uint64_t c = start; c < end; c++) {
    uint64_t b = c / e - first_rt;
    rb_set(&block_data[b * cluster_size_], c % e, 1);
  }
  // The table: the old entries plus the new blocks.
  std::vector<uint64_t> new_rt(table * entries_per_cluster, 0);
  std::copy(rt_.begin(), rt_.end(), new_rt.begin());
  for (uint64_t b = 0; b < blocks; b++)
    new_rt[first_rt + b] = offset_of(start + b);
  std::vector<uint8_t> table_data(table * cluster_size_, 0);
  for (size_t i = 0; i < new_rt.size(); i++)
    store_be64(&table_data[i * 8], new_rt[i]);

  COLO_TRY(file_->write(offset_of(start), block_data).prepend("Could not write refcount blocks"));
  COLO_TRY(file_->write(offset_of(start + blocks), table_data)
               .prepend("Could not write the refcount table"));
  // Dirty blocks in the cache stay where they are; the new table points at them too, and
  // they must be on disk before the header switches to it.
  COLO_TRY(write_dirty(rb_cache_));
  COLO_TRY(sync_file());
  uint8_t hdr[12];
  store_be64(hdr, offset_of(start + blocks));
  store_be32(hdr + 8, static_cast<uint32_t>(table));
  COLO_TRY(file_->write(kHeaderRefcountTableOffset, hdr).prepend("Could not update the header"));
  COLO_TRY(sync_file());

  const uint64_t old_first = cluster_of(header_.refcount_table_offset);
  const uint64_t old_clusters = header_.refcount_table_clusters;
  header_.refcount_table_offset = offset_of(start + blocks);
  header_.refcount_table_clusters = static_cast<uint32_t>(table);
  rt_ = std::move(new_rt);
  for (uint64_t c = start; c < end; c++)
    metadata_.insert(c);
  for (uint64_t b = 0; b < blocks; b++) {
    rb_cache_.insert(offset_of(start + b),
                     std::vector<uint8_t>(block_data.begin() + b * cluster_size_,
                                          block_data.begin() + (b + 1) * cluster_size_));
  }
  COLO_TRY(make_room(rb_cache_));
  // The old table is garbage now.
  for (uint64_t i = 0; i < old_clusters; i++) {
    metadata_.erase(old_first + i);
    COLO_TRY(update_refcount(old_first + i, -1));
  }
  return ok_status();
}

void Qcow2Node::free_later(uint64_t cluster, uint64_t count) {
  if (!pending_frees_.empty()) {
    auto& last = pending_frees_.back();
    if (last.first + last.second == cluster) {
      last.second += count;
      return;
    }
  }
  pending_frees_.emplace_back(cluster, count);
}

Status Qcow2Node::apply_frees(std::vector<std::pair<uint64_t, uint64_t>> frees) {
  std::sort(frees.begin(), frees.end());
  for (const auto& [first, count] : frees) {
    for (uint64_t i = 0; i < count; i++)
      COLO_TRY(update_refcount(first + i, -1));
  }
  return ok_status();
}

Status Qcow2Node::write_dirty(TableCache& cache) {
  for (const TableCache::Ptr& t : cache.dirty_tables()) {
    COLO_TRY(file_->write(t->offset, t->data).prepend("Could not write qcow2 metadata"));
    t->dirty = false;
  }
  return ok_status();
}

Status Qcow2Node::make_room(TableCache& cache) {
  if (!cache.over_capacity() || cache.evict_clean())
    return ok_status();
  // Only dirty tables are left to evict: write them back, in order.
  if (&cache == &l2_cache_) {
    COLO_TRY(write_dirty(rb_cache_));
    COLO_TRY(sync_file());
  }
  COLO_TRY(write_dirty(cache));
  cache.evict_clean();
  return ok_status();
}

Status Qcow2Node::sync_file() {
  return file_->flush();
}

Status Qcow2Node::flush_metadata() {
  bool l2_dirty = l2_cache_.has_dirty();
  // Refcounts first: nothing may point at a cluster whose refcount is not on disk.
  COLO_TRY(write_dirty(rb_cache_));
  if (l2_dirty) {
    COLO_TRY(sync_file());
    COLO_TRY(write_dirty(l2_cache_));
  }
  if (!pending_frees_.empty()) {
    // The clusters are unlinked on disk once this sync returns; only then are they free.
    COLO_TRY(sync_file());
    auto frees = std::move(pending_frees_);
    pending_frees_.clear();
    COLO_TRY(apply_frees(std::move(frees)));
    COLO_TRY(write_dirty(rb_cache_));
  }
  return process_discards();
}

void Qcow2Node::queue_discard(uint64_t host_offset, uint64_t bytes) {
  if (options().discard != DiscardMode::kUnmap)
    return;
  if (!discards_.empty()) {
    auto& last = discards_.back();
    if (last.first + last.second == host_offset) {
      last.second += bytes;
      return;
    }
  }
  discards_.emplace_back(host_offset, bytes);
}

Status Qcow2Node::process_discards() {
  auto list = std::move(discards_);
  discards_.clear();
  for (const auto& [off, len] : list) {
    // Only clusters that are still free: a later allocation may have reused one.
    for (uint64_t c = cluster_of(off); c < cluster_of(off + len); c++) {
      COLO_ASSIGN_OR_RETURN(uint64_t rc, get_refcount(c));
      if (rc == 0)
        COLO_TRY(file_->discard(offset_of(c), cluster_size_));
    }
  }
  return ok_status();
}

}  // namespace colo::block::qcow2
