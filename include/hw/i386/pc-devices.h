// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/i386/pc-devices.h
//
// The small port-I/O devices of the PC platform:
//   DebugExit      port 0xf4 (QEMU's isa-debug-exit default): a write of N ends colovm with
//                  exit status N (QEMU exits with (N << 1) | 1)
//   ResetControl   port 0xcf9 (bit 2 resets) and port 0x92 (System Control Port A: bit 0 resets,
//                  bit 1 is A20)
//   I8042          ports 0x60/0x64: no keyboard or mouse, but the controller's reset pulse
//                  (command 0xfe) resets the machine, which is how Linux reboots without ACPI
//   Rtc            ports 0x70/0x71: an MC146818 real-time clock and CMOS memory (BCD, 24 h),
//                  following the host clock plus whatever offset the guest set
//   IgnoredPort    ports whose writes mean nothing here (0x80 POST codes, 0xed delay)
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <mutex>

#include "hw/bus.h"
#include "hw/machine-events.h"
#include "migration/vmstate.h"

namespace colo {

class DebugExit : public BusDevice {
 public:
  explicit DebugExit(MachineEvents* events) : events_(events) {}
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  MachineEvents* events_;
};

class ResetControl : public BusDevice {
 public:
  enum class Port { kCf9, kPortA };
  ResetControl(MachineEvents* events, Port port) : events_(events), port_(port) {}
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  void reset();

 private:
  MachineEvents* events_;
  Port port_;
  std::mutex mutex_;
  uint8_t value_ = 0;
};

class I8042 : public BusDevice {
 public:
  explicit I8042(MachineEvents* events) : events_(events) {}
  // Mapped at 0x60 with size 5: offset 0 is data, offset 4 is status/command.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  MachineEvents* events_;
};

struct RtcState {
  std::array<uint8_t, 128> cmos{};
  uint8_t index = 0;
  int64_t offset_sec = 0;  // guest time - host time
};

extern const VmStateDescription kRtcVmState;

class Rtc : public BusDevice {
 public:
  Rtc();
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  void reset();
  // CMOS bytes firmware would set (memory size etc.).
  void set_cmos(uint8_t index, uint8_t value);
  void save(ByteWriter& out) const;
  Status load(std::span<const uint8_t> data, int version_id);

 private:
  uint8_t read_reg_locked(uint8_t reg);
  void write_reg_locked(uint8_t reg, uint8_t value);
  struct tm guest_time_locked() const;
  uint8_t to_rtc(int v) const;
  int from_rtc(uint8_t v) const;

  mutable std::mutex mutex_;
  RtcState s_;
};

class IgnoredPort : public BusDevice {
 public:
  void read(uint64_t, std::span<uint8_t> data) override {
    for (auto& b : data)
      b = 0xff;
  }
  void write(uint64_t, std::span<const uint8_t>) override {}
};

}  // namespace colo
