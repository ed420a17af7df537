// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/framing.h"

#include <algorithm>
#include <cstring>

namespace colo {

namespace {

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace

void NetFrameReader::reset() {
  state_ = State::kLength;
  hdr_filled_ = 0;
  length_ = 0;
  vnet_hdr_len_ = 0;
  filled_ = 0;
}

Status NetFrameReader::feed(std::span<const uint8_t> data, const FrameFn& fn) {
  size_t pos = 0;
  while (pos < data.size()) {
    switch (state_) {
      case State::kFailed:
        return make_error("the frame stream is out of sync");
      case State::kLength:
      case State::kVnetHdrLen: {
        size_t n = std::min(sizeof(hdr_) - hdr_filled_, data.size() - pos);
        memcpy(hdr_ + hdr_filled_, data.data() + pos, n);
        hdr_filled_ += n;
        pos += n;
        if (hdr_filled_ < sizeof(hdr_))
          break;
        hdr_filled_ = 0;
        uint32_t v = load_be32(hdr_);
        if (state_ == State::kLength) {
          if (v > max_frame_) {
            state_ = State::kFailed;
            return make_error("frame of %u bytes is longer than %zu", v, max_frame_);
          }
          length_ = v;
          if (vnet_hdr_) {
            state_ = State::kVnetHdrLen;
            break;
          }
        } else {
          if (v > length_) {
            state_ = State::kFailed;
            return make_error("vnet header length %u exceeds the frame length %u", v, length_);
          }
          vnet_hdr_len_ = v;
        }
        if (length_ == 0) {
          state_ = State::kLength;
          break;
        }
        if (buf_.size() < length_)
          buf_.resize(length_);
        filled_ = 0;
        state_ = State::kData;
        break;
      }
      case State::kData: {
        size_t n = std::min<size_t>(length_ - filled_, data.size() - pos);
        memcpy(buf_.data() + filled_, data.data() + pos, n);
        filled_ += n;
        pos += n;
        if (filled_ == length_) {
          state_ = State::kLength;
          filled_ = 0;
          fn(std::span<uint8_t>(buf_.data(), length_), vnet_hdr_len_);
        }
        break;
      }
    }
  }
  return state_ == State::kFailed ? Status(make_error("the frame stream is out of sync"))
                                  : ok_status();
}

std::vector<uint8_t> net_frame_header(uint32_t length, bool vnet_hdr, uint32_t vnet_hdr_len) {
  std::vector<uint8_t> h(vnet_hdr ? 8 : 4);
  store_be32(h.data(), length);
  if (vnet_hdr)
    store_be32(h.data() + 4, vnet_hdr_len);
  return h;
}

}  // namespace colo
