// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/irq.h
//
// How devices signal interrupts without knowing who delivers them. The machine hands each device
// the lines it is wired to; the implementation (the in-kernel irqchip through accel/kvm, or a
// recorder in unit tests) is the machine's business.
#pragma once

#include <cstdint>

namespace colo {

// A level-triggered interrupt line (an ISA IRQ, a PCI INTx pin).
class IrqLine {
 public:
  virtual ~IrqLine() = default;
  virtual void set_level(bool level) = 0;
  void raise() { set_level(true); }
  void lower() { set_level(false); }
  void pulse() {
    set_level(true);
    set_level(false);
  }
};

// Message-signalled interrupts (PCI MSI/MSI-X).
class MsiSink {
 public:
  virtual ~MsiSink() = default;
  virtual void send_msi(uint64_t address, uint32_t data) = 0;
};

}  // namespace colo
