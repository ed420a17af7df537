// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/bytes.h
//
// Building and parsing byte buffers in a fixed byte order. ByteReader is for hostile input: every
// read is bounds-checked, and the first failure makes the reader "failed" for good (later reads
// return zeros), so a parser can read a whole record and check once:
//
//   ByteReader r(buf);
//   uint32_t magic = r.be32();
//   uint64_t len = r.be64();
//   if (r.failed()) return make_error("record truncated");
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace colo {

class ByteWriter {
 public:
  ByteWriter() = default;

  void u8(uint8_t v) { buf_.push_back(v); }
  void be16(uint16_t v) { put_be(v, 2); }
  void be32(uint32_t v) { put_be(v, 4); }
  void be64(uint64_t v) { put_be(v, 8); }
  void le16(uint16_t v) { put_le(v, 2); }
  void le32(uint32_t v) { put_le(v, 4); }
  void le64(uint64_t v) { put_le(v, 8); }
  void bytes(std::span<const uint8_t> data) { buf_.insert(buf_.end(), data.begin(), data.end()); }
  void bytes(const void* data, size_t len) {
    bytes(std::span<const uint8_t>(static_cast<const uint8_t*>(data), len));
  }
  void zeros(size_t n) { buf_.resize(buf_.size() + n, 0); }
  void str(std::string_view s) { bytes(s.data(), s.size()); }

  size_t size() const { return buf_.size(); }
  std::vector<uint8_t>& buffer() { return buf_; }
  const std::vector<uint8_t>& buffer() const { return buf_; }
  std::vector<uint8_t> take() { return std::move(buf_); }

 private:
  void put_be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--)
      buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; i++)
      buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> buf_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  uint8_t u8() { return static_cast<uint8_t>(get_be(1)); }
  uint16_t be16() { return static_cast<uint16_t>(get_be(2)); }
  uint32_t be32() { return static_cast<uint32_t>(get_be(4)); }
  uint64_t be64() { return get_be(8); }
  uint16_t le16() { return static_cast<uint16_t>(get_le(2)); }
  uint32_t le32() { return static_cast<uint32_t>(get_le(4)); }
  uint64_t le64() { return get_le(8); }

  // Copies n bytes out; on underflow fills with zeros and fails.
  void bytes(void* out, size_t n) {
    if (!take(n)) {
      memset(out, 0, n);
      return;
    }
    memcpy(out, data_.data() + pos_ - n, n);
  }
  // A view of the next n bytes (empty on underflow).
  std::span<const uint8_t> view(size_t n) {
    if (!take(n))
      return {};
    return data_.subspan(pos_ - n, n);
  }
  void skip(size_t n) { take(n); }
  // Looks at the next byte without consuming it; -1 at the end.
  int peek() const { return pos_ < data_.size() ? data_[pos_] : -1; }

  size_t position() const { return pos_; }
  size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }
  bool at_end() const { return remaining() == 0; }
  bool failed() const { return failed_; }
  void fail() { failed_ = true; }

 private:
  bool take(size_t n) {
    if (failed_ || n > data_.size() - pos_) {
      failed_ = true;
      return false;
    }
    pos_ += n;
    return true;
  }
  uint64_t get_be(int n) {
    if (!take(n))
      return 0;
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
      v = (v << 8) | data_[pos_ - n + i];
    return v;
  }
  uint64_t get_le(int n) {
    if (!take(n))
      return 0;
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
      v = (v << 8) | data_[pos_ - n + i];
    return v;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Little-endian loads/stores into raw memory (device registers, guest structures).
inline uint16_t load_le16(const void* p) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  return static_cast<uint16_t>(b[0] | (b[1] << 8));
}
inline uint32_t load_le32(const void* p) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  return b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
}
inline uint64_t load_le64(const void* p) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  return load_le32(b) | (static_cast<uint64_t>(load_le32(b + 4)) << 32);
}
inline void store_le16(void* p, uint16_t v) {
  uint8_t* b = static_cast<uint8_t*>(p);
  b[0] = static_cast<uint8_t>(v);
  b[1] = static_cast<uint8_t>(v >> 8);
}
inline void store_le32(void* p, uint32_t v) {
  uint8_t* b = static_cast<uint8_t*>(p);
  for (int i = 0; i < 4; i++)
    b[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void store_le64(void* p, uint64_t v) {
  store_le32(p, static_cast<uint32_t>(v));
  store_le32(static_cast<uint8_t*>(p) + 4, static_cast<uint32_t>(v >> 32));
}

// Reads/writes an access of 1, 2, 4 or 8 bytes as a little-endian integer (MMIO/PIO data).
inline uint64_t load_le_n(std::span<const uint8_t> d) {
  uint64_t v = 0;
  for (size_t i = d.size(); i > 0; i--)
    v = (v << 8) | d[i - 1];
  return v;
}
inline void store_le_n(std::span<uint8_t> d, uint64_t v) {
  for (size_t i = 0; i < d.size(); i++)
    d[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace colo
