// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/i386/pc-devices.h"

#include <cstring>

#include "util/bytes.h"
#include "util/log.h"

namespace colo {

void DebugExit::read(uint64_t, std::span<uint8_t> data) {
  memset(data.data(), 0, data.size());
}

void DebugExit::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0)
    return;
  uint64_t v = load_le_n(data);
  events_->request_exit(static_cast<int>(v & 0xff));
}

void ResetControl::read(uint64_t, std::span<uint8_t> data) {
  std::lock_guard<std::mutex> lock(mutex_);
  memset(data.data(), 0, data.size());
  data[0] = port_ == Port::kPortA ? static_cast<uint8_t>(value_ | 0x02) : value_;
}

void ResetControl::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0)
    return;
  uint8_t v = data[0];
  bool reset;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (port_ == Port::kCf9) {
      reset = v & 0x04;
      value_ = v & 0x02;
    } else {
      reset = (v & 0x01) && !(value_ & 0x01);
      value_ = v & 0xfe;
    }
  }
  if (reset)
    events_->request_reset(ShutdownCause::kGuestReset);
}

void ResetControl::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  value_ = 0;
}

void I8042::read(uint64_t, std::span<uint8_t> data) {
  // No controller present as far as probing goes (Linux's i8042 driver then backs off).
  memset(data.data(), 0xff, data.size());
}

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset == 4 && data[0] == 0xfe)
    events_->request_reset(ShutdownCause::kGuestReset);
}

namespace {

constexpr uint8_t kRegSeconds = 0, kRegMinutes = 2, kRegHours = 4, kRegWeekday = 6, kRegDay = 7,
                  kRegMonth = 8, kRegYear = 9, kRegA = 10, kRegB = 11, kRegC = 12, kRegD = 13,
                  kRegCentury = 0x32;
constexpr uint8_t kRegBBinary = 0x04, kRegB24h = 0x02;

constexpr VmStateField kRtcFields[] = {
    VMSTATE_FIELD(RtcState, cmos),
    VMSTATE_FIELD(RtcState, index),
    VMSTATE_FIELD(RtcState, offset_sec),
};

Status rtc_post_load(const void* opaque) {
  const auto* s = static_cast<const RtcState*>(opaque);
  if (s->index >= s->cmos.size())
    return make_error("CMOS index %u out of range", s->index);
  return ok_status();
}

}  // namespace

const VmStateDescription kRtcVmState = {
    .name = "mc146818rtc",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = kRtcFields,
    .post_load = rtc_post_load,
};

Rtc::Rtc() {
  reset();
}

void Rtc::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::array<uint8_t, 128> keep = s_.cmos;
  int64_t offset = s_.offset_sec;
  s_ = RtcState{};
  s_.cmos = keep;
  s_.offset_sec = offset;
  s_.cmos[kRegA] = 0x26;  // 32.768 kHz time base, 1024 Hz rate
  s_.cmos[kRegB] = kRegB24h;
  s_.cmos[kRegC] = 0;
  s_.cmos[kRegD] = 0x80;  // valid RAM and time
}

void Rtc::set_cmos(uint8_t index, uint8_t value) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (index < s_.cmos.size())
    s_.cmos[index] = value;
}

void Rtc::save(ByteWriter& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  vmstate_save(kRtcVmState, &s_, out);
}

Status Rtc::load(std::span<const uint8_t> data, int version_id) {
  COLO_ASSIGN_OR_RETURN(RtcState loaded,
                        vmstate_load_into(kRtcVmState, RtcState{}, data, version_id));
  std::lock_guard<std::mutex> lock(mutex_);
  s_ = loaded;
  return ok_status();
}

struct tm Rtc::guest_time_locked() const {
  time_t now = time(nullptr) + s_.offset_sec;
  struct tm tm;
  gmtime_r(&now, &tm);
  return tm;
}

uint8_t Rtc::to_rtc(int v) const {
  if (s_.cmos[kRegB] & kRegBBinary)
    return static_cast<uint8_t>(v);
  return static_cast<uint8_t>(((v / 10) << 4) | (v % 10));
}

int Rtc::from_rtc(uint8_t v) const {
  if (s_.cmos[kRegB] & kRegBBinary)
    return v;
  return (v >> 4) * 10 + (v & 0xf);
}

uint8_t Rtc::read_reg_locked(uint8_t reg) {
  struct tm tm = guest_time_locked();
  switch (reg) {
    case kRegSeconds:
      return to_rtc(tm.tm_sec);
    case kRegMinutes:
      return to_rtc(tm.tm_min);
    case kRegHours:
      if (s_.cmos[kRegB] & kRegB24h)
        return to_rtc(tm.tm_hour);
      return static_cast<uint8_t>(to_rtc(tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12) |
                                  (tm.tm_hour >= 12 ? 0x80 : 0));
    case kRegWeekday:
      return to_rtc(tm.tm_wday + 1);
    case kRegDay:
      return to_rtc(tm.tm_mday);
    case kRegMonth:
      return to_rtc(tm.tm_mon + 1);
    case kRegYear:
      return to_rtc(tm.tm_year % 100);
    case kRegCentury:
      return to_rtc((tm.tm_year + 1900) / 100);
    case kRegA:
      return s_.cmos[kRegA] & 0x7f;  // update-in-progress never set
    case kRegC: {
      uint8_t v = s_.cmos[kRegC];
      s_.cmos[kRegC] = 0;
      return v;
    }
    default:
      return s_.cmos[reg];
  }
}

void Rtc::write_reg_locked(uint8_t reg, uint8_t value) {
  switch (reg) {
    case kRegSeconds:
    case kRegMinutes:
    case kRegHours:
    case kRegDay:
    case kRegMonth:
    case kRegYear:
    case kRegCentury: {
      // Setting the clock: keep the difference to the host clock.
      struct tm tm = guest_time_locked();
      int v = from_rtc(static_cast<uint8_t>(reg == kRegHours ? (value & 0x7f) : value));
      if (reg == kRegSeconds)
        tm.tm_sec = v;
      if (reg == kRegMinutes)
        tm.tm_min = v;
      if (reg == kRegHours)
        tm.tm_hour = v;
      if (reg == kRegDay)
        tm.tm_mday = v;
      if (reg == kRegMonth)
        tm.tm_mon = v - 1;
      if (reg == kRegYear)
        tm.tm_year = (tm.tm_year / 100) * 100 + v;
      if (reg == kRegCentury)
        tm.tm_year = v * 100 + tm.tm_year % 100 - 1900;
      s_.offset_sec = static_cast<int64_t>(timegm(&tm)) - static_cast<int64_t>(time(nullptr));
      return;
    }
    case kRegC:
    case kRegD:
      return;  // read-only
    case kRegB:
      s_.cmos[kRegB] = value;
      return;
    default:
      s_.cmos[reg] = value;
      return;
  }
}

void Rtc::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < data.size(); i++) {
    data[i] = (offset + i) % 2 == 0 ? 0xff : read_reg_locked(s_.index);
  }
}

void Rtc::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < data.size(); i++) {
    if ((offset + i) % 2 == 0) {
      s_.index = data[i] & 0x7f;  // bit 7 is the NMI mask
    } else {
      write_reg_locked(s_.index, data[i]);
    }
  }
}

}  // namespace colo
