// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: block/blockdev.h
//
// Opening block nodes from command-line options and keeping them by name (QEMU's blockdev.c):
//
//   -blockdev driver=qcow2,node-name=disk0,file.driver=file,file.filename=a.qcow2
//       blockdev_open({{"driver","qcow2"},{"node-name","disk0"},{"file.driver","file"},
//                      {"file.filename","a.qcow2"}})
//   -blockdev driver=raw,node-name=d1,file=proto0         (file= names an existing node)
//   -drive file=a.qcow2,format=qcow2,if=none,id=drive0,readonly=on,cache=writeback
//       drive_open(...) -> a BlockBackend "drive0" whose root is the qcow2 node
//
// Without format=, drive_open() probes the format (warning when it guesses raw, whose first
// sector is then protected from being turned into another format). Backing files named in a
// qcow2 header are opened automatically, read-only, with the format from the header (probed if
// absent); relative names are resolved against the overlay's directory. `backing=null` opens
// none, `backing=<node>` uses an existing node, `backing.driver=...` describes one inline.
//
// Every node, including the implicit ones (a format's file, a backing file), is registered
// under its node-name; implicit nodes get generated names "#blockNNN". The query functions
// return plain structs for the QMP layer to convert.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "block/block-backend.h"
#include "block/block.h"
#include "block/options.h"
#include "util/error.h"

namespace colo::block {

// QEMU's BlockdevCacheInfo.
struct BlockCacheInfo {
  bool writeback = true;
  bool direct = false;
  bool no_flush = false;
};

// One node as query-named-block-nodes and query-block's "inserted" describe it
// (QEMU's BlockDeviceInfo).
struct BlockDeviceInfo {
  std::string file;  // the file name
  std::string node_name;
  bool ro = false;
  std::string drv;
  std::string backing_file;  // as written in the image; empty if none
  int backing_file_depth = 0;
  bool encrypted = false;
  std::string detect_zeroes = "off";
  BlockCacheInfo cache;
  ImageInfo image;
};

// One device for query-block (QEMU's BlockInfo).
struct BlockInfo {
  std::string device;
  std::string type = "unknown";
  bool removable = false;
  bool locked = false;
  std::optional<BlockDeviceInfo> inserted;
};

// One entry of query-blockstats (QEMU's BlockStats): a device's statistics, or a node's, with
// the statistics of the node below it ("parent" is the file child, as QEMU names it).
struct BlockStatsInfo {
  std::string device;
  std::string node_name;
  BlockDeviceStats stats;
  std::unique_ptr<BlockStatsInfo> parent;
  std::unique_ptr<BlockStatsInfo> backing;
};

// Node names: a letter first, then letters, digits, '-', '.', '_'; at most 31 characters.
Status check_node_name(std::string_view name);

class BlockGraph {
 public:
  BlockGraph();
  ~BlockGraph();
  BlockGraph(const BlockGraph&) = delete;
  BlockGraph& operator=(const BlockGraph&) = delete;

  // -blockdev / blockdev-add. The new node and any implicit children are registered; on
  // failure nothing is.
  Result<std::shared_ptr<BlockNode>> blockdev_open(const KeyvalDict& options);
  // -drive: opens the node chain and a BlockBackend named by id= (generated if absent).
  Result<std::shared_ptr<BlockBackend>> drive_open(const KeyvalDict& options);

  std::shared_ptr<BlockNode> find_node(std::string_view node_name) const;
  std::shared_ptr<BlockBackend> find_backend(std::string_view id) const;
  // A drive id (its root node) or a node-name, as QEMU's bdrv_lookup_bs.
  Result<std::shared_ptr<BlockNode>> lookup(std::string_view name) const;

  // blockdev-del: removes a node opened with blockdev_open together with its implicit
  // children. Fails if a backend or another node still uses it.
  Status blockdev_del(std::string_view node_name);
  // Removes a -drive backend and the nodes it opened (unless other users hold them).
  Status drive_del(std::string_view id);

  std::vector<std::shared_ptr<BlockNode>> nodes() const;
  std::vector<std::shared_ptr<BlockBackend>> backends() const;

  std::vector<BlockInfo> query_block() const;
  // Backends, or with `query_nodes` every named node, with their file/backing below.
  std::vector<BlockStatsInfo> query_blockstats(bool query_nodes = false) const;
  std::vector<BlockDeviceInfo> query_named_block_nodes() const;

  // Flushes every node.
  Status flush_all();
  // Closes and forgets everything (at exit).
  Status close_all();

 private:
  friend class GraphOpenContext;

  struct NodeEntry {
    std::shared_ptr<BlockNode> node;
    bool monitor_owned = false;  // opened by blockdev_open (not implicitly)
  };
  struct BackendEntry {
    std::shared_ptr<BlockBackend> backend;
  };

  mutable std::mutex mutex_;
  std::map<std::string, NodeEntry, std::less<>> nodes_;
  std::map<std::string, BackendEntry, std::less<>> backends_;
  uint64_t next_auto_name_ = 0;
  uint64_t next_drive_index_ = 0;

  bool node_in_use_locked(const BlockNode* node, std::string* user) const;
  void remove_unused_implicit_locked(std::shared_ptr<BlockNode> node);
  std::string generate_node_name_locked();
};

// The process-wide graph the command line and QMP use.
BlockGraph& default_block_graph();

// Shorthands on default_block_graph().
Result<std::shared_ptr<BlockNode>> blockdev_open(const KeyvalDict& options);
Result<std::shared_ptr<BlockBackend>> drive_open(const KeyvalDict& options);

// Describes one node (query-named-block-nodes).
BlockDeviceInfo block_device_info(const BlockNode& node);

}  // namespace colo::block
