// SPDX-License-Identifier: GPL-2.0-or-later
//
// The "file" protocol driver (and "host_device", the same for block devices): a host file or
// block device accessed with pread/pwrite/fdatasync. With cache.direct=on the file is opened
// O_DIRECT and unaligned requests go through an aligned bounce buffer (read-modify-write).
// Reads past the end of a regular file return zeros and writes past it extend the file, as
// formats on top expect. Discard punches holes; write_zeroes uses FALLOC_FL_ZERO_RANGE (or
// BLKZEROOUT) where possible.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "block/block-driver.h"
#include "block/drivers.h"
#include "util/log.h"

namespace colo::block {

namespace {

// Alignment for O_DIRECT requests and buffers: satisfies every logical block size up to 4 KiB.
constexpr uint64_t kDirectAlign = 4096;

struct AlignedBuffer {
  explicit AlignedBuffer(size_t n) {
    if (posix_memalign(&ptr, kDirectAlign, std::max<size_t>(n, kDirectAlign)) != 0)
      ptr = nullptr;
  }
  ~AlignedBuffer() { free(ptr); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data() { return static_cast<uint8_t*>(ptr); }
  void* ptr = nullptr;
};

int open_flags(bool read_only, bool direct) {
  return (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
}

class FileNode final : public BlockNode {
 public:
  FileNode(const BlockDriver& driver, NodeOptions options, std::string filename, int fd,
           bool block_device, uint64_t size)
      : BlockNode(driver, std::move(options)),
        filename_(std::move(filename)),
        fd_(fd),
        block_device_(block_device),
        size_(size),
        align_(this->options().cache_direct ? kDirectAlign : 1) {}

  ~FileNode() override {
    Status st = close();
    if (!st.ok())
      error_report_err(st.error());
  }

  uint64_t size() const override { return size_.load(); }
  bool growable() const override { return !block_device_; }
  std::string filename() const override { return filename_; }

 protected:
  Status do_read(uint64_t offset, std::span<uint8_t> buf) override;
  Status do_write(uint64_t offset, std::span<const uint8_t> buf) override;
  Status do_write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode) override;
  Status do_discard(uint64_t offset, uint64_t bytes) override;
  Status do_flush() override;
  Result<BlockStatus> do_block_status(uint64_t offset, uint64_t bytes) override;
  Status do_reopen(AccessMode mode) override;
  Status do_close() override;
  void fill_image_info(ImageInfo& info) const override;

 private:
  std::string filename_;
  int fd_;
  bool block_device_;
  std::atomic<uint64_t> size_;
  uint64_t align_;

  bool aligned(uint64_t offset, uint64_t bytes, const void* p) const {
    return align_ == 1 || (offset % align_ == 0 && bytes % align_ == 0 &&
                           reinterpret_cast<uintptr_t>(p) % align_ == 0);
  }
  Status pread_full(uint64_t offset, uint8_t* p, uint64_t bytes);
  Status pwrite_full(uint64_t offset, const uint8_t* p, uint64_t bytes);
  void note_end(uint64_t end) {
    uint64_t cur = size_.load();
    while (end > cur && !size_.compare_exchange_weak(cur, end)) {
    }
  }
};

Status FileNode::pread_full(uint64_t offset, uint8_t* p, uint64_t bytes) {
  while (bytes > 0) {
    ssize_t n = pread(fd_, p, bytes, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno_error(errno, "Could not read '%s' at offset %llu", filename_.c_str(),
                         static_cast<unsigned long long>(offset));
    }
    if (n == 0 || (align_ > 1 && static_cast<uint64_t>(n) < bytes)) {
      // End of file: the rest reads as zeros.
      memset(p + n, 0, bytes - static_cast<uint64_t>(n));
      return ok_status();
    }
    p += n;
    offset += static_cast<uint64_t>(n);
    bytes -= static_cast<uint64_t>(n);
  }
  return ok_status();
}

Status FileNode::pwrite_full(uint64_t offset, const uint8_t* p, uint64_t bytes) {
  while (bytes > 0) {
    ssize_t n = pwrite(fd_, p, bytes, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno_error(errno, "Could not write '%s' at offset %llu", filename_.c_str(),
                         static_cast<unsigned long long>(offset));
    }
    if (n == 0) {
      return errno_error(EIO, "Could not write '%s' at offset %llu", filename_.c_str(),
                         static_cast<unsigned long long>(offset));
    }
    p += n;
    offset += static_cast<uint64_t>(n);
    bytes -= static_cast<uint64_t>(n);
  }
  return ok_status();
}

Status FileNode::do_read(uint64_t offset, std::span<uint8_t> buf) {
  if (aligned(offset, buf.size(), buf.data()))
    return pread_full(offset, buf.data(), buf.size());
  uint64_t start = offset / align_ * align_;
  uint64_t end = (offset + buf.size() + align_ - 1) / align_ * align_;
  AlignedBuffer bounce(end - start);
  if (!bounce.data())
    return make_error("Out of memory for a bounce buffer");
  COLO_TRY(pread_full(start, bounce.data(), end - start));
  memcpy(buf.data(), bounce.data() + (offset - start), buf.size());
  return ok_status();
}

Status FileNode::do_write(uint64_t offset, std::span<const uint8_t> buf) {
  uint64_t old_size = size_.load();
  if (aligned(offset, buf.size(), buf.data())) {
    COLO_TRY(pwrite_full(offset, buf.data(), buf.size()));
    note_end(offset + buf.size());
    return ok_status();
  }
  // Read-modify-write of the aligned blocks around the request.
  uint64_t start = offset / align_ * align_;
  uint64_t end = (offset + buf.size() + align_ - 1) / align_ * align_;
  AlignedBuffer bounce(end - start);
  if (!bounce.data())
    return make_error("Out of memory for a bounce buffer");
  bool head = start < offset;
  bool tail = end > offset + buf.size();
  if (head)
    COLO_TRY(pread_full(start, bounce.data(), align_));
  if (tail && !(head && end - align_ == start)) {
    COLO_TRY(pread_full(end - align_, bounce.data() + (end - align_ - start), align_));
  }
  memcpy(bounce.data() + (offset - start), buf.data(), buf.size());
  COLO_TRY(pwrite_full(start, bounce.data(), end - start));
  uint64_t new_end = std::max(old_size, offset + buf.size());
  if (!block_device_ && end > new_end) {
    // The aligned write went past the requested end of a growing file: cut the padding off.
    if (ftruncate(fd_, static_cast<off_t>(new_end)) < 0) {
      return errno_error(errno, "Could not truncate '%s'", filename_.c_str());
    }
  }
  note_end(offset + buf.size());
  return ok_status();
}

Status FileNode::do_write_zeroes(uint64_t offset, uint64_t bytes, ZeroMode mode) {
  if (block_device_) {
    if (offset % 512 == 0 && bytes % 512 == 0) {
      uint64_t range[2] = {offset, bytes};
      if (ioctl(fd_, BLKZEROOUT, range) == 0)
        return ok_status();
    }
    return BlockNode::do_write_zeroes(offset, bytes, mode);
  }
  uint64_t sz = size_.load();
  if (mode == ZeroMode::kMayUnmap && offset + bytes <= sz) {
    if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(bytes)) == 0) {
      return ok_status();
    }
  }
  if (fallocate(fd_, FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset), static_cast<off_t>(bytes)) ==
      0) {
    note_end(offset + bytes);
    return ok_status();
  }
  return BlockNode::do_write_zeroes(offset, bytes, mode);
}

Status FileNode::do_discard(uint64_t offset, uint64_t bytes) {
  if (block_device_) {
    uint64_t start = (offset + 511) / 512 * 512;
    uint64_t end = (offset + bytes) / 512 * 512;
    if (end > start) {
      uint64_t range[2] = {start, end - start};
      (void)ioctl(fd_, BLKDISCARD, range);  // advisory: unsupported is fine
    }
    return ok_status();
  }
  uint64_t sz = size_.load();
  if (offset >= sz)
    return ok_status();
  bytes = std::min(bytes, sz - offset);
  if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(bytes)) < 0) {
    if (errno == EOPNOTSUPP || errno == ENOSYS)
      return ok_status();
    return errno_error(errno, "Could not discard in '%s'", filename_.c_str());
  }
  return ok_status();
}

Status FileNode::do_flush() {
  if (options().cache_no_flush)
    return ok_status();
  if (fdatasync(fd_) < 0)
    return errno_error(errno, "Could not flush '%s'", filename_.c_str());
  return ok_status();
}

Result<BlockStatus> FileNode::do_block_status(uint64_t offset, uint64_t bytes) {
  BlockStatus st;
  st.allocated = true;
  st.bytes = bytes;
  st.data = true;
  if (block_device_)
    return st;
  off_t data = lseek(fd_, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) {
    if (errno == ENXIO) {  // no data after offset: a hole up to the end
      st.data = false;
      st.zero = true;
    }
    return st;
  }
  if (static_cast<uint64_t>(data) > offset) {
    st.data = false;
    st.zero = true;
    st.bytes = std::min<uint64_t>(bytes, static_cast<uint64_t>(data) - offset);
    return st;
  }
  off_t hole = lseek(fd_, static_cast<off_t>(offset), SEEK_HOLE);
  if (hole > 0 && static_cast<uint64_t>(hole) > offset) {
    st.bytes = std::min<uint64_t>(bytes, static_cast<uint64_t>(hole) - offset);
  }
  return st;
}

Status FileNode::do_reopen(AccessMode mode) {
  int flags = open_flags(mode == AccessMode::kReadOnly, options().cache_direct);
  std::string proc = string_printf("/proc/self/fd/%d", fd_);
  int fd = open(proc.c_str(), flags);
  if (fd < 0)
    fd = open(filename_.c_str(), flags);
  if (fd < 0)
    return errno_error(errno, "Could not reopen '%s'", filename_.c_str());
  if (mode == AccessMode::kReadOnly && !options().cache_no_flush)
    (void)fdatasync(fd_);
  ::close(fd_);
  fd_ = fd;
  return ok_status();
}

Status FileNode::do_close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  return ok_status();
}

void FileNode::fill_image_info(ImageInfo& info) const {
  struct stat st;
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ >= 0 && fstat(fd_, &st) == 0) {
    info.actual_size = static_cast<uint64_t>(st.st_blocks) * 512;
  }
}

class FileDriver : public BlockDriver {
 public:
  explicit FileDriver(bool host_device) : host_device_(host_device) {}

  std::string_view name() const override { return host_device_ ? "host_device" : "file"; }
  DriverKind kind() const override { return DriverKind::kProtocol; }

  Result<std::shared_ptr<BlockNode>> open(OpenContext& ctx, OptionReader& opts,
                                          const NodeOptions& node_options) const override {
    COLO_ASSIGN_OR_RETURN(std::string filename, opts.take_required_string("filename"));
    if (filename.empty()) {
      return make_error("The '%s' block driver requires a file name", std::string(name()).c_str());
    }
    COLO_TRY(opts.take_enum("aio", {"threads", "native", "io_uring"}));
    COLO_TRY(opts.take_enum("locking", {"auto", "on", "off"}));
    COLO_TRY(opts.take_bool("drop-cache"));

    NodeOptions nopts = node_options;
    int fd = ::open(filename.c_str(), open_flags(nopts.read_only, nopts.cache_direct));
    if (fd < 0 && !nopts.read_only && nopts.auto_read_only &&
        (errno == EACCES || errno == EROFS || errno == EPERM)) {
      nopts.read_only = true;
      fd = ::open(filename.c_str(), open_flags(true, nopts.cache_direct));
    }
    if (fd < 0)
      return errno_error(errno, "Could not open '%s'", filename.c_str());
    struct stat st;
    if (fstat(fd, &st) < 0) {
      int err = errno;
      ::close(fd);
      return errno_error(err, "Could not stat '%s'", filename.c_str());
    }
    bool block_device = S_ISBLK(st.st_mode);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return errno_error(EISDIR, "Could not open '%s'", filename.c_str());
    }
    if (host_device_ && !block_device) {
      ::close(fd);
      return make_error("'%s' is not a block device", filename.c_str());
    }
    if (block_device) {
      uint64_t bytes = 0;
      if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
        int err = errno;
        ::close(fd);
        return errno_error(err, "Could not get the size of '%s'", filename.c_str());
      }
      size = bytes;
    } else if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return make_error("'%s' is not a regular file or block device", filename.c_str());
    }
    return std::shared_ptr<BlockNode>(
        std::make_shared<FileNode>(*this, nopts, filename, fd, block_device, size));
  }

 private:
  bool host_device_;
};

}  // namespace

std::unique_ptr<BlockDriver> make_file_driver() {
  return std::make_unique<FileDriver>(false);
}
std::unique_ptr<BlockDriver> make_host_device_driver() {
  return std::make_unique<FileDriver>(true);
}

}  // namespace colo::block
