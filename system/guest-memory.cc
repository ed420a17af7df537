// SPDX-License-Identifier: GPL-2.0-or-later
#include "system/guest-memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/keyval.h"

namespace colo {

Result<std::unique_ptr<RamBlock>> RamBlock::create(const std::string& name, uint64_t size) {
  if (size == 0 || size % kPageSize != 0) {
    return make_error("RAM block '%s': size %llu is not a multiple of 4 KiB", name.c_str(),
                      static_cast<unsigned long long>(size));
  }
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0)
    return errno_error(errno, "memfd_create for RAM block '%s'", name.c_str());
  if (ftruncate(fd, static_cast<off_t>(size)) < 0) {
    int err = errno;
    close(fd);
    return errno_error(err, "cannot allocate %s of guest RAM", format_size(size).c_str());
  }
  void* host = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (host == MAP_FAILED) {
    int err = errno;
    close(fd);
    return errno_error(err, "cannot map %s of guest RAM", format_size(size).c_str());
  }
  madvise(host, size, MADV_DONTDUMP);
  return std::unique_ptr<RamBlock>(new RamBlock(name, fd, static_cast<uint8_t*>(host), size));
}

RamBlock::~RamBlock() {
  munmap(host_, size_);
  close(fd_);
}

uint64_t GuestMemory::ram_size() const {
  uint64_t total = 0;
  for (const auto& r : regions_)
    total += r.size;
  return total;
}

const GuestMemoryRegion* GuestMemory::find(uint64_t gpa, uint64_t len) const {
  for (const auto& r : regions_) {
    if (gpa >= r.gpa && gpa - r.gpa < r.size && len <= r.size - (gpa - r.gpa))
      return &r;
  }
  return nullptr;
}

uint8_t* GuestMemory::host_ptr(uint64_t gpa, uint64_t len) const {
  const GuestMemoryRegion* r = find(gpa, len);
  if (r == nullptr)
    return nullptr;
  return r->block->host() + r->block_offset + (gpa - r->gpa);
}

Status GuestMemory::read(uint64_t gpa, std::span<uint8_t> out) const {
  const uint8_t* p = host_ptr(gpa, out.size());
  if (p == nullptr) {
    return make_error("guest memory read outside RAM: 0x%llx+0x%zx",
                      static_cast<unsigned long long>(gpa), out.size());
  }
  if (!out.empty())
    memcpy(out.data(), p, out.size());  // an empty span may have no data()
  return ok_status();
}

Status GuestMemory::write(uint64_t gpa, std::span<const uint8_t> data) {
  uint8_t* p = host_ptr(gpa, data.size());
  if (p == nullptr) {
    return make_error("guest memory write outside RAM: 0x%llx+0x%zx",
                      static_cast<unsigned long long>(gpa), data.size());
  }
  if (!data.empty())
    memcpy(p, data.data(), data.size());
  mark_dirty(gpa, data.size());
  return ok_status();
}

Status GuestMemory::fill(uint64_t gpa, uint8_t value, uint64_t len) {
  uint8_t* p = host_ptr(gpa, len);
  if (p == nullptr) {
    return make_error("guest memory fill outside RAM: 0x%llx+0x%llx",
                      static_cast<unsigned long long>(gpa), static_cast<unsigned long long>(len));
  }
  memset(p, value, len);
  mark_dirty(gpa, len);
  return ok_status();
}

void GuestMemory::mark_dirty(uint64_t gpa, uint64_t len) {
  if (len == 0)
    return;
  const GuestMemoryRegion* r = find(gpa, len);
  if (r == nullptr)
    return;
  uint64_t offset = r->block_offset + (gpa - r->gpa);
  uint64_t first = offset / kPageSize;
  uint64_t last = (offset + len - 1) / kPageSize;
  r->block->host_dirty().set_range(first, last - first + 1);
}

}  // namespace colo
