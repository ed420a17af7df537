// SPDX-License-Identifier: GPL-2.0-or-later
//
// The node registry and the -blockdev / -drive front ends. Opening is a transaction: nodes are
// created through a GraphOpenContext and only registered when the whole tree opened; if
// anything fails they are dropped (and closed) again.
#include "block/blockdev.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "block/block-driver.h"
#include "util/log.h"

namespace colo::block {

namespace {

constexpr size_t kMaxNodeNameLength = 31;
constexpr size_t kProbeBytes = 2048;
constexpr int kMaxOpenDepth = 64;

bool well_formed_id(std::string_view name) {
  if (name.empty() || !isalpha(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
      return false;
  }
  return true;
}

// The format driver that claims `head` most confidently ("raw" if none does).
const BlockDriver* probe_head(std::span<const uint8_t> head) {
  const BlockDriver* best = nullptr;
  int best_score = 0;
  for (const BlockDriver* drv : block_drivers()) {
    if (drv->kind() != DriverKind::kFormat)
      continue;
    int score = drv->probe(head);
    if (score > best_score) {
      best = drv;
      best_score = score;
    }
  }
  return best;
}

// Reads the start of a host file to guess its format.
Result<std::string> probe_file(const std::string& filename) {
  int fd = ::open(filename.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno_error(errno, "Could not open '%s'", filename.c_str());
  std::vector<uint8_t> head(kProbeBytes);
  ssize_t n;
  do {
    n = pread(fd, head.data(), head.size(), 0);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0)
    return errno_error(err, "Could not read '%s'", filename.c_str());
  head.resize(static_cast<size_t>(n));
  const BlockDriver* drv = probe_head(head);
  if (!drv)
    return make_error("Could not determine the format of '%s'", filename.c_str());
  return std::string(drv->name());
}

std::string_view detect_zeroes_name(DetectZeroes d) {
  switch (d) {
    case DetectZeroes::kOff:
      return "off";
    case DetectZeroes::kOn:
      return "on";
    case DetectZeroes::kUnmap:
      return "unmap";
  }
  return "off";
}

}  // namespace

Status check_node_name(std::string_view name) {
  if (!well_formed_id(name)) {
    return make_error("Invalid node-name: '%s'", std::string(name).c_str());
  }
  if (name.size() > kMaxNodeNameLength)
    return make_error("Node name too long");
  return ok_status();
}

// Opens nodes for one blockdev_open/drive_open call; runs with the graph lock held.
class GraphOpenContext final : public OpenContext {
 public:
  GraphOpenContext(BlockGraph& graph, OptionSyntax syntax) : OpenContext(syntax), graph_(graph) {}

  Result<std::shared_ptr<BlockNode>> open_node(const KeyvalDict& dict, const std::string& prefix,
                                               const NodeOptions* inherit, std::string_view role);

  Result<std::shared_ptr<BlockNode>> open_child(OptionReader& opts, std::string_view role,
                                                const NodeOptions& parent,
                                                ChildRequirement requirement) override;
  Result<std::shared_ptr<BlockNode>> open_image(const std::string& filename,
                                                const std::string& format,
                                                const NodeOptions& parent,
                                                std::string_view role) override;

  // Nodes opened so far, in creation order (children before parents).
  std::vector<std::shared_ptr<BlockNode>> created;

 private:
  BlockGraph& graph_;
  int depth_ = 0;

  bool name_taken(std::string_view name) const {
    if (graph_.nodes_.count(name) || graph_.backends_.count(name))
      return true;
    for (const auto& n : created) {
      if (n->node_name() == name)
        return true;
    }
    return false;
  }
  std::shared_ptr<BlockNode> find(std::string_view name) const {
    auto b = graph_.backends_.find(name);
    if (b != graph_.backends_.end())
      return b->second.backend->root();
    auto n = graph_.nodes_.find(name);
    if (n != graph_.nodes_.end())
      return n->second.node;
    for (const auto& node : created) {
      if (node->node_name() == name)
        return node;
    }
    return nullptr;
  }
  Result<NodeOptions> take_node_options(OptionReader& r, const NodeOptions* inherit,
                                        std::string_view role);
};

Result<NodeOptions> GraphOpenContext::take_node_options(OptionReader& r, const NodeOptions* inherit,
                                                        std::string_view role) {
  NodeOptions n;
  if (inherit) {
    n.read_only = inherit->read_only;
    n.auto_read_only = inherit->auto_read_only;
    n.cache_direct = inherit->cache_direct;
    n.cache_no_flush = inherit->cache_no_flush;
    if (role == "file")
      n.discard = inherit->discard;
  }
  if (role == "backing") {
    n.read_only = true;
    n.auto_read_only = false;
  }
  if (auto name = r.take_string("node-name")) {
    COLO_TRY(check_node_name(*name));
    if (graph_.backends_.count(*name)) {
      return make_error("node-name=%s is conflicting with a device id", name->c_str());
    }
    if (name_taken(*name))
      return make_error("Duplicate nodes with node-name='%s'", name->c_str());
    n.node_name = *name;
  } else {
    n.node_name = graph_.generate_node_name_locked();
    while (name_taken(n.node_name))
      n.node_name = graph_.generate_node_name_locked();
  }
  COLO_ASSIGN_OR_RETURN(auto ro, r.take_bool("read-only"));
  if (ro)
    n.read_only = *ro;
  COLO_ASSIGN_OR_RETURN(auto aro, r.take_bool("auto-read-only"));
  if (aro)
    n.auto_read_only = *aro;
  COLO_ASSIGN_OR_RETURN(auto direct, r.take_bool("cache.direct"));
  if (direct)
    n.cache_direct = *direct;
  COLO_ASSIGN_OR_RETURN(auto no_flush, r.take_bool("cache.no-flush"));
  if (no_flush)
    n.cache_no_flush = *no_flush;
  COLO_ASSIGN_OR_RETURN(auto discard, r.take_enum("discard", {"ignore", "off", "unmap", "on"}));
  if (discard)
    n.discard = *discard >= 2 ? DiscardMode::kUnmap : DiscardMode::kIgnore;
  COLO_ASSIGN_OR_RETURN(auto dz, r.take_enum("detect-zeroes", {"off", "on", "unmap"}));
  if (dz)
    n.detect_zeroes = static_cast<DetectZeroes>(*dz);
  COLO_ASSIGN_OR_RETURN(auto share, r.take_bool("force-share"));
  if (share)
    n.force_share = *share;
  if (n.detect_zeroes == DetectZeroes::kUnmap && n.discard != DiscardMode::kUnmap) {
    return make_error(
        "setting detect-zeroes to unmap is not allowed without setting discard operation to "
        "unmap");
  }
  if (n.force_share && !n.read_only) {
    return make_error("force-share=on can only be used with read-only images");
  }
  return n;
}

Result<std::shared_ptr<BlockNode>> GraphOpenContext::open_node(const KeyvalDict& dict,
                                                               const std::string& prefix,
                                                               const NodeOptions* inherit,
                                                               std::string_view role) {
  if (++depth_ > kMaxOpenDepth) {
    depth_--;
    return make_error("Block node graph is nested too deeply");
  }
  struct DepthGuard {
    int& d;
    ~DepthGuard() { d--; }
  } guard{depth_};

  OptionReader r(dict, prefix, syntax_);
  std::optional<std::string> driver_name = r.take_string("driver");
  if (!driver_name) {
    if (syntax_ == OptionSyntax::kDrive && r.has("filename")) {
      driver_name = "file";
    } else {
      return make_error("Parameter '%s' is missing", r.full_name("driver").c_str());
    }
  }
  const BlockDriver* drv = find_block_driver(*driver_name);
  if (!drv) {
    if (syntax_ == OptionSyntax::kDrive) {
      return make_error("Unknown driver '%s'", driver_name->c_str());
    }
    return make_error("Parameter '%s' does not accept value '%s'", r.full_name("driver").c_str(),
                      driver_name->c_str());
  }
  COLO_ASSIGN_OR_RETURN(NodeOptions nopts, take_node_options(r, inherit, role));
  COLO_ASSIGN_OR_RETURN(std::shared_ptr<BlockNode> node, drv->open(*this, r, nopts));
  COLO_TRY(r.check_all_used(drv->name(), drv->kind() == DriverKind::kProtocol));
  created.push_back(node);
  return node;
}

Result<std::shared_ptr<BlockNode>> GraphOpenContext::open_child(OptionReader& opts,
                                                                std::string_view role,
                                                                const NodeOptions& parent,
                                                                ChildRequirement requirement) {
  COLO_ASSIGN_OR_RETURN(ChildOptions c, opts.take_child(role));
  std::shared_ptr<BlockNode> node;
  switch (c.kind) {
    case ChildOptions::Kind::kAbsent:
    case ChildOptions::Kind::kNull:
      if (requirement == ChildRequirement::kRequired) {
        return make_error("Parameter '%s' is missing", opts.full_name(role).c_str());
      }
      return std::shared_ptr<BlockNode>();
    case ChildOptions::Kind::kReference:
      node = find(c.reference);
      if (!node) {
        return make_error("Cannot find device='%s' nor node-name='%s'", c.reference.c_str(),
                          c.reference.c_str());
      }
      break;
    case ChildOptions::Kind::kInline: {
      if (role == "backing")
        backing_depth_++;
      auto r = open_node(c.options, c.prefix, &parent, role);
      if (role == "backing")
        backing_depth_--;
      COLO_ASSIGN_OR_RETURN(node, std::move(r));
      break;
    }
  }
  if (role == "file" && !parent.read_only && node->read_only()) {
    return make_error("Cannot open '%s' read-write: its file '%s' is read-only",
                      parent.node_name.c_str(), node->node_name().c_str());
  }
  return node;
}

Result<std::shared_ptr<BlockNode>> GraphOpenContext::open_image(const std::string& filename,
                                                                const std::string& format,
                                                                const NodeOptions& parent,
                                                                std::string_view role) {
  std::string fmt = format;
  if (fmt.empty()) {
    COLO_ASSIGN_OR_RETURN(fmt, probe_file(filename));
    if (fmt == "raw") {
      warn_report(
          "Backing file format of '%s' was not specified and probing guessed raw; "
          "specify the format in the image (qemu-img rebase -F) to be safe",
          filename.c_str());
    }
  }
  const BlockDriver* drv = find_block_driver(fmt);
  if (!drv || drv->kind() != DriverKind::kFormat) {
    return make_error("Unknown backing file format '%s'", fmt.c_str());
  }
  KeyvalDict dict = {{"driver", fmt}, {"file.driver", "file"}, {"file.filename", filename}};
  if (role == "backing")
    backing_depth_++;
  auto r = open_node(dict, "", &parent, role);
  if (role == "backing")
    backing_depth_--;
  return r;
}

// ---- BlockGraph ----

BlockGraph::BlockGraph() = default;

BlockGraph::~BlockGraph() {
  Status st = close_all();
  if (!st.ok())
    error_report_err(st.error());
}

std::string BlockGraph::generate_node_name_locked() {
  return string_printf("#block%03llu", static_cast<unsigned long long>(next_auto_name_++));
}

Result<std::shared_ptr<BlockNode>> BlockGraph::blockdev_open(const KeyvalDict& options) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!options.count("node-name")) {
    return make_error("'node-name' must be specified for the root node");
  }
  GraphOpenContext ctx(*this, OptionSyntax::kBlockdev);
  COLO_ASSIGN_OR_RETURN(auto node, ctx.open_node(options, "", nullptr, "root"));
  for (const auto& n : ctx.created) {
    nodes_[n->node_name()] = NodeEntry{n, n == node};
  }
  return node;
}

Result<std::shared_ptr<BlockBackend>> BlockGraph::drive_open(const KeyvalDict& options) {
  std::lock_guard<std::mutex> lock(mutex_);
  OptionReader r(options, "", OptionSyntax::kDrive);
  BackendOptions bopts;

  std::optional<std::string> id = r.take_string("id");
  std::optional<std::string> file = r.take_string("file");
  std::optional<std::string> format = r.take_string("format");
  if (format && r.has("driver"))
    return make_error("Cannot specify both 'driver' and 'format'");
  if (!format)
    format = r.take_string("driver");
  COLO_ASSIGN_OR_RETURN(auto iface, r.take_enum("if", {"none", "virtio", "ide", "scsi", "floppy",
                                                       "pflash", "mtd", "sd", "xen"}));
  if (iface && *iface >= 2) {
    return make_error("Drive interface '%s' is not supported; use if=virtio or if=none",
                      options.at("if").c_str());
  }
  bopts.interface = iface.value_or(1) == 0 ? "none" : "virtio";
  COLO_TRY(r.take_uint("index"));
  COLO_TRY(r.take_uint("bus"));
  COLO_TRY(r.take_uint("unit"));
  COLO_ASSIGN_OR_RETURN(auto media, r.take_enum("media", {"disk", "cdrom"}));
  if (media.value_or(0) == 1)
    return make_error("media=cdrom is not supported");
  COLO_ASSIGN_OR_RETURN(auto readonly, r.take_bool("readonly"));
  COLO_ASSIGN_OR_RETURN(auto snapshot, r.take_bool("snapshot"));
  if (snapshot.value_or(false))
    return make_error("snapshot=on is not supported");
  COLO_ASSIGN_OR_RETURN(auto cor, r.take_bool("copy-on-read"));
  if (cor.value_or(false))
    return make_error("copy-on-read=on is not supported");
  std::optional<std::string> cache = r.take_string("cache");
  bool cache_direct = false;
  bool cache_no_flush = false;
  if (cache) {
    if (*cache == "writeback") {
    } else if (*cache == "none") {
      cache_direct = true;
    } else if (*cache == "writethrough") {
      bopts.write_cache = false;
    } else if (*cache == "directsync") {
      cache_direct = true;
      bopts.write_cache = false;
    } else if (*cache == "unsafe") {
      cache_no_flush = true;
    } else {
      return make_error("invalid cache option");
    }
  }
  std::optional<std::string> discard = r.take_string("discard");
  if (discard && *discard != "ignore" && *discard != "off" && *discard != "unmap" &&
      *discard != "on") {
    return make_error("Invalid discard option");
  }
  std::optional<std::string> aio = r.take_string("aio");
  auto take_on_error = [&](const char* key, bool allow_enospc) -> Result<OnError> {
    std::optional<std::string> v = r.take_string(key);
    if (!v)
      return allow_enospc ? OnError::kEnospc : OnError::kReport;
    if (*v == "report")
      return OnError::kReport;
    if (*v == "ignore")
      return OnError::kIgnore;
    if (*v == "stop")
      return OnError::kStop;
    if (*v == "enospc" && allow_enospc)
      return OnError::kEnospc;
    return make_error("'%s' invalid %s error action", v->c_str(), key[0] == 'w' ? "write" : "read");
  };
  COLO_ASSIGN_OR_RETURN(bopts.werror, take_on_error("werror", true));
  COLO_ASSIGN_OR_RETURN(bopts.rerror, take_on_error("rerror", false));
  if (auto serial = r.take_string("serial"))
    bopts.serial = *serial;

  // The id names the backend.
  if (id) {
    if (!well_formed_id(*id))
      return make_error("Parameter 'id' expects an identifier");
  } else {
    do {
      id = string_printf("%s%llu", bopts.interface.c_str(),
                         static_cast<unsigned long long>(next_drive_index_++));
    } while (backends_.count(*id));
  }
  if (backends_.count(*id))
    return make_error("Duplicate ID '%s' for drive", id->c_str());
  if (nodes_.count(*id)) {
    return make_error("Device name '%s' conflicts with an existing node name", id->c_str());
  }

  // What is left are block options: node-name, read-only, detect-zeroes, file.*, backing.*,
  // and the format's own options.
  KeyvalDict node_opts = r.take_unused();
  auto set_default = [&](const std::string& key, const std::string& value) {
    if (!node_opts.count(key))
      node_opts[key] = value;
  };
  if (readonly.value_or(false))
    set_default("read-only", "on");
  if (cache) {
    set_default("cache.direct", cache_direct ? "on" : "off");
    set_default("cache.no-flush", cache_no_flush ? "on" : "off");
  }
  if (discard)
    set_default("discard", *discard);
  bool has_file_dict = false;
  for (const auto& [k, v] : node_opts) {
    if (k.rfind("file.", 0) == 0)
      has_file_dict = true;
  }
  if (!file && !has_file_dict)
    return make_error("Parameter 'file' is missing");
  if (file && format && (*format == "file" || *format == "host_device")) {
    // The protocol node is the root.
    node_opts["driver"] = *format;
    node_opts["filename"] = *file;
    if (aio)
      set_default("aio", *aio);
  } else {
    if (file) {
      if (has_file_dict && node_opts.count("file.filename")) {
        return make_error("Parameters 'file.*' used inconsistently");
      }
      set_default("file.driver", "file");
      node_opts["file.filename"] = *file;
    }
    if (aio)
      set_default("file.aio", *aio);
    if (format) {
      node_opts["driver"] = *format;
    } else if (file && node_opts["file.driver"] == "file") {
      COLO_ASSIGN_OR_RETURN(std::string probed, probe_file(*file));
      node_opts["driver"] = probed;
      if (probed == "raw") {
        warn_report(
            "Image format was not specified for '%s' and probing guessed raw; "
            "automatically detecting the format is dangerous for raw images, write "
            "operations on block 0 will be restricted; specify the 'raw' format "
            "explicitly to remove the restrictions",
            file->c_str());
        node_opts["x-probed"] = "on";
      }
    } else {
      return make_error("Parameter 'format' is missing");
    }
  }
  bopts.read_only = readonly.value_or(false);

  GraphOpenContext ctx(*this, OptionSyntax::kDrive);
  COLO_ASSIGN_OR_RETURN(auto root, ctx.open_node(node_opts, "", nullptr, "root"));
  auto backend = std::make_shared<BlockBackend>(*id, root, bopts);
  for (const auto& n : ctx.created)
    nodes_[n->node_name()] = NodeEntry{n, false};
  backends_[*id] = BackendEntry{backend};
  return backend;
}

std::shared_ptr<BlockNode> BlockGraph::find_node(std::string_view node_name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = nodes_.find(node_name);
  return it == nodes_.end() ? nullptr : it->second.node;
}

std::shared_ptr<BlockBackend> BlockGraph::find_backend(std::string_view id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = backends_.find(id);
  return it == backends_.end() ? nullptr : it->second.backend;
}

Result<std::shared_ptr<BlockNode>> BlockGraph::lookup(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto b = backends_.find(name);
  if (b != backends_.end())
    return b->second.backend->root();
  auto n = nodes_.find(name);
  if (n != nodes_.end())
    return n->second.node;
  std::string s(name);
  return Error(string_printf("Cannot find device='%s' nor node-name='%s'", s.c_str(), s.c_str()),
               ErrorClass::kDeviceNotFound);
}

bool BlockGraph::node_in_use_locked(const BlockNode* node, std::string* user) const {
  for (const auto& [id, entry] : backends_) {
    if (entry.backend->root().get() == node) {
      *user = "device '" + id + "'";
      return true;
    }
  }
  for (const auto& [name, entry] : nodes_) {
    for (const BlockChild& c : entry.node->children()) {
      if (c.node.get() == node) {
        *user = "node '" + name + "' (as its " + c.role + ")";
        return true;
      }
    }
  }
  return false;
}

void BlockGraph::remove_unused_implicit_locked(std::shared_ptr<BlockNode> node) {
  std::string user;
  if (node_in_use_locked(node.get(), &user))
    return;
  auto it = nodes_.find(node->node_name());
  if (it == nodes_.end() || it->second.node != node)
    return;
  nodes_.erase(it);
  Status st = node->close();
  if (!st.ok())
    error_report_err(st.error());
  for (const BlockChild& c : node->children()) {
    auto ce = nodes_.find(c.node->node_name());
    if (ce != nodes_.end() && ce->second.node == c.node && !ce->second.monitor_owned) {
      remove_unused_implicit_locked(c.node);
    }
  }
}

Status BlockGraph::blockdev_del(std::string_view node_name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = nodes_.find(node_name);
  if (it == nodes_.end()) {
    return Error(
        string_printf("Failed to find node with node-name='%s'", std::string(node_name).c_str()),
        ErrorClass::kDeviceNotFound);
  }
  if (!it->second.monitor_owned) {
    return make_error("Node %s is not owned by the monitor", std::string(node_name).c_str());
  }
  std::string user;
  if (node_in_use_locked(it->second.node.get(), &user)) {
    return make_error("Node %s is in use by %s", std::string(node_name).c_str(), user.c_str());
  }
  std::shared_ptr<BlockNode> node = it->second.node;
  it->second.monitor_owned = false;
  remove_unused_implicit_locked(node);
  return ok_status();
}

Status BlockGraph::drive_del(std::string_view id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = backends_.find(id);
  if (it == backends_.end()) {
    return Error(string_printf("Device '%s' not found", std::string(id).c_str()),
                 ErrorClass::kDeviceNotFound);
  }
  std::shared_ptr<BlockNode> root = it->second.backend->root();
  Status st = it->second.backend->flush();
  backends_.erase(it);
  auto ne = nodes_.find(root->node_name());
  if (ne != nodes_.end() && !ne->second.monitor_owned)
    remove_unused_implicit_locked(root);
  return st;
}

std::vector<std::shared_ptr<BlockNode>> BlockGraph::nodes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<BlockNode>> out;
  for (const auto& [name, e] : nodes_)
    out.push_back(e.node);
  return out;
}

std::vector<std::shared_ptr<BlockBackend>> BlockGraph::backends() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<BlockBackend>> out;
  for (const auto& [name, e] : backends_)
    out.push_back(e.backend);
  return out;
}

BlockDeviceInfo block_device_info(const BlockNode& node) {
  BlockDeviceInfo info;
  info.file = node.filename();
  info.node_name = node.node_name();
  info.ro = node.read_only();
  info.drv = std::string(node.driver_name());
  info.backing_file = node.backing_filename();
  int depth = 0;
  for (auto b = node.backing(); b && depth < 1024; b = b->backing())
    depth++;
  info.backing_file_depth = depth;
  info.detect_zeroes = std::string(detect_zeroes_name(node.options().detect_zeroes));
  info.cache.direct = node.options().cache_direct;
  info.cache.no_flush = node.options().cache_no_flush;
  info.image = node.image_info();
  return info;
}

std::vector<BlockInfo> BlockGraph::query_block() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<BlockInfo> out;
  for (const auto& [id, e] : backends_) {
    BlockInfo bi;
    bi.device = id;
    bi.inserted = block_device_info(*e.backend->root());
    bi.inserted->cache.writeback = e.backend->write_cache_enabled();
    if (e.backend->options().read_only)
      bi.inserted->ro = true;
    out.push_back(std::move(bi));
  }
  return out;
}

namespace {

BlockStatsInfo node_stats(const BlockNode& node, int depth = 0) {
  BlockStatsInfo s;
  s.node_name = node.node_name();
  s.stats = node.stats();
  if (depth > 64)
    return s;
  if (auto f = node.file())
    s.parent = std::make_unique<BlockStatsInfo>(node_stats(*f, depth + 1));
  if (auto b = node.backing()) {
    s.backing = std::make_unique<BlockStatsInfo>(node_stats(*b, depth + 1));
  }
  return s;
}

}  // namespace

std::vector<BlockStatsInfo> BlockGraph::query_blockstats(bool query_nodes) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<BlockStatsInfo> out;
  if (query_nodes) {
    for (const auto& [name, e] : nodes_)
      out.push_back(node_stats(*e.node));
    return out;
  }
  for (const auto& [id, e] : backends_) {
    BlockStatsInfo s = node_stats(*e.backend->root());
    s.device = id;
    s.stats = e.backend->stats();
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<BlockDeviceInfo> BlockGraph::query_named_block_nodes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<BlockDeviceInfo> out;
  for (const auto& [name, e] : nodes_)
    out.push_back(block_device_info(*e.node));
  return out;
}

Status BlockGraph::flush_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  Status first = ok_status();
  for (const auto& [name, e] : nodes_) {
    Status st = e.node->flush();
    if (!st.ok() && first.ok())
      first = std::move(st);
  }
  return first;
}

Status BlockGraph::close_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  Status first = ok_status();
  backends_.clear();
  // Parents before children, so each flushes into a still-open child.
  while (!nodes_.empty()) {
    auto victim = nodes_.end();
    std::string user;
    for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
      if (!node_in_use_locked(it->second.node.get(), &user)) {
        victim = it;
        break;
      }
    }
    if (victim == nodes_.end())
      victim = nodes_.begin();
    std::shared_ptr<BlockNode> node = victim->second.node;
    nodes_.erase(victim);
    Status st = node->close();
    if (!st.ok() && first.ok())
      first = std::move(st);
  }
  return first;
}

BlockGraph& default_block_graph() {
  static BlockGraph graph;
  return graph;
}

Result<std::shared_ptr<BlockNode>> blockdev_open(const KeyvalDict& options) {
  return default_block_graph().blockdev_open(options);
}

Result<std::shared_ptr<BlockBackend>> drive_open(const KeyvalDict& options) {
  return default_block_graph().drive_open(options);
}

}  // namespace colo::block
