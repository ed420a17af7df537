// SPDX-License-Identifier: GPL-2.0-or-later
//
// The "raw" format driver: the guest sees its "file" child's bytes, optionally a window of them
// (offset=, size=). A raw node whose format was probed rather than named refuses writes that
// would make its first sector look like another format (as QEMU does), so a guest cannot turn
// its disk into, say, a qcow2 image naming a host file as backing.
#include <algorithm>
#include <cstring>
#include <vector>

#include "block/block-driver.h"
#include "block/drivers.h"
#include "util/log.h"

namespace colo::block {

namespace {

constexpr uint64_t kProbeSectorSize = 512;

class RawNode final : public BlockNode {
 public:
  RawNode(const BlockDriver& driver, NodeOptions options, std::shared_ptr<BlockNode> file,
          uint64_t offset, std::optional<uint64_t> size, bool probed)
      : BlockNode(driver, std::move(options)),
        file_(file.get()),
        offset_(offset),
        fixed_size_(size),
        probed_(probed) {
    add_child("file", std::move(file));
  }

  ~RawNode() override {
    Status st = close();
    if (!st.ok())
      error_report_err(st.error());
  }

  uint64_t size() const override {
    if (fixed_size_)
      return *fixed_size_;
    uint64_t fs = file_->size();
    return fs > offset_ ? fs - offset_ : 0;
  }

 protected:
  Status do_read(uint64_t offset, std::span<uint8_t> buf) override {
    return file_->read(offset_ + offset, buf);
  }

  Status do_write(uint64_t offset, std::span<const uint8_t> buf) override {
    if (probed_ && offset < kProbeSectorSize)
      COLO_TRY(check_probed_write(offset, buf));
    return file_->write(offset_ + offset, buf);
  }

  Status do_write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode) override {
    // Zeros never look like another format.
    return file_->write_zeroes(offset_ + offset, bytes, mode);
  }

  Status do_discard(uint64_t offset, uint64_t bytes) override {
    return file_->discard(offset_ + offset, bytes);
  }

  Status do_flush() override { return file_->flush(); }

  Result<BlockStatus> do_block_status(uint64_t offset, uint64_t bytes) override {
    uint64_t fsize = file_->size();
    uint64_t pos = offset_ + offset;
    if (pos >= fsize) {  // a window past the end of a shrunk file reads zeros
      BlockStatus st;
      st.bytes = bytes;
      st.allocated = true;
      st.zero = true;
      return st;
    }
    COLO_ASSIGN_OR_RETURN(BlockStatus st, file_->block_status(pos, std::min(bytes, fsize - pos)));
    st.allocated = true;
    return st;
  }

 private:
  BlockNode* file_;
  uint64_t offset_;
  std::optional<uint64_t> fixed_size_;
  bool probed_;

  Status check_probed_write(uint64_t offset, std::span<const uint8_t> buf) {
    std::vector<uint8_t> sector(kProbeSectorSize, 0);
    uint64_t avail = std::min<uint64_t>(kProbeSectorSize, size());
    COLO_TRY(file_->read(offset_, std::span<uint8_t>(sector.data(), avail)));
    uint64_t n = std::min<uint64_t>(buf.size(), kProbeSectorSize - offset);
    memcpy(sector.data() + offset, buf.data(), n);
    for (const BlockDriver* drv : block_drivers()) {
      if (drv->kind() != DriverKind::kFormat || drv == &driver())
        continue;
      if (drv->probe(sector) > 1) {
        return make_error(
            "Refusing a write that would make the probed raw image '%s' look like '%s'",
            node_name().c_str(), std::string(drv->name()).c_str());
      }
    }
    return ok_status();
  }
};

class RawDriver : public BlockDriver {
 public:
  std::string_view name() const override { return "raw"; }
  DriverKind kind() const override { return DriverKind::kFormat; }
  int probe(std::span<const uint8_t> head) const override { return 1; }

  Result<std::shared_ptr<BlockNode>> open(OpenContext& ctx, OptionReader& opts,
                                          const NodeOptions& node_options) const override {
    COLO_ASSIGN_OR_RETURN(auto offset, opts.take_uint("offset"));
    COLO_ASSIGN_OR_RETURN(auto size, opts.take_uint("size"));
    // Set by drive_open() when it guessed the format.
    COLO_ASSIGN_OR_RETURN(auto probed, opts.take_bool("x-probed"));
    COLO_ASSIGN_OR_RETURN(auto file,
                          ctx.open_child(opts, "file", node_options, ChildRequirement::kRequired));
    uint64_t off = offset.value_or(0);
    uint64_t fsize = file->size();
    if (size) {
      if (off > fsize || *size > fsize - off) {
        return make_error(
            "The sum of offset (%llu) and size (%llu) has to be smaller or equal to the actual "
            "size of the containing file (%llu)",
            static_cast<unsigned long long>(off), static_cast<unsigned long long>(*size),
            static_cast<unsigned long long>(fsize));
      }
    } else if (off > fsize) {
      return make_error("The offset (%llu) is past the end of the containing file (%llu)",
                        static_cast<unsigned long long>(off),
                        static_cast<unsigned long long>(fsize));
    }
    return std::shared_ptr<BlockNode>(std::make_shared<RawNode>(
        *this, node_options, std::move(file), off, size, probed.value_or(false)));
  }
};

}  // namespace

std::unique_ptr<BlockDriver> make_raw_driver() {
  return std::make_unique<RawDriver>();
}

}  // namespace colo::block
