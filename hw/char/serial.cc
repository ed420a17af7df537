// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/char/serial.h"

#include "util/log.h"

namespace colo {

namespace {

enum Reg : uint32_t {
  kRbrThr = 0,
  kIer = 1,
  kIirFcr = 2,
  kLcr = 3,
  kMcr = 4,
  kLsr = 5,
  kMsr = 6,
  kScr = 7
};

constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kIerRdi = 0x01, kIerThri = 0x02, kIerRlsi = 0x04, kIerMsi = 0x08;
constexpr uint8_t kIirNoInt = 0x01, kIirMsi = 0x00, kIirThri = 0x02, kIirRdi = 0x04,
                  kIirRlsi = 0x06, kIirCti = 0x0c, kIirFifoEnabled = 0xc0;
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrBi = 0x10, kLsrThre = 0x20, kLsrTemt = 0x40,
                  kLsrErrors = 0x1e;
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr uint8_t kMsrDcts = 0x01, kMsrDdsr = 0x02, kMsrTeri = 0x04, kMsrDdcd = 0x08,
                  kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80, kMsrDeltas = 0x0f;
constexpr uint8_t kFcrEnable = 0x01, kFcrClearRx = 0x02;

constexpr VmStateField kSerialFields[] = {
    VMSTATE_FIELD(SerialState, divider),      VMSTATE_FIELD(SerialState, ier),
    VMSTATE_FIELD(SerialState, lcr),          VMSTATE_FIELD(SerialState, mcr),
    VMSTATE_FIELD(SerialState, lsr),          VMSTATE_FIELD(SerialState, msr),
    VMSTATE_FIELD(SerialState, scr),          VMSTATE_FIELD(SerialState, fcr),
    VMSTATE_FIELD(SerialState, thr_ipending), VMSTATE_FIELD(SerialState, rx_fifo),
    VMSTATE_FIELD(SerialState, rx_head),      VMSTATE_FIELD(SerialState, rx_count),
};

Status serial_post_load(const void* opaque) {
  const auto* s = static_cast<const SerialState*>(opaque);
  if (s->rx_head >= s->rx_fifo.size() || s->rx_count > s->rx_fifo.size()) {
    return make_error("RX FIFO position %u/%u out of range", s->rx_head, s->rx_count);
  }
  return ok_status();
}

}  // namespace

const VmStateDescription kSerialVmState = {
    .name = "serial",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = kSerialFields,
    .post_load = serial_post_load,
};

Serial::Serial(IrqLine* irq, Chardev* chr) : irq_(irq), chr_(chr) {
  if (chr_ != nullptr) {
    Status st = chr_->attach_frontend(this);
    if (!st.ok())
      warn_report("%s", st.error().message().c_str());
  }
}

Serial::~Serial() {
  if (chr_ != nullptr)
    chr_->detach_frontend(this);
}

void Serial::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  s_ = SerialState{};
  update_irq_locked();
}

SerialState Serial::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return s_;
}

void Serial::save(ByteWriter& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  vmstate_save(kSerialVmState, &s_, out);
}

Status Serial::load(std::span<const uint8_t> data, int version_id) {
  COLO_ASSIGN_OR_RETURN(SerialState loaded,
                        vmstate_load_into(kSerialVmState, SerialState{}, data, version_id));
  std::lock_guard<std::mutex> lock(mutex_);
  s_ = loaded;
  update_irq_locked();
  return ok_status();
}

size_t Serial::fifo_capacity_locked() const {
  return (s_.fcr & kFcrEnable) ? 16 : 1;
}

void Serial::push_rx_locked(uint8_t byte) {
  if (s_.rx_count >= fifo_capacity_locked()) {
    s_.lsr |= kLsrOe;
    return;
  }
  s_.rx_fifo[(s_.rx_head + s_.rx_count) % s_.rx_fifo.size()] = byte;
  s_.rx_count++;
  s_.lsr |= kLsrDr;
}

uint8_t Serial::compute_iir_locked() const {
  uint8_t fifo = (s_.fcr & kFcrEnable) ? kIirFifoEnabled : 0;
  if ((s_.ier & kIerRlsi) && (s_.lsr & (kLsrOe | kLsrBi)))
    return kIirRlsi | fifo;
  if ((s_.ier & kIerRdi) && s_.rx_count > 0) {
    static constexpr uint8_t kTrigger[4] = {1, 4, 8, 14};
    uint8_t trigger = (s_.fcr & kFcrEnable) ? kTrigger[s_.fcr >> 6] : 1;
    return (s_.rx_count >= trigger ? kIirRdi : kIirCti) | fifo;
  }
  if ((s_.ier & kIerThri) && s_.thr_ipending)
    return kIirThri | fifo;
  if ((s_.ier & kIerMsi) && (s_.msr & kMsrDeltas))
    return kIirMsi | fifo;
  return kIirNoInt | fifo;
}

void Serial::update_irq_locked() {
  bool level = (compute_iir_locked() & kIirNoInt) == 0;
  if (level != irq_level_ && irq_ != nullptr)
    irq_->set_level(level);
  irq_level_ = level;
}

uint8_t Serial::read_reg_locked(uint32_t reg) {
  switch (reg) {
    case kRbrThr: {
      if (s_.lcr & kLcrDlab)
        return static_cast<uint8_t>(s_.divider);
      uint8_t v = 0;
      if (s_.rx_count > 0) {
        bool was_full = s_.rx_count == fifo_capacity_locked();
        v = s_.rx_fifo[s_.rx_head];
        s_.rx_head = static_cast<uint8_t>((s_.rx_head + 1) % s_.rx_fifo.size());
        s_.rx_count--;
        if (s_.rx_count == 0)
          s_.lsr &= ~kLsrDr;
        if (was_full && chr_ != nullptr)
          chr_->frontend_ready();
      }
      update_irq_locked();
      return v;
    }
    case kIer:
      if (s_.lcr & kLcrDlab)
        return static_cast<uint8_t>(s_.divider >> 8);
      return s_.ier;
    case kIirFcr: {
      uint8_t iir = compute_iir_locked();
      // Reading IIR acknowledges a THR-empty interrupt.
      if ((iir & 0x0f) == kIirThri) {
        s_.thr_ipending = false;
        update_irq_locked();
      }
      return iir;
    }
    case kLcr:
      return s_.lcr;
    case kMcr:
      return s_.mcr;
    case kLsr: {
      uint8_t v = s_.lsr;
      s_.lsr &= ~kLsrErrors;
      update_irq_locked();
      return v;
    }
    case kMsr: {
      uint8_t v = s_.msr;
      s_.msr &= ~kMsrDeltas;
      update_irq_locked();
      return v;
    }
    default:
      return s_.scr;
  }
}

void Serial::write_reg_locked(uint32_t reg, uint8_t value) {
  switch (reg) {
    case kRbrThr:
      if (s_.lcr & kLcrDlab) {
        s_.divider = static_cast<uint16_t>((s_.divider & 0xff00) | value);
        return;
      }
      if (s_.mcr & kMcrLoop) {
        push_rx_locked(value);
      } else if (chr_ != nullptr) {
        (void)chr_->write_all({&value, 1});
      }
      s_.lsr |= kLsrThre | kLsrTemt;
      s_.thr_ipending = true;
      update_irq_locked();
      return;
    case kIer:
      if (s_.lcr & kLcrDlab) {
        s_.divider = static_cast<uint16_t>((s_.divider & 0x00ff) | (value << 8));
        return;
      } else {
        uint8_t old = s_.ier;
        s_.ier = value & 0x0f;
        // Enabling the THR-empty interrupt while THR is empty raises it (16550 behaviour).
        if (!(old & kIerThri) && (s_.ier & kIerThri) && (s_.lsr & kLsrThre)) {
          s_.thr_ipending = true;
        }
        update_irq_locked();
      }
      return;
    case kIirFcr: {
      bool was_enabled = s_.fcr & kFcrEnable;
      s_.fcr = value & 0xc9;
      if ((value & kFcrClearRx) || was_enabled != static_cast<bool>(value & kFcrEnable)) {
        s_.rx_count = 0;
        s_.rx_head = 0;
        s_.lsr &= ~kLsrDr;
        if (chr_ != nullptr)
          chr_->frontend_ready();
      }
      update_irq_locked();
      return;
    }
    case kLcr:
      s_.lcr = value;
      return;
    case kMcr: {
      s_.mcr = value & 0x1f;
      uint8_t old_msr = s_.msr;
      uint8_t lines;
      if (s_.mcr & kMcrLoop) {
        lines = static_cast<uint8_t>(
            ((s_.mcr & kMcrRts) ? kMsrCts : 0) | ((s_.mcr & kMcrDtr) ? kMsrDsr : 0) |
            ((s_.mcr & kMcrOut1) ? kMsrRi : 0) | ((s_.mcr & kMcrOut2) ? kMsrDcd : 0));
      } else {
        lines = kMsrDcd | kMsrDsr | kMsrCts;
      }
      uint8_t changed = static_cast<uint8_t>((old_msr ^ lines) & 0xf0);
      uint8_t deltas = static_cast<uint8_t>(
          ((changed & kMsrCts) ? kMsrDcts : 0) | ((changed & kMsrDsr) ? kMsrDdsr : 0) |
          ((changed & kMsrDcd) ? kMsrDdcd : 0) |
          (((old_msr & kMsrRi) && !(lines & kMsrRi)) ? kMsrTeri : 0));
      s_.msr = static_cast<uint8_t>(lines | (old_msr & kMsrDeltas) | deltas);
      update_irq_locked();
      return;
    }
    case kLsr:
    case kMsr:
      return;  // read-only
    default:
      s_.scr = value;
      return;
  }
}

void Serial::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < data.size(); i++) {
    data[i] = read_reg_locked(static_cast<uint32_t>((offset + i) & 7));
  }
}

void Serial::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < data.size(); i++) {
    write_reg_locked(static_cast<uint32_t>((offset + i) & 7), data[i]);
  }
}

size_t Serial::can_receive() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (s_.mcr & kMcrLoop)
    return 0;
  size_t cap = fifo_capacity_locked();
  return s_.rx_count >= cap ? 0 : cap - s_.rx_count;
}

void Serial::receive(std::span<const uint8_t> data) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (uint8_t b : data)
    push_rx_locked(b);
  update_irq_locked();
}

}  // namespace colo
