// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: block/drivers.h (private)
//
// The built-in drivers, registered by block.cc the first time the driver list is used.
#pragma once

#include <memory>

#include "block/block-driver.h"

namespace colo::block {

std::unique_ptr<BlockDriver> make_file_driver();
std::unique_ptr<BlockDriver> make_host_device_driver();
std::unique_ptr<BlockDriver> make_raw_driver();
std::unique_ptr<BlockDriver> make_qcow2_driver();

// Helpers shared by drivers.

// Big-endian loads and stores.
inline uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t load_be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline uint64_t load_be64(const uint8_t* p) {
  return static_cast<uint64_t>(load_be32(p)) << 32 | load_be32(p + 4);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
inline void store_be64(uint8_t* p, uint64_t v) {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

// True if every byte of `buf` is zero.
bool buffer_is_zero(std::span<const uint8_t> buf);

}  // namespace colo::block
