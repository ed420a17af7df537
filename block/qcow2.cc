// SPDX-License-Identifier: GPL-2.0-or-later
//
// qcow2: header parsing and validation, opening, reopening, closing and the driver object.
// The header is hostile input: every field is checked before it is used to size or locate
// anything, and the checks come with QEMU-like messages.
#include <algorithm>
#include <cstdarg>
#include <cstring>

#include "block/drivers.h"
#include "block/qcow2.h"
#include "util/log.h"

namespace colo::block::qcow2 {

namespace {

std::string vformat(const char* fmt, va_list ap) {
  char buf[512];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  return buf;
}

std::string feature_list(const ImageHeader& img, uint8_t type, uint64_t bits) {
  std::string out;
  for (int bit = 0; bit < 64; bit++) {
    if (!(bits & (UINT64_C(1) << bit)))
      continue;
    std::string name;
    for (const FeatureName& f : img.feature_names) {
      if (f.type == type && f.bit == bit)
        name = f.name;
    }
    if (name.empty())
      name = string_printf("unknown feature bit %d", bit);
    if (!out.empty())
      out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

Result<ImageHeader> parse_header(std::span<const uint8_t> head, uint64_t file_size) {
  ImageHeader img;
  Header& h = img.header;
  if (head.size() < 4 || load_be32(head.data()) != kMagic) {
    return make_error("Image is not in qcow2 format");
  }
  if (head.size() < kV2HeaderLength)
    return make_error("qcow2 header is truncated");
  const uint8_t* p = head.data();
  h.version = load_be32(p + 4);
  h.backing_file_offset = load_be64(p + 8);
  h.backing_file_size = load_be32(p + 16);
  h.cluster_bits = load_be32(p + 20);
  h.size = load_be64(p + 24);
  h.crypt_method = load_be32(p + 32);
  h.l1_size = load_be32(p + 36);
  h.l1_table_offset = load_be64(p + 40);
  h.refcount_table_offset = load_be64(p + 48);
  h.refcount_table_clusters = load_be32(p + 56);
  h.nb_snapshots = load_be32(p + 60);
  h.snapshots_offset = load_be64(p + 64);

  if (h.version != 2 && h.version != 3) {
    return make_error("Unsupported qcow2 version %u", h.version);
  }
  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    return make_error("Unsupported cluster size: 2^%u", h.cluster_bits);
  }
  const uint64_t cs = UINT64_C(1) << h.cluster_bits;

  if (h.version == 3) {
    if (head.size() < kV3MinHeaderLength)
      return make_error("qcow2 header is truncated");
    h.incompatible_features = load_be64(p + 72);
    h.compatible_features = load_be64(p + 80);
    h.autoclear_features = load_be64(p + 88);
    h.refcount_order = load_be32(p + 96);
    h.header_length = load_be32(p + 100);
    if (h.header_length < kV3MinHeaderLength || h.header_length % 8 != 0) {
      return make_error("qcow2 header length %u is invalid", h.header_length);
    }
    if (h.header_length > cs)
      return make_error("qcow2 header exceeds cluster size");
    if (h.header_length > head.size())
      return make_error("qcow2 header is truncated");
    if (h.header_length > 104)
      h.compression_type = p[104];
  }
  if (h.refcount_order > 6) {
    return make_error("Reference count entry width too large; may not exceed 64 bits");
  }

  // Header extensions, between the header and the backing file name (or the cluster end).
  uint64_t ext_end = std::min<uint64_t>(cs, head.size());
  if (h.backing_file_offset != 0)
    ext_end = std::min(ext_end, h.backing_file_offset);
  uint64_t off = h.header_length;
  while (off + 8 <= ext_end) {
    uint32_t type = load_be32(p + off);
    uint32_t len = load_be32(p + off + 4);
    off += 8;
    if (type == kExtEnd)
      break;
    if (len > ext_end - off) {
      return make_error("Invalid qcow2 header extension 0x%x: length %u is too large", type, len);
    }
    std::vector<uint8_t> data(p + off, p + off + len);
    switch (type) {
      case kExtBackingFormat:
        if (len > 31)
          return make_error("Backing format name in the header is too long");
        img.backing_format.assign(data.begin(), data.end());
        break;
      case kExtFeatureTable:
        for (uint32_t i = 0; i + 48 <= len; i += 48) {
          FeatureName f;
          f.type = data[i];
          f.bit = data[i + 1];
          const char* name = reinterpret_cast<const char*>(&data[i + 2]);
          f.name.assign(name, strnlen(name, 46));
          img.feature_names.push_back(std::move(f));
        }
        break;
      case kExtBitmaps:
        if (len < 24)
          return make_error("Invalid qcow2 bitmaps extension");
        img.has_bitmaps = true;
        break;
      default:
        break;  // kept as is: colovm never rewrites the extension area
    }
    img.extensions.emplace_back(type, std::move(data));
    off += (static_cast<uint64_t>(len) + 7) / 8 * 8;
  }

  if (h.backing_file_offset != 0) {
    if (h.backing_file_size > kMaxBackingNameSize ||
        h.backing_file_offset > cs - h.backing_file_size) {
      return make_error("Backing file name too long");
    }
    if (h.backing_file_offset + h.backing_file_size > head.size()) {
      return make_error("Backing file name is past the end of the image");
    }
    img.backing_file.assign(reinterpret_cast<const char*>(p + h.backing_file_offset),
                            h.backing_file_size);
    if (img.backing_file.find('\0') != std::string::npos) {
      return make_error("Backing file name contains a NUL byte");
    }
  }

  // Features.
  uint64_t unknown = h.incompatible_features & ~kIncompatKnown;
  if (unknown) {
    return make_error("Unsupported qcow2 feature(s): %s", feature_list(img, 0, unknown).c_str());
  }
  if (h.incompatible_features & kIncompatDataFile) {
    return make_error("External data files are not supported");
  }
  if (h.incompatible_features & kIncompatExtendedL2) {
    return make_error("Extended L2 entries (subclusters) are not supported");
  }
  bool has_compression_bit = h.incompatible_features & kIncompatCompression;
  if (has_compression_bit ? (h.compression_type != 1) : (h.compression_type != 0)) {
    return make_error("Invalid compression type %u", h.compression_type);
  }
  if (h.crypt_method != 0) {
    return Error(string_printf("qcow2 encryption (method %u) is not supported", h.crypt_method))
        .set_hint("convert the image with 'qemu-img convert' to an unencrypted one");
  }

  // Sizes and tables.
  if (h.size > (UINT64_C(1) << 62))
    return make_error("Image size is too large");
  const uint64_t l2_entries = cs / 8;
  const uint64_t l1_span = cs * l2_entries;  // guest bytes per L1 entry
  uint64_t l1_needed = h.size / l1_span + (h.size % l1_span != 0);
  if (l1_needed > kMaxL1Bytes / 8)
    return make_error("Image is too big");
  if (static_cast<uint64_t>(h.l1_size) * 8 > kMaxL1Bytes) {
    return make_error("Active L1 table too large");
  }
  if (h.l1_size < l1_needed)
    return make_error("L1 table is too small");
  if (h.l1_size > 0) {
    if (h.l1_table_offset == 0 || h.l1_table_offset % cs != 0) {
      return make_error("Invalid L1 table offset");
    }
    if (h.l1_table_offset > file_size ||
        static_cast<uint64_t>(h.l1_size) * 8 > file_size - h.l1_table_offset) {
      return make_error("L1 table is past the end of the image file");
    }
  }
  if (h.refcount_table_clusters == 0) {
    return make_error("Image does not contain a reference count table");
  }
  if (static_cast<uint64_t>(h.refcount_table_clusters) * cs > kMaxRefcountTableBytes) {
    return make_error("Reference count table too large");
  }
  if (h.refcount_table_offset == 0 || h.refcount_table_offset % cs != 0) {
    return make_error("Invalid reference count table offset");
  }
  uint64_t rt_bytes = static_cast<uint64_t>(h.refcount_table_clusters) * cs;
  if (h.refcount_table_offset > file_size || rt_bytes > file_size - h.refcount_table_offset) {
    return make_error("Reference count table is past the end of the image file");
  }
  if (h.nb_snapshots > kMaxSnapshots)
    return make_error("Too many snapshots");
  if (h.nb_snapshots > 0 && (h.snapshots_offset == 0 || h.snapshots_offset % cs != 0)) {
    return make_error("Invalid snapshot table offset");
  }
  return img;
}

// ---- Qcow2Node ----

Qcow2Node::Qcow2Node(const BlockDriver& driver, NodeOptions options,
                     std::shared_ptr<BlockNode> file, ImageHeader image, CacheOptions cache)
    : BlockNode(driver, std::move(options)),
      file_(file.get()),
      image_(std::move(image)),
      header_(image_.header),
      cluster_bits_(header_.cluster_bits),
      cluster_size_(UINT64_C(1) << header_.cluster_bits),
      l2_bits_(header_.cluster_bits - 3),
      l2_entries_(UINT64_C(1) << (header_.cluster_bits - 3)),
      refcount_bits_(1u << header_.refcount_order),
      refcount_max_(header_.refcount_order == 6
                        ? UINT64_MAX
                        : (UINT64_C(1) << (1u << header_.refcount_order)) - 1),
      rb_bits_(header_.cluster_bits + 3 - header_.refcount_order),
      rb_entries_(UINT64_C(1) << (header_.cluster_bits + 3 - header_.refcount_order)) {
  add_child("file", std::move(file));
  // Default L2 cache: enough to map the whole disk, at most 32 MiB (QEMU's default maximum).
  uint64_t l2_bytes = cache.l2_cache_bytes;
  if (l2_bytes == 0) {
    l2_bytes = std::min<uint64_t>(std::max<uint64_t>(header_.l1_size, 1) * cluster_size_,
                                  std::max<uint64_t>(32 << 20, 4 * cluster_size_));
  }
  uint64_t rb_bytes = cache.refcount_cache_bytes;
  if (rb_bytes == 0)
    rb_bytes = std::max<uint64_t>(l2_bytes / 4, 4 * cluster_size_);
  l2_cache_.set_capacity(static_cast<size_t>(l2_bytes / cluster_size_));
  rb_cache_.set_capacity(static_cast<size_t>(rb_bytes / cluster_size_));
}

Qcow2Node::~Qcow2Node() {
  Status st = close();
  if (!st.ok())
    error_report_err(st.error());
}

void Qcow2Node::set_backing(std::shared_ptr<BlockNode> backing) {
  backing_ = backing.get();
  add_child("backing", std::move(backing));
}

Status Qcow2Node::load() {
  // The L1 table (bounds were checked by parse_header).
  if (header_.l1_size > 0) {
    std::vector<uint8_t> raw(static_cast<size_t>(header_.l1_size) * 8);
    COLO_TRY(file_->read(header_.l1_table_offset, raw).prepend("Could not read the L1 table"));
    l1_.resize(header_.l1_size);
    for (size_t i = 0; i < l1_.size(); i++)
      l1_[i] = load_be64(&raw[i * 8]);
  }
  // The refcount table.
  {
    uint64_t bytes = static_cast<uint64_t>(header_.refcount_table_clusters) * cluster_size_;
    std::vector<uint8_t> raw(bytes);
    COLO_TRY(file_->read(header_.refcount_table_offset, raw)
                 .prepend("Could not read the refcount table"));
    rt_.resize(bytes / 8);
    for (size_t i = 0; i < rt_.size(); i++)
      rt_[i] = load_be64(&raw[i * 8]);
  }
  corrupt_ = header_.incompatible_features & kIncompatCorrupt;
  if (!read_only())
    COLO_TRY(prepare_for_writing());
  return ok_status();
}

Status Qcow2Node::check_writable_image() const {
  const char* name = node_name().c_str();
  if (header_.incompatible_features & kIncompatCorrupt) {
    return Error(string_printf("qcow2 image '%s' is corrupt; cannot be opened read/write", name))
        .set_hint("repair it with 'qemu-img check -r all', or open it read-only");
  }
  if (header_.incompatible_features & kIncompatDirty) {
    return Error(string_printf("qcow2 image '%s' is dirty (refcounts may be inconsistent); "
                               "cannot be opened read/write",
                               name))
        .set_hint("repair it with 'qemu-img check -r all', or open it read-only");
  }
  if (header_.nb_snapshots > 0) {
    return Error(string_printf("qcow2 image '%s' has internal snapshots; writing to it is not "
                               "supported because it would corrupt their refcounts",
                               name))
        .set_hint("open it read-only, or delete the snapshots with 'qemu-img snapshot -d'");
  }
  if (image_.has_bitmaps && (header_.autoclear_features & kAutoclearBitmaps)) {
    return Error(string_printf("qcow2 image '%s' has persistent dirty bitmaps; writing to it is "
                               "not supported",
                               name))
        .set_hint("open it read-only, or remove the bitmaps with 'qemu-img bitmap --remove'");
  }
  return ok_status();
}

Status Qcow2Node::prepare_for_writing() {
  COLO_TRY(check_writable_image());
  // Auto-clear features colovm does not maintain must be cleared before writing.
  if (header_.version >= 3 && header_.autoclear_features != 0) {
    uint8_t zero[8] = {};
    COLO_TRY(file_->write(kHeaderAutoclear, zero).prepend("Could not update the qcow2 header"));
    COLO_TRY(sync_file());
    header_.autoclear_features = 0;
  }
  build_metadata_set();
  free_hint_ = 0;
  return ok_status();
}

void Qcow2Node::build_metadata_set() {
  metadata_.clear();
  metadata_.insert(0);
  if (!l1_.empty()) {
    uint64_t first = cluster_of(header_.l1_table_offset);
    uint64_t last = cluster_of(header_.l1_table_offset + l1_.size() * 8 - 1);
    for (uint64_t c = first; c <= last; c++)
      metadata_.insert(c);
  }
  uint64_t rt_first = cluster_of(header_.refcount_table_offset);
  for (uint64_t c = 0; c < header_.refcount_table_clusters; c++)
    metadata_.insert(rt_first + c);
  for (uint64_t e : l1_) {
    uint64_t off = e & kL1OffsetMask;
    if (off)
      metadata_.insert(cluster_of(off));
  }
  for (uint64_t e : rt_) {
    uint64_t off = e & kRefTableOffsetMask;
    if (off)
      metadata_.insert(cluster_of(off));
  }
}

Error Qcow2Node::corruption(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string what = vformat(fmt, ap);
  va_end(ap);
  if (!corrupt_ && !read_only() && header_.version >= 3) {
    // Best effort: the image is marked so that nobody writes to it before a repair.
    uint8_t buf[8];
    store_be64(buf, header_.incompatible_features | kIncompatCorrupt);
    if (file_->write(kHeaderIncompatible, buf).ok() && sync_file().ok()) {
      header_.incompatible_features |= kIncompatCorrupt;
    }
    error_report("Marking qcow2 image '%s' as corrupt: %s; further writes are refused",
                 node_name().c_str(), what.c_str());
  }
  if (!read_only())
    corrupt_ = true;
  return make_error("qcow2 image '%s' is corrupt: %s", node_name().c_str(), what.c_str());
}

Status Qcow2Node::do_reopen(AccessMode mode) {
  if (mode == AccessMode::kReadWrite) {
    COLO_TRY(check_writable_image());
    COLO_TRY(file_->reopen(AccessMode::kReadWrite));
    // prepare_for_writing() runs as a writable node.
    read_only_.store(false);
    Status st = prepare_for_writing();
    if (!st.ok()) {
      read_only_.store(true);
      (void)file_->reopen(AccessMode::kReadOnly);
      return st;
    }
    return ok_status();
  }
  COLO_TRY(flush_metadata());
  COLO_TRY(file_->flush());
  metadata_.clear();
  return file_->reopen(AccessMode::kReadOnly);
}

Status Qcow2Node::do_close() {
  Status st = ok_status();
  if (!read_only()) {
    st = flush_metadata();
    if (st.ok())
      st = file_->flush();
  }
  l2_cache_.clear();
  rb_cache_.clear();
  return st;
}

void Qcow2Node::fill_image_info(ImageInfo& info) const {
  BlockNode::fill_image_info(info);
  std::lock_guard<std::mutex> lock(mutex_);
  info.cluster_size = cluster_size_;
  info.dirty_flag = (header_.incompatible_features & kIncompatDirty) != 0;
  if (!image_.backing_file.empty() && backing_)
    info.full_backing_filename = backing_->filename();
  Qcow2ImageInfo q;
  q.compat = header_.version >= 3 ? "1.1" : "0.10";
  q.lazy_refcounts = header_.compatible_features & kCompatLazyRefcounts;
  q.corrupt = corrupt_ || (header_.incompatible_features & kIncompatCorrupt);
  q.refcount_bits = static_cast<int>(refcount_bits_);
  q.extended_l2 = header_.incompatible_features & kIncompatExtendedL2;
  q.compression_type = header_.compression_type == 1 ? "zstd" : "zlib";
  info.qcow2 = q;
}

namespace {

// Where a backing file named in an image lives: relative names are relative to the image.
Result<std::string> resolve_backing_name(const std::string& name, const std::string& image) {
  std::string backing = name;
  // "proto:..." (a ':' before any '/') names a protocol, as in QEMU; only file: is known.
  size_t colon = backing.find(':');
  if (colon != std::string::npos && backing.find('/') > colon) {
    if (backing.compare(0, colon, "file") != 0) {
      return make_error("Unknown protocol in backing file name '%s'", backing.c_str());
    }
    backing = backing.substr(colon + 1);
  }
  if (backing.empty())
    return make_error("Empty backing file name");
  if (backing[0] == '/')
    return backing;
  size_t slash = image.rfind('/');
  if (slash == std::string::npos)
    return backing;
  return image.substr(0, slash + 1) + backing;
}

constexpr int kMaxBackingDepth = 64;

class Qcow2Driver : public BlockDriver {
 public:
  std::string_view name() const override { return "qcow2"; }
  DriverKind kind() const override { return DriverKind::kFormat; }

  int probe(std::span<const uint8_t> head) const override {
    if (head.size() >= 8 && load_be32(head.data()) == kMagic && load_be32(head.data() + 4) >= 2) {
      return 100;
    }
    return 0;
  }

  Result<std::shared_ptr<BlockNode>> open(OpenContext& ctx, OptionReader& opts,
                                          const NodeOptions& node_options) const override {
    CacheOptions cache;
    COLO_ASSIGN_OR_RETURN(auto cache_size, opts.take_size("cache-size"));
    COLO_ASSIGN_OR_RETURN(auto l2_cache, opts.take_size("l2-cache-size"));
    COLO_ASSIGN_OR_RETURN(auto rb_cache, opts.take_size("refcount-cache-size"));
    if (cache_size) {
      cache.l2_cache_bytes = *cache_size * 3 / 4;
      cache.refcount_cache_bytes = *cache_size / 4;
    }
    if (l2_cache)
      cache.l2_cache_bytes = *l2_cache;
    if (rb_cache)
      cache.refcount_cache_bytes = *rb_cache;
    COLO_TRY(opts.take_size("l2-cache-entry-size"));
    COLO_TRY(opts.take_uint("cache-clean-interval"));
    COLO_ASSIGN_OR_RETURN(auto lazy, opts.take_bool("lazy-refcounts"));
    if (lazy.value_or(false))
      return make_error("lazy-refcounts=on is not supported");
    COLO_TRY(opts.take_bool("pass-discard-request"));
    COLO_TRY(opts.take_bool("pass-discard-snapshot"));
    COLO_TRY(opts.take_bool("pass-discard-other"));
    COLO_TRY(opts.take_enum("overlap-check", {"none", "constant", "cached", "all"}));
    if (opts.has_prefix("data-file"))
      return make_error("External data files are not supported");
    if (opts.has_prefix("encrypt"))
      return make_error("qcow2 encryption is not supported");

    COLO_ASSIGN_OR_RETURN(auto file,
                          ctx.open_child(opts, "file", node_options, ChildRequirement::kRequired));
    uint64_t file_size = file->size();
    // The fixed header first, to learn the cluster size, then the whole first cluster.
    std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(file_size, 4096)));
    COLO_TRY(file->read(0, head));
    if (head.size() >= 24 && load_be32(head.data()) == kMagic) {
      uint32_t bits = load_be32(head.data() + 20);
      if (bits >= kMinClusterBits && bits <= kMaxClusterBits) {
        uint64_t want = std::min<uint64_t>(file_size, UINT64_C(1) << bits);
        if (want > head.size()) {
          head.resize(static_cast<size_t>(want));
          COLO_TRY(file->read(0, head));
        }
      }
    }
    std::string filename = file->filename();
    COLO_ASSIGN_OR_RETURN(ImageHeader image,
                          parse_header(head, file_size).prepend("'" + filename + "'"));
    if (!node_options.read_only && file->read_only()) {
      return make_error("Cannot open '%s' read-write: its file is read-only", filename.c_str());
    }
    std::string backing_name = image.backing_file;
    std::string backing_format = image.backing_format;
    auto node = std::make_shared<Qcow2Node>(*this, node_options, file, std::move(image), cache);
    COLO_TRY(node->load().prepend("'" + filename + "'"));

    // The backing: named in the options, or `backing=null`, or from the header.
    std::shared_ptr<BlockNode> backing;
    if (opts.has_prefix("backing")) {
      COLO_ASSIGN_OR_RETURN(
          backing, ctx.open_child(opts, "backing", node_options, ChildRequirement::kOptional));
    } else if (!backing_name.empty()) {
      if (ctx.backing_depth() >= kMaxBackingDepth) {
        return make_error("Backing chain of '%s' is too deep (a loop?)", filename.c_str());
      }
      COLO_ASSIGN_OR_RETURN(std::string path, resolve_backing_name(backing_name, filename));
      COLO_ASSIGN_OR_RETURN(backing, ctx.open_image(path, backing_format, node_options, "backing")
                                         .prepend(string_printf("Could not open backing file '%s'",
                                                                backing_name.c_str())));
    }
    if (backing)
      node->set_backing(std::move(backing));
    return std::shared_ptr<BlockNode>(std::move(node));
  }
};

}  // namespace

}  // namespace colo::block::qcow2

namespace colo::block {

std::unique_ptr<BlockDriver> make_qcow2_driver() {
  return std::make_unique<qcow2::Qcow2Driver>();
}

}  // namespace colo::block
