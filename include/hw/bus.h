// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/bus.h
//
// Devices sit on buses and never see KVM. A BusDevice answers reads and writes at offsets
// within the ranges it is mapped at; the machine routes vCPU port-I/O and MMIO exits to the
// PIO and MMIO buses. A device guards its own state (its accessors may run on several vCPU
// threads and on the main loop).
//
// Dispatch is lock-free: the range table is immutable and replaced as a whole when a mapping
// changes (a guest moving a PCI BAR from inside a config write must not deadlock against
// itself), so readers take a reference to the current table and search it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "util/error.h"

namespace colo {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  // `offset` is relative to the base of the mapping; data.size() is 1, 2, 4 or 8.
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class IoBus {
 public:
  struct Mapping {
    uint64_t base;
    uint64_t size;
    BusDevice* device;
    std::string label;
  };

  explicit IoBus(std::string name);

  // Maps `device` at [base, base + size). Overlapping an existing mapping is an error.
  Status map(uint64_t base, uint64_t size, BusDevice* device, std::string label);
  // Removes the mapping of `device` at `base` (no-op if absent).
  void unmap(uint64_t base, BusDevice* device);
  // Removes every mapping of `device`.
  void unmap_all(BusDevice* device);

  // Dispatches an access; false when nothing is mapped there (reads then return all ones).
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

  std::vector<Mapping> mappings() const;
  const std::string& name() const { return name_; }

 private:
  using Table = std::vector<Mapping>;
  const Mapping* lookup(const Table& t, uint64_t addr, size_t len) const;

  std::string name_;
  std::mutex update_mutex_;  // serialises writers
  std::atomic<std::shared_ptr<const Table>> table_;
};

}  // namespace colo
