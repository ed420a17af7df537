// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/bitmap.h
//
// A fixed-size bitmap whose bits may be set concurrently from any thread (dirty tracking: vCPU
// threads and device workers mark pages while the migration thread collects them).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace colo {

class AtomicBitmap {
 public:
  explicit AtomicBitmap(size_t nbits)
      : nbits_(nbits), words_(new std::atomic<uint64_t>[(nbits + 63) / 64]) {
    for (size_t i = 0; i < word_count(); i++)
      words_[i].store(0, std::memory_order_relaxed);
  }

  size_t size() const { return nbits_; }
  size_t word_count() const { return (nbits_ + 63) / 64; }

  void set(size_t bit) { words_[bit / 64].fetch_or(1ULL << (bit % 64), std::memory_order_relaxed); }
  bool test(size_t bit) const {
    return (words_[bit / 64].load(std::memory_order_relaxed) >> (bit % 64)) & 1;
  }
  // Sets bits [first, first + count), clamped to the bitmap.
  void set_range(size_t first, size_t count) {
    size_t end = first < nbits_ && count < nbits_ - first ? first + count : nbits_;
    for (size_t b = first; b < end;) {
      if (b % 64 == 0 && end - b >= 64) {
        words_[b / 64].store(~0ULL, std::memory_order_relaxed);
        b += 64;
      } else {
        set(b);
        b++;
      }
    }
  }
  // ORs the bitmap into `out` (one uint64_t per 64 bits) and clears it, word by word atomically.
  void take_into(std::vector<uint64_t>& out) {
    out.resize(word_count(), 0);
    for (size_t i = 0; i < word_count(); i++) {
      out[i] |= words_[i].exchange(0, std::memory_order_relaxed);
    }
  }
  size_t count() const {
    size_t n = 0;
    for (size_t i = 0; i < word_count(); i++) {
      n += static_cast<size_t>(__builtin_popcountll(words_[i].load(std::memory_order_relaxed)));
    }
    return n;
  }
  void clear() {
    for (size_t i = 0; i < word_count(); i++)
      words_[i].store(0, std::memory_order_relaxed);
  }

 private:
  size_t nbits_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
};

}  // namespace colo
