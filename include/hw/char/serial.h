// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/char/serial.h
//
// A 16550A UART (8 registers at an I/O base, one IRQ line) connected to a chardev. Transmission
// is instantaneous: a byte written to THR goes to the chardev at once and THR/TSR are empty again.
// Reception is paced by the 16-byte RX FIFO: the chardev delivers no more than it holds.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "chardev/char.h"
#include "hw/bus.h"
#include "hw/irq.h"
#include "migration/vmstate.h"

namespace colo {

// The modelled registers (what migrates).
struct SerialState {
  uint16_t divider = 12;  // 9600 baud
  uint8_t ier = 0;
  uint8_t lcr = 0;
  uint8_t mcr = 0;
  uint8_t lsr = 0x60;  // THRE | TEMT
  uint8_t msr = 0xb0;  // DCD | DSR | CTS
  uint8_t scr = 0;
  uint8_t fcr = 0;
  bool thr_ipending = false;
  std::array<uint8_t, 16> rx_fifo{};
  uint8_t rx_head = 0;
  uint8_t rx_count = 0;
};

extern const VmStateDescription kSerialVmState;

class Serial : public BusDevice, public ChardevFrontend {
 public:
  // `chr` may be null (output discarded, no input).
  Serial(IrqLine* irq, Chardev* chr);
  ~Serial() override;

  // BusDevice (8 registers).
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // ChardevFrontend (main thread).
  size_t can_receive() override;
  void receive(std::span<const uint8_t> data) override;

  void reset();
  void save(ByteWriter& out) const;
  Status load(std::span<const uint8_t> data, int version_id);
  SerialState state() const;

 private:
  uint8_t read_reg_locked(uint32_t reg);
  void write_reg_locked(uint32_t reg, uint8_t value);
  uint8_t compute_iir_locked() const;
  void update_irq_locked();
  void push_rx_locked(uint8_t byte);
  size_t fifo_capacity_locked() const;

  IrqLine* irq_;
  Chardev* chr_;
  mutable std::mutex mutex_;
  SerialState s_;
  bool irq_level_ = false;
};

}  // namespace colo
