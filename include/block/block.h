// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: block/block.h
//
// The block layer: a graph of nodes, as in QEMU.
//
// NODE MODEL
//   A BlockNode (QEMU: BlockDriverState) is one layer of a disk: it has a node-name, a driver,
//   a size, a read-only flag and named children. Protocol drivers talk to the host ("file": a
//   host file or block device); format drivers interpret a child's bytes ("raw", "qcow2") and
//   reach it through the "file" child; qcow2 may also have a "backing" child that supplies the
//   clusters it has not allocated itself. A COLO secondary's disk is, top to bottom:
//
//       active (qcow2) --backing--> hidden (qcow2) --backing--> secondary disk (raw/qcow2)
//            |file                        |file                        |file
//          file                         file                         file
//
//   Drivers implement the BlockDriver interface (block/block-driver.h) and are registered by
//   name, so later drivers (nbd, replication, quorum) plug in without touching this code. Nodes
//   are shared: a parent holds its children by shared_ptr and the BlockGraph registry
//   (block/blockdev.h) holds every node by its name. A BlockBackend (block/block-backend.h) is
//   what a device or a -drive id uses: a named handle on a root node with its own statistics.
//
// OPERATIONS
//   read/write/write_zeroes/discard/flush take byte offsets and lengths; nothing needs to be
//   aligned (drivers read-modify-write internally). Requests past size() fail, except on the
//   growable "file" protocol, which extends the file on writes and reads zeros past its end.
//   make_empty() drops everything a layer holds so that reads fall through to its backing again
//   (COLO empties its overlays at every checkpoint); block_status()/is_allocated() tell whether
//   a range is decided by this layer; block_commit() copies a top's allocated ranges into a
//   base further down the chain and empties the layers above the base.
//
// THREADING
//   All operations are synchronous. Each node has one mutex; every public operation takes it
//   for its whole duration, so a node serves one request at a time and may be used from any
//   thread. A node's driver calls into its children's public operations while holding its own
//   lock, so locks are always taken parent before child; the graph is acyclic (a node can only
//   refer to nodes that existed before it), so this cannot deadlock. Statistics are atomics and
//   can be read at any time. Changing the graph (opening, deleting nodes) is done through
//   BlockGraph, which has its own lock; a node stays alive while anyone holds a shared_ptr.
//   block_commit() and make_empty() are not atomic with respect to concurrent writers on other
//   layers: callers stop the guest (COLO does this at a checkpoint) first.
//
// ON-DISK ORDERING (qcow2)
//   Clusters are allocated and their refcounts raised first, then guest data is written into
//   them, then the L2 entry that points at them is updated, then (for a new L2 table) the L1
//   entry. Refcount blocks and L2 tables are cached write-back; flush() writes the refcount
//   blocks, syncs, writes the L2 tables, syncs, so an L2 entry never reaches the disk before
//   the refcount and data it depends on. New L2 tables are written and synced before the L1
//   entry that points at them. Freed clusters only have their refcounts dropped after the
//   metadata no longer referencing them is on disk, so a crash can leak clusters but never
//   leaves two references to one cluster. After flush() returns, data and metadata are on disk.
//
// ERRORS
//   Every failure is a value (util/error.h); messages are one phrase, QEMU-like. A broken image
//   is an error, never a crash: every offset and size read from an image is bounds-checked.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace colo::block {

class BlockDriver;
class BlockNode;

enum class DiscardMode {
  kIgnore,  // discard requests succeed and do nothing (QEMU's default)
  kUnmap,   // discard requests are passed down and free space
};

enum class DetectZeroes {
  kOff,
  kOn,     // writes of all-zero buffers become write_zeroes
  kUnmap,  // ...which may also unmap (needs discard=unmap)
};

enum class AccessMode { kReadOnly, kReadWrite };

// What write_zeroes may do with the range.
enum class ZeroMode {
  kAllocate,  // keep (or create) the allocation
  kMayUnmap,  // the range may be deallocated if it still reads as zeros
};

// Options every node has, whatever its driver (QEMU's BlockdevOptionsBase and cache options).
struct NodeOptions {
  std::string node_name;
  bool read_only = false;
  bool auto_read_only = false;  // fall back to read-only if read-write is refused
  bool cache_direct = false;    // O_DIRECT
  bool cache_no_flush = false;  // flush() does nothing (cache=unsafe)
  bool force_share = false;
  DiscardMode discard = DiscardMode::kIgnore;
  DetectZeroes detect_zeroes = DetectZeroes::kOff;
};

// The status of the extent that starts at the queried offset.
struct BlockStatus {
  uint64_t bytes = 0;      // length of the extent (at least 1 byte, at most the queried length)
  bool allocated = false;  // this layer decides the contents (not its backing chain)
  bool zero = false;       // the extent reads as zeros
  bool data = false;       // this layer stores data for it (not a hole or a zero cluster)
};

// Counters for query-blockstats (QEMU's BlockDeviceStats). Times are in nanoseconds.
struct BlockDeviceStats {
  uint64_t rd_bytes = 0;
  uint64_t wr_bytes = 0;
  uint64_t unmap_bytes = 0;
  uint64_t rd_operations = 0;
  uint64_t wr_operations = 0;
  uint64_t flush_operations = 0;
  uint64_t unmap_operations = 0;
  uint64_t rd_total_time_ns = 0;
  uint64_t wr_total_time_ns = 0;
  uint64_t flush_total_time_ns = 0;
  uint64_t unmap_total_time_ns = 0;
  uint64_t failed_rd_operations = 0;
  uint64_t failed_wr_operations = 0;
  uint64_t failed_flush_operations = 0;
  uint64_t failed_unmap_operations = 0;
  uint64_t invalid_rd_operations = 0;  // rejected before reaching the driver (bounds, read-only)
  uint64_t invalid_wr_operations = 0;
  uint64_t invalid_flush_operations = 0;
  uint64_t invalid_unmap_operations = 0;
  uint64_t wr_highest_offset = 0;  // end of the highest write so far
};

// The kinds of operations the statistics distinguish.
enum class IoKind { kRead, kWrite, kFlush, kUnmap };
// What became of one operation.
enum class IoOutcome { kDone, kFailed, kInvalid };

// Thread-safe accumulator behind BlockDeviceStats.
class IoStats {
 public:
  void account(IoKind kind, IoOutcome outcome, uint64_t bytes, uint64_t ns);
  void note_write_end(uint64_t end);
  BlockDeviceStats snapshot() const;

 private:
  struct PerKind {
    std::atomic<uint64_t> bytes{0}, ops{0}, time_ns{0}, failed{0}, invalid{0};
  };
  PerKind kinds_[4];
  std::atomic<uint64_t> wr_highest_offset_{0};
};

// qcow2 details for query-block (QEMU's ImageInfoSpecificQCow2).
struct Qcow2ImageInfo {
  std::string compat;  // "0.10" (v2) or "1.1" (v3)
  bool lazy_refcounts = false;
  bool corrupt = false;
  int refcount_bits = 16;
  bool extended_l2 = false;
  std::string compression_type = "zlib";
};

// One image of a chain (QEMU's ImageInfo).
struct ImageInfo {
  std::string filename;
  std::string format;
  uint64_t virtual_size = 0;
  std::optional<uint64_t> actual_size;  // bytes the host file occupies
  std::optional<uint64_t> cluster_size;
  std::optional<bool> dirty_flag;
  bool encrypted = false;
  std::string backing_filename;       // as written in the image header
  std::string full_backing_filename;  // resolved against the image's directory
  std::string backing_filename_format;
  std::optional<Qcow2ImageInfo> qcow2;
  std::unique_ptr<ImageInfo> backing_image;
};

struct BlockChild {
  std::string role;  // "file" or "backing"
  std::shared_ptr<BlockNode> node;
};

class BlockNode : public std::enable_shared_from_this<BlockNode> {
 public:
  BlockNode(const BlockNode&) = delete;
  BlockNode& operator=(const BlockNode&) = delete;
  virtual ~BlockNode();

  const std::string& node_name() const { return options_.node_name; }
  const BlockDriver& driver() const { return driver_; }
  std::string_view driver_name() const;
  const NodeOptions& options() const { return options_; }
  bool read_only() const { return read_only_.load(); }
  // The virtual size in bytes (for the file protocol: the current length of the file).
  virtual uint64_t size() const = 0;
  // Whether writes past size() extend the node (the file protocol) instead of failing.
  virtual bool growable() const { return false; }

  Status read(uint64_t offset, std::span<uint8_t> buf);
  Status write(uint64_t offset, std::span<const uint8_t> buf);
  Status write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode = ZeroMode::kAllocate);
  // Does nothing unless the node was opened with discard=unmap; drivers may ignore parts.
  Status discard(uint64_t offset, uint64_t bytes);
  Status flush();
  // Drops every allocation of this layer so reads go to the backing file again (qcow2).
  Status make_empty();
  // The status of the extent at `offset`, at most `bytes` long, in this layer only.
  Result<BlockStatus> block_status(uint64_t offset, uint64_t bytes);
  // Whether [offset, offset + *pnum) is decided by this layer; *pnum is the extent length.
  Result<bool> is_allocated(uint64_t offset, uint64_t bytes, uint64_t* pnum);
  // Switches between read-only and read-write (QEMU's bdrv_reopen of read-only); also reopens
  // the "file" child, never the backing.
  Status reopen(AccessMode mode);
  // Flushes and releases the node; later operations fail. Destruction closes implicitly.
  Status close();
  bool closed() const { return closed_.load(); }

  std::shared_ptr<BlockNode> child(std::string_view role) const;
  std::shared_ptr<BlockNode> file() const { return child("file"); }
  std::shared_ptr<BlockNode> backing() const { return child("backing"); }
  const std::vector<BlockChild>& children() const { return children_; }

  // The host file name behind this node (a format node reports its file child's).
  virtual std::string filename() const;
  // Information for query-block about this image and its backing chain.
  ImageInfo image_info() const;
  // The backing file name as written in the image ("" if none), and its format.
  virtual std::string backing_filename() const { return ""; }
  virtual std::string backing_format() const { return ""; }

  BlockDeviceStats stats() const { return stats_.snapshot(); }

 protected:
  BlockNode(const BlockDriver& driver, NodeOptions options);

  void add_child(std::string role, std::shared_ptr<BlockNode> node);

  // Driver entry points. They run with mutex_ held and requests already checked against
  // size() (unless growable()), read-only, closed and zero lengths.
  virtual Status do_read(uint64_t offset, std::span<uint8_t> buf) = 0;
  virtual Status do_write(uint64_t offset, std::span<const uint8_t> buf) = 0;
  // Default: writes a zero buffer.
  virtual Status do_write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode);
  // Default: does nothing.
  virtual Status do_discard(uint64_t offset, uint64_t bytes);
  virtual Status do_flush() = 0;
  // Default: "Driver 'x' does not support emptying the image".
  virtual Status do_make_empty();
  // Default: the whole range is allocated data.
  virtual Result<BlockStatus> do_block_status(uint64_t offset, uint64_t bytes);
  // Default: reopens the file child.
  virtual Status do_reopen(AccessMode mode);
  // Called once by close(); default: flush.
  virtual Status do_close();
  // Adds driver details to `info` (filename, format and backing are already filled in).
  virtual void fill_image_info(ImageInfo& info) const;

  // Held for the whole of each public operation.
  mutable std::mutex mutex_;
  std::atomic<bool> read_only_;

 private:
  const BlockDriver& driver_;
  NodeOptions options_;
  std::vector<BlockChild> children_;
  std::atomic<bool> closed_{false};
  IoStats stats_;

  // Checks a request: closed, read-only (for writes), offset+bytes overflow and size.
  Status check_request(uint64_t offset, uint64_t bytes, bool write) const;
};

// Whether [offset, offset + *pnum) is allocated in any layer from `top` down to, but not
// including, `base` (nullptr: the whole chain). QEMU's bdrv_is_allocated_above.
Result<bool> is_allocated_above(BlockNode& top, const BlockNode* base, uint64_t offset,
                                uint64_t bytes, uint64_t* pnum);

// Commits `top` into `base`, which must be in top's backing chain: every range allocated in
// top or a layer between them is copied from top's view into base (zero ranges become
// write_zeroes), base is flushed, and then every layer from just above base up to top is
// emptied, bottom first, so the view through top never changes. Read-only layers are reopened
// read-write for the duration and restored afterwards. Callers must stop writers to the chain.
// base == nullptr means top's backing.
Status block_commit(BlockNode& top, BlockNode* base = nullptr);

}  // namespace colo::block
