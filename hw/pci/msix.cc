// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/pci/msix.h"

#include <cstring>

#include "hw/pci/pci.h"
#include "util/bytes.h"

namespace colo {

namespace {

constexpr uint32_t kCapSize = 12;

struct Message {
  uint64_t address;
  uint32_t data;
};

}  // namespace

Msix::Msix(PciDevice* dev, MsiSink* sink, uint16_t vectors, uint8_t bar, uint32_t table_offset,
           uint32_t pba_offset)
    : dev_(dev),
      sink_(sink),
      vectors_(vectors == 0 ? 1 : (vectors > kMsixMaxVectors ? kMsixMaxVectors : vectors)),
      bar_(bar),
      table_offset_(table_offset),
      pba_offset_(pba_offset) {
  cap_ = dev_->add_capability(kPciCapIdMsix, kCapSize);
  uint8_t* cfg = dev_->config_bytes();
  store_le16(cfg + cap_ + 2, static_cast<uint16_t>(vectors_ - 1));
  store_le32(cfg + cap_ + 4, table_offset_ | bar_);
  store_le32(cfg + cap_ + 8, pba_offset_ | bar_);
  dev_->set_wmask(cap_ + 2, kMsixControlEnable | kMsixControlFunctionMask, 2);
  // add_capability() snapshotted the config space before the fields above were filled in.
  dev_->set_reset_config();
  reset();
}

uint16_t Msix::control() const {
  return static_cast<uint16_t>(dev_->config_read(cap_ + 2, 2));
}

bool Msix::enabled() const {
  return control() & kMsixControlEnable;
}

bool Msix::function_masked() const {
  return control() & kMsixControlFunctionMask;
}

bool Msix::masked_locked(uint16_t vector, uint16_t control) const {
  return (control & kMsixControlFunctionMask) ||
         (s_.table[vector * 4 + 3] & kMsixEntryVectorCtrlMask);
}

bool Msix::vector_masked(uint16_t vector) const {
  if (vector >= vectors_)
    return true;
  std::lock_guard<std::mutex> lock(mutex_);
  return s_.table[vector * 4 + 3] & kMsixEntryVectorCtrlMask;
}

bool Msix::pending(uint16_t vector) const {
  if (vector >= vectors_)
    return false;
  std::lock_guard<std::mutex> lock(mutex_);
  return (s_.pba[vector / 64] >> (vector % 64)) & 1;
}

bool Msix::notify(uint16_t vector) {
  if (vector >= vectors_)
    return false;
  uint16_t ctl = control();
  if (!(ctl & kMsixControlEnable))
    return false;
  Message msg;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (masked_locked(vector, ctl)) {
      s_.pba[vector / 64] |= 1ULL << (vector % 64);
      return true;
    }
    const uint32_t* e = &s_.table[vector * 4];
    msg = {e[0] | (static_cast<uint64_t>(e[1]) << 32), e[2]};
  }
  if (sink_ != nullptr)
    sink_->send_msi(msg.address, msg.data);
  return true;
}

void Msix::deliver_pending() {
  uint16_t ctl = control();
  if (!(ctl & kMsixControlEnable) || (ctl & kMsixControlFunctionMask))
    return;
  std::vector<Message> out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint16_t v = 0; v < vectors_; v++) {
      uint64_t bit = 1ULL << (v % 64);
      if (!(s_.pba[v / 64] & bit) || masked_locked(v, ctl))
        continue;
      s_.pba[v / 64] &= ~bit;
      const uint32_t* e = &s_.table[v * 4];
      out.push_back({e[0] | (static_cast<uint64_t>(e[1]) << 32), e[2]});
    }
  }
  if (sink_ == nullptr)
    return;
  for (const Message& m : out)
    sink_->send_msi(m.address, m.data);
}

void Msix::config_written(uint32_t offset, int size) {
  uint32_t ctl = cap_ + 2u;
  if (offset <= ctl + 1 && offset + static_cast<uint32_t>(size) > ctl)
    deliver_pending();
}

void Msix::read(uint64_t offset, std::span<uint8_t> data) {
  memset(data.data(), 0, data.size());
  uint64_t table_size = static_cast<uint64_t>(vectors_) * kMsixEntrySize;
  uint64_t pba_size = ((vectors_ + 63) / 64) * 8;
  std::lock_guard<std::mutex> lock(mutex_);
  if (offset >= table_offset_ && offset - table_offset_ + data.size() <= table_size) {
    uint64_t off = offset - table_offset_;
    for (size_t i = 0; i < data.size(); i++) {
      uint64_t o = off + i;
      data[i] = static_cast<uint8_t>(s_.table[o / 4] >> (8 * (o % 4)));
    }
  } else if (offset >= pba_offset_ && offset - pba_offset_ + data.size() <= pba_size) {
    uint64_t off = offset - pba_offset_;
    for (size_t i = 0; i < data.size(); i++) {
      uint64_t o = off + i;
      data[i] = static_cast<uint8_t>(s_.pba[o / 8] >> (8 * (o % 8)));
    }
  }
}

void Msix::write(uint64_t offset, std::span<const uint8_t> data) {
  uint64_t table_size = static_cast<uint64_t>(vectors_) * kMsixEntrySize;
  if (offset < table_offset_ || offset - table_offset_ + data.size() > table_size) {
    return;  // the PBA is read-only; the rest of the BAR ignores writes
  }
  uint64_t off = offset - table_offset_;
  bool unmasked = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < data.size(); i++) {
      uint64_t o = off + i;
      uint32_t& word = s_.table[o / 4];
      uint32_t shift = 8 * (o % 4);
      uint32_t before = word;
      word = (word & ~(0xffu << shift)) | (static_cast<uint32_t>(data[i]) << shift);
      if (o % kMsixEntrySize / 4 == 3) {
        // Vector Control: only the mask bit is writable.
        word &= kMsixEntryVectorCtrlMask;
        if ((before & kMsixEntryVectorCtrlMask) && !(word & kMsixEntryVectorCtrlMask)) {
          unmasked = true;
        }
      }
    }
  }
  if (unmasked)
    deliver_pending();
}

void Msix::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  s_ = MsixState{};
  for (uint16_t v = 0; v < vectors_; v++)
    s_.table[v * 4 + 3] = kMsixEntryVectorCtrlMask;
}

MsixState Msix::save() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return s_;
}

Status Msix::load(const MsixState& state) {
  COLO_TRY(check(state));
  std::lock_guard<std::mutex> lock(mutex_);
  s_ = state;
  return ok_status();
}

Status Msix::check(const MsixState& state) const {
  for (uint32_t v = vectors_; v < kMsixMaxVectors; v++) {
    for (int i = 0; i < 4; i++) {
      if (state.table[v * 4 + i] != 0) {
        return make_error("MSI-X entry %u is set but the function has only %u vectors", v,
                          vectors_);
      }
    }
    if ((state.pba[v / 64] >> (v % 64)) & 1) {
      return make_error("MSI-X vector %u is pending but the function has only %u vectors", v,
                        vectors_);
    }
  }
  for (uint16_t v = 0; v < vectors_; v++) {
    if (state.table[v * 4 + 3] & ~kMsixEntryVectorCtrlMask) {
      return make_error("MSI-X entry %u: reserved vector control bits set", v);
    }
  }
  return ok_status();
}

}  // namespace colo
