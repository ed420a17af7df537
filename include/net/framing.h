// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: net/framing.h
//
// Frames over a byte stream, QEMU's format (net/net.c net_fill_rstate): each frame is
//
//   be32 length | [be32 vnet_hdr_len, only with vnet_hdr_support] | length bytes of frame
//
// The -netdev socket / stream backends use it without the vnet header length (and interoperate
// with a QEMU on the other end); the COLO filters' chardevs (filter-mirror, filter-redirector,
// colo-compare) use it with or without, as their vnet_hdr_support property says.
//
// The reader is fed whatever the socket returned and calls back once per complete frame. The
// stream is hostile: a length above the limit is an error, after which the stream cannot be
// resynchronised and the connection must be dropped (QEMU does the same). A length of zero is
// skipped (no callback).
//
//   NetFrameReader rd(/*vnet_hdr=*/false);
//   Status st = rd.feed(bytes, [&](std::span<uint8_t> frame, uint32_t vnet_hdr_len) {...});
//   if (!st.ok()) disconnect();
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "util/error.h"

namespace colo {

class NetFrameReader {
 public:
  using FrameFn = std::function<void(std::span<uint8_t> frame, uint32_t vnet_hdr_len)>;

  explicit NetFrameReader(bool vnet_hdr = false, size_t max_frame = 4096 + 65536)
      : vnet_hdr_(vnet_hdr), max_frame_(max_frame) {}

  // Consumes `data`; calls `fn` for each frame completed (the span is valid during the call).
  // After an error the reader stays failed until reset().
  Status feed(std::span<const uint8_t> data, const FrameFn& fn);
  // Back to the start of a frame (a new connection).
  void reset();
  // Bytes of an incomplete frame held.
  size_t pending() const { return state_ == State::kData ? filled_ : hdr_filled_; }

 private:
  enum class State { kLength, kVnetHdrLen, kData, kFailed };
  bool vnet_hdr_;
  size_t max_frame_;
  State state_ = State::kLength;
  uint8_t hdr_[4]{};
  size_t hdr_filled_ = 0;
  uint32_t length_ = 0;
  uint32_t vnet_hdr_len_ = 0;
  std::vector<uint8_t> buf_;
  size_t filled_ = 0;
};

// The header to send before a frame: 4 bytes (or 8 with vnet_hdr).
std::vector<uint8_t> net_frame_header(uint32_t length, bool vnet_hdr = false,
                                      uint32_t vnet_hdr_len = 0);

}  // namespace colo
