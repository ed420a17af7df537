// SPDX-License-Identifier: GPL-2.0-or-later
//
// Fuzzes the qcow2 driver with hostile image files: the input is written to a memfd, opened
// read-only (backing=null, so a backing file name never opens a host file) and read through,
// then a copy is opened read-write and written, zeroed, discarded, flushed and emptied. Any
// error is fine; a crash, sanitizer report or hang is a bug.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "block/block.h"
#include "block/blockdev.h"

namespace {

using colo::block::BlockGraph;
using colo::block::BlockNode;
using colo::block::KeyvalDict;

constexpr uint64_t kMaxReadBytes = 4 << 20;
constexpr uint64_t kChunk = 64 << 10;

// A memfd holding `data`; returns -1 on failure.
int make_memfd(const uint8_t* data, size_t size) {
  int fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) {
      close(fd);
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  return fd;
}

KeyvalDict options(int fd, bool writable) {
  KeyvalDict d = {
      {"driver", "qcow2"},
      {"node-name", "fuzz"},
      {"backing", "null"},
      {"file.driver", "file"},
      {"file.filename", "/proc/self/fd/" + std::to_string(fd)},
      {"l2-cache-size", "64k"},
      {"refcount-cache-size", "16k"},
  };
  if (writable) {
    d["discard"] = "unmap";
  } else {
    d["read-only"] = "on";
  }
  return d;
}

void read_through(BlockNode& node) {
  const uint64_t size = node.size();
  std::vector<uint8_t> buf(kChunk);
  // The start of the disk, then chunks spread over the whole of it.
  uint64_t budget = kMaxReadBytes;
  uint64_t step = std::max<uint64_t>(size / 32, kChunk);
  for (uint64_t off = 0; off < size && budget > 0; off += (off < (1 << 20) ? kChunk : step)) {
    uint64_t n = std::min<uint64_t>(kChunk, size - off);
    (void)node.read(off, std::span<uint8_t>(buf.data(), n));
    budget -= std::min(budget, n);
  }
  // Unaligned reads near the end.
  if (size > 3)
    (void)node.read(size - 3, std::span<uint8_t>(buf.data(), 3));
  uint64_t off = 0;
  for (int i = 0; i < 64 && off < size; i++) {
    uint64_t pnum = 0;
    if (!node.is_allocated(off, size - off, &pnum).ok() || pnum == 0)
      break;
    off += pnum;
  }
}

void write_through(BlockNode& node) {
  const uint64_t size = node.size();
  if (size == 0)
    return;
  std::vector<uint8_t> data(70000, 0x5a);
  for (uint64_t off : {uint64_t{0}, uint64_t{1000}, size / 2, size > 70000 ? size - 70000 : 0}) {
    uint64_t n = std::min<uint64_t>(data.size(), size - std::min(off, size));
    (void)node.write(off, std::span<const uint8_t>(data.data(), n));
  }
  (void)node.write_zeroes(0, std::min<uint64_t>(size, 200000));
  (void)node.discard(0, std::min<uint64_t>(size, 100000));
  (void)node.flush();
  read_through(node);
  (void)node.make_empty();
  (void)node.flush();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (8 << 20))
    return 0;
  int fd = make_memfd(data, size);
  if (fd < 0)
    return 0;
  {
    BlockGraph graph;
    auto node = graph.blockdev_open(options(fd, false));
    if (node.ok())
      read_through(**node);
  }
  close(fd);
  fd = make_memfd(data, size);
  if (fd < 0)
    return 0;
  {
    BlockGraph graph;
    auto node = graph.blockdev_open(options(fd, true));
    if (node.ok())
      write_through(**node);
  }
  close(fd);
  return 0;
}
