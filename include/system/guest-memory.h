// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: system/guest-memory.h
//
// Guest RAM: blocks of memfd-backed host memory mapped at guest-physical addresses. The x86
// machine has one block split into two regions around the 32-bit PCI hole:
//
//   gpa 0 .............. below_4g          region 0 = block offset 0
//   gpa 4 GiB .......... 4 GiB + above_4g  region 1 = block offset below_4g
//
// Every write colovm itself makes into guest memory (loaders, virtio rings, received frames,
// block reads) goes through write() or is followed by mark_dirty(), so migration and COLO see it
// even though KVM's dirty log only records writes made by the guest's vCPUs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "util/bitmap.h"
#include "util/error.h"

namespace colo {

constexpr uint64_t kPageSize = 4096;

// One memfd + mapping.
class RamBlock {
 public:
  static Result<std::unique_ptr<RamBlock>> create(const std::string& name, uint64_t size);
  ~RamBlock();
  RamBlock(const RamBlock&) = delete;
  RamBlock& operator=(const RamBlock&) = delete;

  const std::string& name() const { return name_; }
  uint64_t size() const { return size_; }
  uint8_t* host() const { return host_; }
  int fd() const { return fd_; }
  // Pages written by colovm (not by vCPUs) since the last take_host_dirty().
  AtomicBitmap& host_dirty() { return host_dirty_; }

 private:
  RamBlock(std::string name, int fd, uint8_t* host, uint64_t size)
      : name_(std::move(name)), fd_(fd), host_(host), size_(size), host_dirty_(size / kPageSize) {}
  std::string name_;
  int fd_;
  uint8_t* host_;
  uint64_t size_;
  AtomicBitmap host_dirty_;
};

struct GuestMemoryRegion {
  uint64_t gpa;
  uint64_t size;
  RamBlock* block;
  uint64_t block_offset;
};

class GuestMemory {
 public:
  GuestMemory() = default;

  void add_block(std::unique_ptr<RamBlock> block) { blocks_.push_back(std::move(block)); }
  void add_region(const GuestMemoryRegion& region) { regions_.push_back(region); }
  const std::vector<GuestMemoryRegion>& regions() const { return regions_; }
  const std::vector<std::unique_ptr<RamBlock>>& blocks() const { return blocks_; }
  uint64_t ram_size() const;

  // The host address of [gpa, gpa + len) if it lies within one region, else nullptr.
  uint8_t* host_ptr(uint64_t gpa, uint64_t len) const;
  // Checked copies; write() marks the pages dirty.
  Status read(uint64_t gpa, std::span<uint8_t> out) const;
  Status write(uint64_t gpa, std::span<const uint8_t> data);
  Status fill(uint64_t gpa, uint8_t value, uint64_t len);
  // Marks [gpa, gpa + len) dirty after writing through a host_ptr().
  void mark_dirty(uint64_t gpa, uint64_t len);

 private:
  const GuestMemoryRegion* find(uint64_t gpa, uint64_t len) const;
  std::vector<std::unique_ptr<RamBlock>> blocks_;
  std::vector<GuestMemoryRegion> regions_;
};

}  // namespace colo
