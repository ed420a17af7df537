// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/pci/msix.h
//
// The MSI-X capability of a PCI function (PCI Local Bus 3.0, 6.8.2). The device owns an Msix
// object, maps it as (part of) a memory BAR, and calls notify(vector) to interrupt the driver:
//
//   msix_ = std::make_unique<Msix>(this, ctx.msi, /*vectors=*/3, /*bar=*/1, 0x000, 0x800);
//   register_bar(1, 0x1000, PciBarType::kMem32, false, msix_.get());   // table + PBA
//   ...
//   void MyDev::config_write(uint32_t off, uint32_t v, int size) override {
//     PciDevice::config_write(off, v, size);
//     msix_->config_written(off, size);                // enable / function mask changed
//   }
//   if (!msix_->notify(vector)) set_irq(true);         // MSI-X disabled: INTx instead
//
// Semantics: a vector is delivered through the MsiSink when MSI-X is enabled and neither the
// function nor the vector is masked; otherwise its Pending Bit is set, and the message is sent
// when the vector (and the function) becomes unmasked. Vectors come out of reset masked, with
// address and data zero. The table may be accessed with any size; the PBA is read-only.
//
// Threads: notify() may be called from any thread (device workers); table accesses come from
// vCPU threads. One mutex guards the table and PBA; messages are sent without it held.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "hw/bus.h"
#include "hw/irq.h"
#include "util/error.h"

namespace colo {

class PciDevice;

constexpr uint8_t kPciCapIdMsix = 0x11;
constexpr uint16_t kMsixControlTableSizeMask = 0x07ff;
constexpr uint16_t kMsixControlFunctionMask = 0x4000;
constexpr uint16_t kMsixControlEnable = 0x8000;
constexpr uint32_t kMsixEntrySize = 16;
constexpr uint32_t kMsixEntryVectorCtrlMask = 0x1;
// The most vectors an Msix supports here (the state declaration has room for this many).
constexpr uint16_t kMsixMaxVectors = 64;

// The migratable part that is not in config space: the table and the pending bits.
struct MsixState {
  std::array<uint32_t, kMsixMaxVectors * 4> table{};  // per entry: addr lo, addr hi, data, ctrl
  std::array<uint64_t, kMsixMaxVectors / 64> pba{};
};

class Msix : public BusDevice {
 public:
  // Adds the capability to `dev` (its offset is cap_offset()). The table lives at
  // `table_offset` and the PBA at `pba_offset` of BAR `bar`, which the caller registers with
  // this object (or forwards the ranges to read()/write() with BAR-relative offsets).
  Msix(PciDevice* dev, MsiSink* sink, uint16_t vectors, uint8_t bar, uint32_t table_offset,
       uint32_t pba_offset);

  uint16_t vectors() const { return vectors_; }
  uint8_t cap_offset() const { return cap_; }
  uint8_t bar() const { return bar_; }
  uint32_t table_offset() const { return table_offset_; }
  uint32_t pba_offset() const { return pba_offset_; }

  // From the Message Control word in config space.
  bool enabled() const;
  bool function_masked() const;
  bool vector_masked(uint16_t vector) const;
  bool pending(uint16_t vector) const;

  // Interrupts through `vector`: sent now, or made pending while masked. False when MSI-X is
  // disabled (the device uses INTx) or the vector does not exist.
  bool notify(uint16_t vector);

  // The device calls this after every config-space write: enabling MSI-X or clearing the
  // function mask sends the pending, unmasked vectors.
  void config_written(uint32_t offset, int size);

  // BusDevice: BAR-relative accesses; the table and PBA ranges answer, the rest reads zero.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Device reset: every vector masked, addresses and data zero, nothing pending. (The enable
  // and mask bits are in config space, which PciDevice::reset() restores.)
  void reset();

  MsixState save() const;
  // Whether load() would accept `state`.
  Status check(const MsixState& state) const;
  // The state must come from a function with the same number of vectors (unused entries
  // zero). Does not send anything: pending bits stay pending.
  Status load(const MsixState& state);

 private:
  void deliver_pending();  // sends every pending vector that is unmasked now
  uint16_t control() const;
  bool masked_locked(uint16_t vector, uint16_t control) const;

  PciDevice* dev_;
  MsiSink* sink_;
  uint16_t vectors_;
  uint8_t bar_;
  uint32_t table_offset_;
  uint32_t pba_offset_;
  uint8_t cap_ = 0;

  mutable std::mutex mutex_;
  MsixState s_;
};

}  // namespace colo
