// SPDX-License-Identifier: GPL-2.0-or-later
//
// qcow2 guest-to-host mapping: reads, writes (with copy-on-write of partial clusters from the
// backing file), write_zeroes, discard, make_empty and block status.
//
// Write order for a cluster that needs allocating: alloc_clusters() raises the refcounts (in
// the refcount cache), the whole new cluster (old contents around the new data) is written to
// the file, then the L2 entry is set in the L2 cache. flush_metadata() later writes refcounts,
// syncs, and writes L2 tables. A new L2 table is written and synced before its L1 entry.
#include <algorithm>
#include <cstring>
#include <set>

#include "block/drivers.h"
#include "block/qcow2.h"
#include "util/log.h"

namespace colo::block::qcow2 {

namespace {

// The largest run of newly allocated clusters written in one go.
constexpr uint64_t kMaxAllocRunBytes = 8 << 20;

uint64_t entry_at(const TableCache::Ptr& t, uint64_t i) {
  return load_be64(&t->data[i * 8]);
}
void set_entry(const TableCache::Ptr& t, uint64_t i, uint64_t v) {
  store_be64(&t->data[i * 8], v);
  t->dirty = true;
}

}  // namespace

Result<TableCache::Ptr> Qcow2Node::load_table(TableCache& cache, uint64_t offset,
                                              const char* what) {
  if (TableCache::Ptr t = cache.lookup(offset))
    return t;
  if (offset == 0 || offset_in_cluster(offset) != 0) {
    return corruption("%s offset %#llx is invalid", what, static_cast<unsigned long long>(offset));
  }
  if (offset >= file_->size()) {
    return corruption("%s offset %#llx is past the end of the image file", what,
                      static_cast<unsigned long long>(offset));
  }
  std::vector<uint8_t> data(cluster_size_);
  COLO_TRY(file_->read(offset, data).prepend(string_printf("Could not read a %s", what)));
  TableCache::Ptr t = cache.insert(offset, std::move(data));
  COLO_TRY(make_room(cache));
  return t;
}

Result<TableCache::Ptr> Qcow2Node::get_l2(uint64_t l1_index) {
  if (l1_index >= l1_.size()) {
    return make_error("Guest offset beyond the L1 table of '%s'", node_name().c_str());
  }
  uint64_t entry = l1_[l1_index];
  uint64_t off = entry & kL1OffsetMask;
  if (off == 0)
    return TableCache::Ptr();
  if (offset_in_cluster(off) != 0) {
    return corruption("L2 table offset %#llx unaligned (L1 index %llu)",
                      static_cast<unsigned long long>(off),
                      static_cast<unsigned long long>(l1_index));
  }
  return load_table(l2_cache_, off, "L2 table");
}

Status Qcow2Node::write_l1_entry(uint64_t l1_index) {
  uint8_t buf[8];
  store_be64(buf, l1_[l1_index]);
  return file_->write(header_.l1_table_offset + l1_index * 8, buf)
      .prepend("Could not write the L1 table");
}

Result<TableCache::Ptr> Qcow2Node::get_l2_for_write(uint64_t l1_index) {
  if (l1_index >= l1_.size()) {
    return make_error("Guest offset beyond the L1 table of '%s'", node_name().c_str());
  }
  uint64_t entry = l1_[l1_index];
  if (entry & kL1OffsetMask) {
    COLO_ASSIGN_OR_RETURN(TableCache::Ptr table, get_l2(l1_index));
    if (!(entry & kOflagCopied)) {
      uint64_t off = entry & kL1OffsetMask;
      COLO_ASSIGN_OR_RETURN(uint64_t rc, get_refcount(cluster_of(off)));
      if (rc != 1) {
        return corruption("L2 table at %#llx has refcount %llu without snapshots",
                          static_cast<unsigned long long>(off),
                          static_cast<unsigned long long>(rc));
      }
      l1_[l1_index] = off | kOflagCopied;
      COLO_TRY(write_l1_entry(l1_index));
    }
    return table;
  }
  // A new, empty L2 table: its refcount and contents on disk before the L1 entry.
  COLO_ASSIGN_OR_RETURN(uint64_t cluster, alloc_clusters(1));
  std::vector<uint8_t> zeros(cluster_size_, 0);
  COLO_TRY(write_dirty(rb_cache_));
  COLO_TRY(file_->write(offset_of(cluster), zeros).prepend("Could not write an L2 table"));
  COLO_TRY(sync_file());
  l1_[l1_index] = offset_of(cluster) | kOflagCopied;
  COLO_TRY(write_l1_entry(l1_index));
  metadata_.insert(cluster);
  TableCache::Ptr table = l2_cache_.insert(offset_of(cluster), std::move(zeros));
  COLO_TRY(make_room(l2_cache_));
  return table;
}

ClusterKind Qcow2Node::classify(uint64_t e) const {
  if (e & kOflagCompressed)
    return ClusterKind::kCompressed;
  if (e & kOflagZero)
    return (e & kL2OffsetMask) ? ClusterKind::kZeroAlloc : ClusterKind::kZeroPlain;
  if ((e & kL2OffsetMask) == 0)
    return ClusterKind::kUnallocated;
  return ClusterKind::kNormal;
}

Result<Mapping> Qcow2Node::map_range(uint64_t offset, uint64_t bytes) {
  const uint64_t guest_cluster = offset >> cluster_bits_;
  const uint64_t in_cluster = offset_in_cluster(offset);
  const uint64_t l1_index = guest_cluster >> l2_bits_;
  const uint64_t l2_index = guest_cluster & (l2_entries_ - 1);
  const uint64_t limit = std::min(bytes, (l2_entries_ - l2_index) * cluster_size_ - in_cluster);
  Mapping m;
  COLO_ASSIGN_OR_RETURN(TableCache::Ptr table, get_l2(l1_index));
  if (!table) {
    m.bytes = limit;
    return m;
  }
  auto check_normal = [&](uint64_t e, uint64_t index) -> Status {
    uint64_t off = e & kL2OffsetMask;
    if (offset_in_cluster(off) != 0) {
      return corruption("cluster allocation offset %#llx unaligned (L2 index %llu)",
                        static_cast<unsigned long long>(off),
                        static_cast<unsigned long long>(index));
    }
    return ok_status();
  };
  auto same = [](ClusterKind a, ClusterKind b) {
    auto zero = [](ClusterKind k) {
      return k == ClusterKind::kZeroPlain || k == ClusterKind::kZeroAlloc;
    };
    return a == b || (zero(a) && zero(b));
  };
  uint64_t first = entry_at(table, l2_index);
  m.kind = classify(first);
  if (m.kind == ClusterKind::kNormal) {
    COLO_TRY(check_normal(first, l2_index));
    m.host = (first & kL2OffsetMask) + in_cluster;
  }
  uint64_t covered = cluster_size_ - in_cluster;
  uint64_t expect_host = (first & kL2OffsetMask) + cluster_size_;
  for (uint64_t i = l2_index + 1; covered < limit && m.kind != ClusterKind::kCompressed; i++) {
    uint64_t e = entry_at(table, i);
    ClusterKind k = classify(e);
    if (!same(m.kind, k))
      break;
    if (k == ClusterKind::kNormal) {
      if ((e & kL2OffsetMask) != expect_host)
        break;
      COLO_TRY(check_normal(e, i));
      expect_host += cluster_size_;
    }
    covered += cluster_size_;
  }
  if (m.kind == ClusterKind::kZeroAlloc)
    m.kind = ClusterKind::kZeroPlain;
  m.bytes = std::min(covered, limit);
  return m;
}

Status Qcow2Node::read_backing(uint64_t offset, std::span<uint8_t> buf) {
  uint64_t n = 0;
  if (backing_) {
    uint64_t bsize = backing_->size();
    if (offset < bsize)
      n = std::min<uint64_t>(buf.size(), bsize - offset);
    if (n > 0)
      COLO_TRY(backing_->read(offset, buf.subspan(0, n)));
  }
  if (n < buf.size())
    memset(buf.data() + n, 0, buf.size() - n);
  return ok_status();
}

Status Qcow2Node::do_read(uint64_t offset, std::span<uint8_t> buf) {
  while (!buf.empty()) {
    COLO_ASSIGN_OR_RETURN(Mapping m, map_range(offset, buf.size()));
    std::span<uint8_t> part = buf.subspan(0, m.bytes);
    switch (m.kind) {
      case ClusterKind::kNormal:
        COLO_TRY(file_->read(m.host, part));
        break;
      case ClusterKind::kZeroPlain:
      case ClusterKind::kZeroAlloc:
        memset(part.data(), 0, part.size());
        break;
      case ClusterKind::kUnallocated:
        COLO_TRY(read_backing(offset, part));
        break;
      case ClusterKind::kCompressed:
        return make_error(
            "qcow2 image '%s': compressed clusters are not supported "
            "(guest offset %llu)",
            node_name().c_str(), static_cast<unsigned long long>(offset));
    }
    offset += m.bytes;
    buf = buf.subspan(m.bytes);
  }
  return ok_status();
}

Status Qcow2Node::check_data_overlap(uint64_t host_cluster, uint64_t count) {
  auto it = metadata_.lower_bound(host_cluster);
  if (it != metadata_.end() && *it < host_cluster + count) {
    return corruption("data write to cluster %llu would overwrite metadata",
                      static_cast<unsigned long long>(*it));
  }
  return ok_status();
}

Result<uint64_t> Qcow2Node::write_run(uint64_t offset, std::span<const uint8_t> buf) {
  const uint64_t guest_cluster = offset >> cluster_bits_;
  const uint64_t in_cluster = offset_in_cluster(offset);
  const uint64_t l1_index = guest_cluster >> l2_bits_;
  const uint64_t l2_index = guest_cluster & (l2_entries_ - 1);
  uint64_t limit =
      std::min<uint64_t>(buf.size(), (l2_entries_ - l2_index) * cluster_size_ - in_cluster);
  COLO_ASSIGN_OR_RETURN(TableCache::Ptr table, get_l2_for_write(l1_index));

  // Whether the cluster at L2 index i can be overwritten in place (refcount exactly 1).
  auto in_place = [&](uint64_t i) -> Result<bool> {
    uint64_t e = entry_at(table, i);
    if (classify(e) != ClusterKind::kNormal)
      return false;
    if (offset_in_cluster(e & kL2OffsetMask) != 0) {
      return corruption("cluster allocation offset %#llx unaligned",
                        static_cast<unsigned long long>(e & kL2OffsetMask));
    }
    if (e & kOflagCopied)
      return true;
    COLO_ASSIGN_OR_RETURN(uint64_t rc, get_refcount(cluster_of(e & kL2OffsetMask)));
    if (rc != 1)
      return false;  // shared: copy on write
    set_entry(table, i, e | kOflagCopied);
    return true;
  };

  COLO_ASSIGN_OR_RETURN(bool first_in_place, in_place(l2_index));
  if (first_in_place) {
    uint64_t host = entry_at(table, l2_index) & kL2OffsetMask;
    uint64_t covered = cluster_size_ - in_cluster;
    uint64_t clusters = 1;
    for (uint64_t i = l2_index + 1; covered < limit; i++) {
      COLO_ASSIGN_OR_RETURN(bool ok, in_place(i));
      if (!ok || (entry_at(table, i) & kL2OffsetMask) != host + clusters * cluster_size_)
        break;
      covered += cluster_size_;
      clusters++;
    }
    uint64_t n = std::min(covered, limit);
    COLO_TRY(check_data_overlap(cluster_of(host), clusters));
    COLO_TRY(file_->write(host + in_cluster, buf.subspan(0, n)));
    return n;
  }

  // A run of clusters that need new host clusters.
  limit = std::min(limit, std::max(kMaxAllocRunBytes, cluster_size_) - in_cluster);
  uint64_t clusters = 1;
  uint64_t covered = cluster_size_ - in_cluster;
  while (covered < limit) {
    COLO_ASSIGN_OR_RETURN(bool ok, in_place(l2_index + clusters));
    if (ok)
      break;
    covered += cluster_size_;
    clusters++;
  }
  for (uint64_t i = 0; i < clusters; i++) {
    if (classify(entry_at(table, l2_index + i)) == ClusterKind::kCompressed) {
      return make_error("qcow2 image '%s': compressed clusters are not supported",
                        node_name().c_str());
    }
  }
  const uint64_t n = std::min(covered, limit);
  const uint64_t run_start = guest_cluster << cluster_bits_;
  const uint64_t run_bytes = clusters * cluster_size_;
  std::vector<uint8_t> data(run_bytes);
  // Old contents around the new data (copy on write from the cluster, zeros or backing).
  if (in_cluster > 0) {
    COLO_TRY(do_read(run_start, std::span<uint8_t>(data.data(), in_cluster)));
  }
  const uint64_t tail = in_cluster + n;
  if (tail < run_bytes) {
    COLO_TRY(do_read(run_start + tail, std::span<uint8_t>(data.data() + tail, run_bytes - tail)));
  }
  memcpy(data.data() + in_cluster, buf.data(), n);

  COLO_ASSIGN_OR_RETURN(uint64_t host, alloc_clusters(clusters));
  COLO_TRY(file_->write(offset_of(host), data));
  for (uint64_t i = 0; i < clusters; i++) {
    uint64_t old = entry_at(table, l2_index + i);
    set_entry(table, l2_index + i, offset_of(host + i) | kOflagCopied);
    if (old & kL2OffsetMask)
      free_later(cluster_of(old & kL2OffsetMask), 1);
  }
  return n;
}

Status Qcow2Node::do_write(uint64_t offset, std::span<const uint8_t> buf) {
  if (corrupt_) {
    return make_error("qcow2 image '%s' is marked corrupt; writes are refused",
                      node_name().c_str());
  }
  while (!buf.empty()) {
    COLO_ASSIGN_OR_RETURN(uint64_t n, write_run(offset, buf));
    offset += n;
    buf = buf.subspan(n);
  }
  return ok_status();
}

// Makes whole guest clusters read as zeros (v3 zero flag), releasing their host clusters.
Status Qcow2Node::zero_clusters(uint64_t first_cluster, uint64_t count) {
  while (count > 0) {
    const uint64_t l1_index = first_cluster >> l2_bits_;
    const uint64_t l2_index = first_cluster & (l2_entries_ - 1);
    const uint64_t n = std::min(count, l2_entries_ - l2_index);
    if ((l1_[l1_index] & kL1OffsetMask) == 0 && !backing_) {
      // Unallocated without backing: reads zeros already.
    } else {
      COLO_ASSIGN_OR_RETURN(TableCache::Ptr table, get_l2_for_write(l1_index));
      for (uint64_t i = l2_index; i < l2_index + n; i++) {
        uint64_t e = entry_at(table, i);
        ClusterKind k = classify(e);
        if (k == ClusterKind::kZeroPlain)
          continue;
        if (k == ClusterKind::kUnallocated && !backing_)
          continue;
        if (k == ClusterKind::kCompressed) {
          return make_error("qcow2 image '%s': compressed clusters are not supported",
                            node_name().c_str());
        }
        set_entry(table, i, kOflagZero);
        if (e & kL2OffsetMask)
          free_later(cluster_of(e & kL2OffsetMask), 1);
      }
    }
    first_cluster += n;
    count -= n;
  }
  return ok_status();
}

Status Qcow2Node::do_write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode) {
  if (corrupt_) {
    return make_error("qcow2 image '%s' is marked corrupt; writes are refused",
                      node_name().c_str());
  }
  const uint64_t end = offset + bytes;
  // A request reaching the end of the disk covers the partial last cluster entirely.
  const uint64_t aligned_end =
      end == size() ? (end + cluster_size_ - 1) & ~(cluster_size_ - 1) : end & ~(cluster_size_ - 1);
  const uint64_t aligned_start = (offset + cluster_size_ - 1) & ~(cluster_size_ - 1);
  if (header_.version < 3 || aligned_start >= aligned_end) {
    // v2 has no zero flag: write zeros (skipping what reads as zeros without backing).
    uint64_t pos = offset;
    std::vector<uint8_t> zeros;
    while (pos < end) {
      COLO_ASSIGN_OR_RETURN(Mapping m, map_range(pos, end - pos));
      bool skip =
          m.kind == ClusterKind::kZeroPlain || (m.kind == ClusterKind::kUnallocated && !backing_);
      if (!skip) {
        zeros.assign(std::min<uint64_t>(m.bytes, 1 << 20), 0);
        uint64_t left = m.bytes;
        uint64_t p = pos;
        while (left > 0) {
          uint64_t k = std::min<uint64_t>(left, zeros.size());
          COLO_TRY(do_write(p, std::span<const uint8_t>(zeros.data(), k)));
          p += k;
          left -= k;
        }
      }
      pos += m.bytes;
    }
    return ok_status();
  }
  if (offset < aligned_start)
    COLO_TRY(do_write_zeroes(offset, aligned_start - offset, mode));
  COLO_TRY(zero_clusters(aligned_start >> cluster_bits_,
                         (aligned_end - aligned_start) >> cluster_bits_));
  if (aligned_end < end)
    COLO_TRY(do_write_zeroes(aligned_end, end - aligned_end, mode));
  if (pending_frees_.size() > 4096)
    COLO_TRY(flush_metadata());
  return ok_status();
}

Status Qcow2Node::do_discard(uint64_t offset, uint64_t bytes) {
  if (corrupt_) {
    return make_error("qcow2 image '%s' is marked corrupt; writes are refused",
                      node_name().c_str());
  }
  const uint64_t end = offset + bytes;
  const uint64_t aligned_end =
      end == size() ? (end + cluster_size_ - 1) & ~(cluster_size_ - 1) : end & ~(cluster_size_ - 1);
  const uint64_t aligned_start = (offset + cluster_size_ - 1) & ~(cluster_size_ - 1);
  // Only whole clusters are discarded. With a backing file (v3) they become zero clusters so
  // that stale backing data does not show through; otherwise unallocated.
  const uint64_t replacement = (header_.version >= 3 && backing_) ? kOflagZero : 0;
  uint64_t cluster = aligned_start >> cluster_bits_;
  uint64_t count = aligned_start < aligned_end ? (aligned_end - aligned_start) >> cluster_bits_ : 0;
  while (count > 0) {
    const uint64_t l1_index = cluster >> l2_bits_;
    const uint64_t l2_index = cluster & (l2_entries_ - 1);
    const uint64_t n = std::min(count, l2_entries_ - l2_index);
    if (l1_[l1_index] & kL1OffsetMask) {
      COLO_ASSIGN_OR_RETURN(TableCache::Ptr table, get_l2_for_write(l1_index));
      for (uint64_t i = l2_index; i < l2_index + n; i++) {
        uint64_t e = entry_at(table, i);
        ClusterKind k = classify(e);
        if (k == ClusterKind::kUnallocated || k == ClusterKind::kZeroPlain)
          continue;
        if (k == ClusterKind::kCompressed) {
          return make_error("qcow2 image '%s': compressed clusters are not supported",
                            node_name().c_str());
        }
        set_entry(table, i, replacement);
        free_later(cluster_of(e & kL2OffsetMask), 1);
      }
    }
    cluster += n;
    count -= n;
  }
  if (pending_frees_.size() > 4096)
    COLO_TRY(flush_metadata());
  return ok_status();
}

Status Qcow2Node::do_flush() {
  COLO_TRY(flush_metadata());
  return file_->flush();
}

Status Qcow2Node::do_make_empty() {
  if (corrupt_) {
    return make_error("qcow2 image '%s' is marked corrupt; writes are refused",
                      node_name().c_str());
  }
  // Collect everything the L1 table reaches before changing anything.
  std::vector<std::pair<uint64_t, uint64_t>> frees;
  std::set<uint64_t> tables;
  bool any = false;
  for (uint64_t i = 0; i < l1_.size(); i++) {
    uint64_t l2_off = l1_[i] & kL1OffsetMask;
    if (l2_off == 0)
      continue;
    any = true;
    if (!tables.insert(l2_off).second) {
      return corruption("L2 table %#llx is referenced twice",
                        static_cast<unsigned long long>(l2_off));
    }
    COLO_ASSIGN_OR_RETURN(TableCache::Ptr table, get_l2(i));
    for (uint64_t j = 0; j < l2_entries_; j++) {
      uint64_t e = entry_at(table, j);
      ClusterKind k = classify(e);
      if (k == ClusterKind::kCompressed) {
        return make_error("qcow2 image '%s': compressed clusters are not supported",
                          node_name().c_str());
      }
      uint64_t host = e & kL2OffsetMask;
      if (host == 0)
        continue;
      if (offset_in_cluster(host) != 0) {
        return corruption("cluster allocation offset %#llx unaligned",
                          static_cast<unsigned long long>(host));
      }
      if (!frees.empty() && frees.back().first + frees.back().second == cluster_of(host)) {
        frees.back().second++;
      } else {
        frees.emplace_back(cluster_of(host), 1);
      }
    }
    frees.emplace_back(cluster_of(l2_off), 1);
  }
  if (!any && pending_frees_.empty())
    return ok_status();
  // Refcounts raised for clusters the old tables point to must not be lost (they are freed
  // below); then unlink everything at once by clearing the L1 table.
  COLO_TRY(write_dirty(rb_cache_));
  std::fill(l1_.begin(), l1_.end(), 0);
  std::vector<uint8_t> zeros(l1_.size() * 8, 0);
  if (!zeros.empty()) {
    COLO_TRY(file_->write(header_.l1_table_offset, zeros).prepend("Could not write the L1 table"));
  }
  COLO_TRY(sync_file());
  l2_cache_.clear();
  for (const auto& f : pending_frees_)
    frees.push_back(f);
  pending_frees_.clear();
  COLO_TRY(apply_frees(std::move(frees)));
  COLO_TRY(write_dirty(rb_cache_));
  return process_discards();
}

Result<BlockStatus> Qcow2Node::do_block_status(uint64_t offset, uint64_t bytes) {
  COLO_ASSIGN_OR_RETURN(Mapping m, map_range(offset, bytes));
  BlockStatus st;
  st.bytes = m.bytes;
  switch (m.kind) {
    case ClusterKind::kNormal:
    case ClusterKind::kCompressed:
      st.allocated = true;
      st.data = true;
      break;
    case ClusterKind::kZeroPlain:
    case ClusterKind::kZeroAlloc:
      st.allocated = true;
      st.zero = true;
      break;
    case ClusterKind::kUnallocated:
      st.zero = !backing_ || offset >= backing_->size();
      break;
  }
  return st;
}

}  // namespace colo::block::qcow2
