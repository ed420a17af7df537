// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/acpi/pm.h
//
// ACPI fixed hardware, PIIX4-style, as QEMU's i440fx has it at I/O 0x600 (the FADT in
// hw/acpi/tables.h describes exactly this):
//
//   base+0  PM1_STS  16 bit  write 1 to clear: TMR_STS (never set here), PWRBTN_STS, WAK_STS...
//   base+2  PM1_EN   16 bit  TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN
//   base+4  PM1_CNT  16 bit  SCI_EN (always 1: no SMI_CMD, ACPI mode is always on), SLP_TYP,
//                            SLP_EN (write-only: a write with SLP_TYP 0 = soft-off powers off)
//   base+8  PM_TMR   32 bit  read-only, 24-bit counter at 3.579545 MHz from the host's
//                            monotonic clock
//
// The SCI (an IrqLine, IRQ 9, level) is asserted while any PM1_STS bit is set together with its
// PM1_EN bit. The fixed power button is press_power_button() (QMP system_powerdown).
// Sleep states other than S5 are not modelled: such a request is logged once and ignored.
//
// Threads: register accesses on vCPU threads, press_power_button() on the main thread; the
// device's mutex guards the state. MachineEvents are called without the mutex held.
#pragma once

#include <cstdint>
#include <mutex>

#include "hw/bus.h"
#include "hw/irq.h"
#include "hw/machine-events.h"
#include "migration/vmstate.h"

namespace colo {

// What migrates. The timer is carried as its visible 24-bit value at the time of saving; a load
// continues counting from there.
struct AcpiPmState {
  uint16_t pm1_sts = 0;
  uint16_t pm1_en = 0;
  uint16_t pm1_cnt = 1;  // SCI_EN
  uint32_t tmr_value = 0;
};

extern const VmStateDescription kAcpiPmVmState;

class AcpiPm : public BusDevice {
 public:
  // Layout of the I/O block (offsets from the base) and the FADT lengths.
  static constexpr uint16_t kPm1EvtOffset = 0, kPm1CntOffset = 4, kPmTmrOffset = 8;
  static constexpr uint8_t kPm1EvtLen = 4, kPm1CntLen = 2, kPmTmrLen = 4;
  static constexpr uint64_t kIoSize = 12;

  static constexpr uint64_t kTimerHz = 3579545;
  static constexpr uint32_t kTimerMask = 0xffffff;

  // PM1_STS / PM1_EN bits.
  static constexpr uint16_t kTmrSts = 1u << 0, kBmSts = 1u << 4, kGblSts = 1u << 5,
                            kPwrBtnSts = 1u << 8, kSlpBtnSts = 1u << 9, kRtcSts = 1u << 10,
                            kPciExpWakeSts = 1u << 14, kWakSts = 1u << 15;
  static constexpr uint16_t kTmrEn = 1u << 0, kGblEn = 1u << 5, kPwrBtnEn = 1u << 8,
                            kSlpBtnEn = 1u << 9, kRtcEn = 1u << 10, kPciExpWakeDis = 1u << 14;
  static constexpr uint16_t kPm1EnMask =
      kTmrEn | kGblEn | kPwrBtnEn | kSlpBtnEn | kRtcEn | kPciExpWakeDis;
  // PM1_CNT bits.
  static constexpr uint16_t kSciEn = 1u << 0, kBmRld = 1u << 1, kGblRls = 1u << 2,
                            kSlpTypShift = 10, kSlpTypMask = 7u << 10, kSlpEn = 1u << 13;
  static constexpr uint16_t kPm1CntStored = kSciEn | kBmRld | kSlpTypMask;

  // `sci` and `events` must outlive the device.
  AcpiPm(IrqLine* sci, MachineEvents* events);

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Power-on state; the SCI is lowered. The timer keeps running.
  void reset();
  // The fixed power button: sets PWRBTN_STS; the SCI follows if PWRBTN_EN is set.
  void press_power_button();

  // The PM timer's current 24-bit value.
  uint32_t timer() const;
  AcpiPmState state() const;
  void save(ByteWriter& out) const;
  Status load(std::span<const uint8_t> data, int version_id);

 private:
  int64_t now_ns() const;
  uint32_t timer_locked() const;
  void update_sci_locked();

  IrqLine* sci_;
  MachineEvents* events_;
  mutable std::mutex mutex_;
  AcpiPmState s_;
  int64_t timer_base_ns_ = 0;  // host monotonic time at which the timer was 0
  bool sci_level_ = false;
  bool sleep_warned_ = false;
};

}  // namespace colo
