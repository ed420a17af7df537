// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/acpi/pm.h"

#include <chrono>
#include <cstring>

#include "util/log.h"

namespace colo {

namespace {

constexpr int64_t kNsPerSec = 1000000000;

constexpr VmStateField kAcpiPmFields[] = {
    VMSTATE_FIELD(AcpiPmState, pm1_sts),
    VMSTATE_FIELD(AcpiPmState, pm1_en),
    VMSTATE_FIELD(AcpiPmState, pm1_cnt),
    VMSTATE_FIELD(AcpiPmState, tmr_value),
};

Status acpi_pm_post_load(const void* opaque) {
  const auto* s = static_cast<const AcpiPmState*>(opaque);
  if (s->pm1_en & ~AcpiPm::kPm1EnMask)
    return make_error("PM1_EN 0x%x has reserved bits", s->pm1_en);
  if ((s->pm1_cnt & ~AcpiPm::kPm1CntStored) || !(s->pm1_cnt & AcpiPm::kSciEn)) {
    return make_error("PM1_CNT 0x%x is not a valid register value", s->pm1_cnt);
  }
  if (s->tmr_value > AcpiPm::kTimerMask) {
    return make_error("PM timer value 0x%x does not fit in 24 bits", s->tmr_value);
  }
  return ok_status();
}

uint64_t ns_to_ticks(uint64_t ns) {
  return ns / kNsPerSec * AcpiPm::kTimerHz + ns % kNsPerSec * AcpiPm::kTimerHz / kNsPerSec;
}

// The first time at which the timer shows `ticks` (ticks < 2^32).
uint64_t ticks_to_ns(uint64_t ticks) {
  return (ticks * kNsPerSec + AcpiPm::kTimerHz - 1) / AcpiPm::kTimerHz;
}

}  // namespace

const VmStateDescription kAcpiPmVmState = {
    .name = "acpi-pm",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = kAcpiPmFields,
    .post_load = acpi_pm_post_load,
};

AcpiPm::AcpiPm(IrqLine* sci, MachineEvents* events) : sci_(sci), events_(events) {
  timer_base_ns_ = now_ns();
}

int64_t AcpiPm::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint32_t AcpiPm::timer_locked() const {
  int64_t elapsed = now_ns() - timer_base_ns_;
  if (elapsed < 0)
    elapsed = 0;
  return static_cast<uint32_t>(ns_to_ticks(static_cast<uint64_t>(elapsed)) & kTimerMask);
}

uint32_t AcpiPm::timer() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return timer_locked();
}

void AcpiPm::update_sci_locked() {
  bool level = (s_.pm1_sts & s_.pm1_en) != 0;
  if (level != sci_level_ && sci_ != nullptr)
    sci_->set_level(level);
  sci_level_ = level;
}

void AcpiPm::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  s_.pm1_sts = 0;
  s_.pm1_en = 0;
  s_.pm1_cnt = kSciEn;
  // The irqchip was reset with the machine; make sure the line is low whatever we thought.
  if (sci_ != nullptr)
    sci_->set_level(false);
  sci_level_ = false;
}

void AcpiPm::press_power_button() {
  std::lock_guard<std::mutex> lock(mutex_);
  s_.pm1_sts |= kPwrBtnSts;
  update_sci_locked();
}

void AcpiPm::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint8_t regs[kIoSize] = {};
  store_le16(regs + kPm1EvtOffset, s_.pm1_sts);
  store_le16(regs + kPm1EvtOffset + 2, s_.pm1_en);
  store_le16(regs + kPm1CntOffset, s_.pm1_cnt);  // SLP_EN reads as 0
  if (offset + data.size() > kPmTmrOffset)
    store_le32(regs + kPmTmrOffset, timer_locked());
  for (size_t i = 0; i < data.size(); i++) {
    data[i] = offset + i < kIoSize ? regs[offset + i] : 0;
  }
}

void AcpiPm::write(uint64_t offset, std::span<const uint8_t> data) {
  // Split the access into the 16-bit registers it touches: value and byte mask for each.
  uint16_t value[3] = {}, mask[3] = {};
  for (size_t i = 0; i < data.size(); i++) {
    uint64_t pos = offset + i;
    if (pos >= kPmTmrOffset - 2)
      continue;  // the gap at +6 and the read-only timer
    int shift = static_cast<int>(pos % 2) * 8;
    value[pos / 2] = static_cast<uint16_t>(value[pos / 2] | (data[i] << shift));
    mask[pos / 2] = static_cast<uint16_t>(mask[pos / 2] | (0xff << shift));
  }
  bool power_off = false;
  int sleep_type = -1;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // PM1_STS: write 1 to clear.
    s_.pm1_sts = static_cast<uint16_t>(s_.pm1_sts & ~(value[0] & mask[0]));
    // PM1_EN.
    s_.pm1_en = static_cast<uint16_t>(((s_.pm1_en & ~mask[1]) | (value[1] & mask[1])) & kPm1EnMask);
    // PM1_CNT.
    if (mask[2] != 0) {
      uint16_t cnt = static_cast<uint16_t>((s_.pm1_cnt & ~mask[2]) | (value[2] & mask[2]));
      s_.pm1_cnt = static_cast<uint16_t>((cnt & kPm1CntStored) | kSciEn);
      if (value[2] & mask[2] & kSlpEn) {
        int type = (cnt & kSlpTypMask) >> kSlpTypShift;
        if (type == 0) {
          power_off = true;
        } else if (!sleep_warned_) {
          sleep_warned_ = true;
          sleep_type = type;
        }
      }
    }
    update_sci_locked();
  }
  if (sleep_type >= 0) {
    warn_report(
        "guest requested ACPI sleep type %d, which this machine does not have "
        "(only soft-off, SLP_TYP 0); ignored",
        sleep_type);
  }
  if (power_off)
    events_->request_shutdown(ShutdownCause::kGuestShutdown);
}

AcpiPmState AcpiPm::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  AcpiPmState s = s_;
  s.tmr_value = timer_locked();
  return s;
}

void AcpiPm::save(ByteWriter& out) const {
  AcpiPmState s = state();
  vmstate_save(kAcpiPmVmState, &s, out);
}

Status AcpiPm::load(std::span<const uint8_t> data, int version_id) {
  COLO_ASSIGN_OR_RETURN(AcpiPmState loaded,
                        vmstate_load_into(kAcpiPmVmState, AcpiPmState{}, data, version_id));
  std::lock_guard<std::mutex> lock(mutex_);
  s_ = loaded;
  timer_base_ns_ = now_ns() - static_cast<int64_t>(ticks_to_ns(loaded.tmr_value));
  // The line's level in the (restored) irqchip is not known here: set it either way.
  sci_level_ = (s_.pm1_sts & s_.pm1_en) != 0;
  if (sci_ != nullptr)
    sci_->set_level(sci_level_);
  return ok_status();
}

}  // namespace colo
