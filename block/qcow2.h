// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: block/qcow2.h (private)
//
// The qcow2 format (docs/interop/qcow2.txt in QEMU). Layout in brief:
//
//   header (cluster 0) --> L1 table --> L2 tables --> data clusters     (guest -> host mapping)
//                      --> refcount table --> refcount blocks            (host cluster use counts)
//
// qcow2.cc parses and validates the header and opens the node; qcow2-cluster.cc maps guest
// offsets (read, write, discard, write_zeroes, make_empty, block status); qcow2-refcount.cc
// keeps refcounts, allocates clusters and flushes metadata in order; qcow2-cache.cc caches L2
// tables and refcount blocks. Everything runs under the node's mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "block/block-driver.h"
#include "block/block.h"
#include "util/error.h"

namespace colo::block::qcow2 {

constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
constexpr uint32_t kV2HeaderLength = 72;
constexpr uint32_t kV3MinHeaderLength = 104;
constexpr uint32_t kMinClusterBits = 9;
constexpr uint32_t kMaxClusterBits = 21;  // QEMU's limit: 2 MiB clusters
constexpr uint64_t kMaxL1Bytes = 32 << 20;
constexpr uint64_t kMaxRefcountTableBytes = 8 << 20;
constexpr uint32_t kMaxSnapshots = 65536;
constexpr uint32_t kMaxBackingNameSize = 1023;
// Host offsets are at most 56 bits (the L1/L2 offset fields).
constexpr uint64_t kMaxHostOffset = UINT64_C(1) << 56;

constexpr uint64_t kIncompatDirty = 1 << 0;
constexpr uint64_t kIncompatCorrupt = 1 << 1;
constexpr uint64_t kIncompatDataFile = 1 << 2;
constexpr uint64_t kIncompatCompression = 1 << 3;
constexpr uint64_t kIncompatExtendedL2 = 1 << 4;
constexpr uint64_t kIncompatKnown = kIncompatDirty | kIncompatCorrupt | kIncompatDataFile |
                                    kIncompatCompression | kIncompatExtendedL2;
constexpr uint64_t kCompatLazyRefcounts = 1 << 0;
constexpr uint64_t kAutoclearBitmaps = 1 << 0;

constexpr uint32_t kExtEnd = 0;
constexpr uint32_t kExtBackingFormat = 0xe2792aca;
constexpr uint32_t kExtFeatureTable = 0x6803f857;
constexpr uint32_t kExtBitmaps = 0x23852875;
constexpr uint32_t kExtCrypto = 0x0537be77;
constexpr uint32_t kExtDataFile = 0x44415441;

constexpr uint64_t kOflagCopied = UINT64_C(1) << 63;
constexpr uint64_t kOflagCompressed = UINT64_C(1) << 62;
constexpr uint64_t kOflagZero = 1;
constexpr uint64_t kL1OffsetMask = UINT64_C(0x00fffffffffffe00);
constexpr uint64_t kL2OffsetMask = UINT64_C(0x00fffffffffffe00);
constexpr uint64_t kRefTableOffsetMask = UINT64_C(0xfffffffffffffe00);

// Header field offsets used for in-place updates.
constexpr uint64_t kHeaderRefcountTableOffset = 48;  // offset (8) + clusters (4)
constexpr uint64_t kHeaderIncompatible = 72;
constexpr uint64_t kHeaderAutoclear = 88;

struct Header {
  uint32_t version = 0;
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  uint32_t cluster_bits = 0;
  uint64_t size = 0;
  uint32_t crypt_method = 0;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = kV2HeaderLength;
  uint8_t compression_type = 0;
};

struct FeatureName {
  uint8_t type = 0;  // 0 incompatible, 1 compatible, 2 autoclear
  uint8_t bit = 0;
  std::string name;
};

// Everything read from the first cluster.
struct ImageHeader {
  Header header;
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> extensions;  // in file order
  std::vector<FeatureName> feature_names;
  std::string backing_file;
  std::string backing_format;
  bool has_bitmaps = false;
};

// Parses and validates the header in `head` (the first cluster, or the whole file if shorter).
// `file_size` bounds the tables. Errors describe what is wrong with the image.
Result<ImageHeader> parse_header(std::span<const uint8_t> head, uint64_t file_size);

// Cached metadata tables (L2 tables, refcount blocks), one cluster each, write-back.
class TableCache {
 public:
  struct Table {
    uint64_t offset = 0;
    std::vector<uint8_t> data;
    bool dirty = false;
    uint64_t last_use = 0;
  };
  using Ptr = std::shared_ptr<Table>;

  explicit TableCache(size_t capacity = 16) : capacity_(capacity < 2 ? 2 : capacity) {}
  void set_capacity(size_t capacity) { capacity_ = capacity < 2 ? 2 : capacity; }

  Ptr lookup(uint64_t offset);
  Ptr insert(uint64_t offset, std::vector<uint8_t> data);
  void drop(uint64_t offset);
  void clear() { map_.clear(); }
  bool has_dirty() const;
  std::vector<Ptr> dirty_tables() const;
  // True if the cache holds more than its capacity and only dirty tables could be evicted.
  bool over_capacity() const { return map_.size() > capacity_; }
  // Evicts clean, unused tables until within capacity; returns false if dirty ones remain over.
  bool evict_clean();
  size_t size() const { return map_.size(); }

 private:
  std::unordered_map<uint64_t, Ptr> map_;
  size_t capacity_;
  uint64_t clock_ = 0;
};

enum class ClusterKind { kUnallocated, kZeroPlain, kZeroAlloc, kNormal, kCompressed };

// A run of guest clusters with the same kind, from map_range().
struct Mapping {
  ClusterKind kind = ClusterKind::kUnallocated;
  uint64_t host = 0;   // kNormal: host offset of the first byte
  uint64_t bytes = 0;  // length of the run from the queried offset
};

struct CacheOptions {
  uint64_t l2_cache_bytes = 0;        // 0: default
  uint64_t refcount_cache_bytes = 0;  // 0: default
};

class Qcow2Node final : public BlockNode {
 public:
  Qcow2Node(const BlockDriver& driver, NodeOptions options, std::shared_ptr<BlockNode> file,
            ImageHeader image, CacheOptions cache);
  ~Qcow2Node() override;

  // Reads the L1 and refcount tables; for a writable node, prepares the image for writing.
  Status load();
  void set_backing(std::shared_ptr<BlockNode> backing);

  uint64_t size() const override { return header_.size; }
  std::string backing_filename() const override { return image_.backing_file; }
  std::string backing_format() const override { return image_.backing_format; }

 protected:
  Status do_read(uint64_t offset, std::span<uint8_t> buf) override;
  Status do_write(uint64_t offset, std::span<const uint8_t> buf) override;
  Status do_write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode) override;
  Status do_discard(uint64_t offset, uint64_t bytes) override;
  Status do_flush() override;
  Status do_make_empty() override;
  Result<BlockStatus> do_block_status(uint64_t offset, uint64_t bytes) override;
  Status do_reopen(AccessMode mode) override;
  Status do_close() override;
  void fill_image_info(ImageInfo& info) const override;

 private:
  // ---- geometry (qcow2.cc) ----
  BlockNode* file_;
  BlockNode* backing_ = nullptr;
  ImageHeader image_;
  Header& header_;
  uint32_t cluster_bits_;
  uint64_t cluster_size_;
  uint32_t l2_bits_;  // log2 of entries per L2 table
  uint64_t l2_entries_;
  uint32_t refcount_bits_;  // width of one refcount
  uint64_t refcount_max_;
  uint32_t rb_bits_;  // log2 of entries per refcount block
  uint64_t rb_entries_;
  bool corrupt_ = false;

  std::vector<uint64_t> l1_;
  std::vector<uint64_t> rt_;  // the refcount table
  TableCache l2_cache_;
  TableCache rb_cache_;

  // Refcount decrements to apply once the metadata no longer referencing the clusters is on
  // disk (flush_metadata), as (first cluster, count).
  std::vector<std::pair<uint64_t, uint64_t>> pending_frees_;
  // Clusters being allocated whose refcounts are not raised yet, as (first, count).
  std::vector<std::pair<uint64_t, uint64_t>> reserved_;
  // Freed host ranges to discard in the file (discard=unmap), as (offset, bytes).
  std::vector<std::pair<uint64_t, uint64_t>> discards_;
  uint64_t free_hint_ = 0;  // no free cluster below this one
  // Clusters holding metadata (writable nodes only): allocations and in-place data writes
  // that would hit one mean the refcounts are broken, and the image is marked corrupt.
  std::set<uint64_t> metadata_;

  uint64_t cluster_of(uint64_t host_offset) const { return host_offset >> cluster_bits_; }
  uint64_t offset_of(uint64_t cluster) const { return cluster << cluster_bits_; }
  uint64_t offset_in_cluster(uint64_t offset) const { return offset & (cluster_size_ - 1); }

  Status check_writable_image() const;
  Status prepare_for_writing();
  void build_metadata_set();
  // Marks the image corrupt (on disk too, if writable) and returns the error.
  Error corruption(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  // ---- tables (qcow2-cluster.cc) ----
  Result<TableCache::Ptr> load_table(TableCache& cache, uint64_t offset, const char* what);
  // The L2 table for l1_index, or nullptr if it has none.
  Result<TableCache::Ptr> get_l2(uint64_t l1_index);
  // The L2 table for l1_index, allocated if missing and safe to modify.
  Result<TableCache::Ptr> get_l2_for_write(uint64_t l1_index);
  Status write_l1_entry(uint64_t l1_index);
  ClusterKind classify(uint64_t l2_entry) const;
  Result<Mapping> map_range(uint64_t offset, uint64_t bytes);
  Status read_backing(uint64_t offset, std::span<uint8_t> buf);
  // Writes within one L2 table; returns the bytes consumed.
  Result<uint64_t> write_run(uint64_t offset, std::span<const uint8_t> buf);
  Status zero_clusters(uint64_t first_cluster, uint64_t count);
  Status check_data_overlap(uint64_t host_cluster, uint64_t count);

  // ---- refcounts and allocation (qcow2-refcount.cc) ----
  uint64_t rb_get(const uint8_t* block, uint64_t index) const;
  void rb_set(uint8_t* block, uint64_t index, uint64_t value) const;
  Result<TableCache::Ptr> load_refcount_block(uint64_t rt_index);
  Result<uint64_t> get_refcount(uint64_t cluster);
  Status update_refcount(uint64_t cluster, int64_t delta);
  Result<uint64_t> alloc_clusters(uint64_t count);
  Status alloc_refcount_block(uint64_t rt_index);
  Status grow_refcount_table(uint64_t min_entries);
  bool is_reserved(uint64_t cluster) const;
  void free_later(uint64_t cluster, uint64_t count);
  Status apply_frees(std::vector<std::pair<uint64_t, uint64_t>> frees);
  Status write_dirty(TableCache& cache);
  Status make_room(TableCache& cache);
  // Writes all cached metadata in dependency order (see block.h), then applies pending frees.
  Status flush_metadata();
  Status sync_file();
  void queue_discard(uint64_t host_offset, uint64_t bytes);
  Status process_discards();
};

}  // namespace colo::block::qcow2
