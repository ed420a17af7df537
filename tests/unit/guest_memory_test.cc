// SPDX-License-Identifier: GPL-2.0-or-later
//
// Guest RAM with a hole (as the PC has below 4 GiB) and the dirty bitmap colovm's own writes set.
#include "system/guest-memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace colo {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kHigh = 1ULL << 32;

// One 3 MiB block: region 0 is gpa [0, 1 MiB) at block offset 0, region 1 is gpa
// [4 GiB, 4 GiB + 2 MiB) at block offset 1 MiB.
class GuestMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto block = RamBlock::create("pc.ram", 3 * kMiB);
    ASSERT_TRUE(block.ok()) << block.error().message();
    block_ = block->get();
    mem_.add_block(std::move(*block));
    mem_.add_region({0, kMiB, block_, 0});
    mem_.add_region({kHigh, 2 * kMiB, block_, kMiB});
  }
  std::vector<size_t> dirty_pages() {
    std::vector<uint64_t> words;
    block_->host_dirty().take_into(words);
    std::vector<size_t> pages;
    for (size_t w = 0; w < words.size(); w++) {
      for (int b = 0; b < 64; b++) {
        if (words[w] >> b & 1)
          pages.push_back(w * 64 + b);
      }
    }
    return pages;
  }

  GuestMemory mem_;
  RamBlock* block_ = nullptr;
};

TEST(RamBlockTest, Create) {
  auto b = RamBlock::create("ram", 64 * 1024);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ((*b)->name(), "ram");
  EXPECT_EQ((*b)->size(), 64u * 1024);
  EXPECT_GE((*b)->fd(), 0);
  ASSERT_NE((*b)->host(), nullptr);
  EXPECT_EQ((*b)->host()[0], 0);  // fresh memory is zero
  EXPECT_EQ((*b)->host()[64 * 1024 - 1], 0);
  (*b)->host()[100] = 7;
  EXPECT_EQ((*b)->host_dirty().size(), 16u);
  EXPECT_EQ((*b)->host_dirty().count(), 0u);
}

TEST(RamBlockTest, BadSizes) {
  auto b = RamBlock::create("x", 0);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message(), "RAM block 'x': size 0 is not a multiple of 4 KiB");
  b = RamBlock::create("y", 4097);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message(), "RAM block 'y': size 4097 is not a multiple of 4 KiB");
}

TEST_F(GuestMemoryTest, Layout) {
  EXPECT_EQ(mem_.ram_size(), 3 * kMiB);
  ASSERT_EQ(mem_.regions().size(), 2u);
  ASSERT_EQ(mem_.blocks().size(), 1u);
  EXPECT_EQ(mem_.blocks()[0].get(), block_);
}

TEST_F(GuestMemoryTest, HostPtr) {
  EXPECT_EQ(mem_.host_ptr(0, 1), block_->host());
  EXPECT_EQ(mem_.host_ptr(0x1234, 16), block_->host() + 0x1234);
  EXPECT_EQ(mem_.host_ptr(kMiB - 4, 4), block_->host() + kMiB - 4);
  EXPECT_EQ(mem_.host_ptr(0, kMiB), block_->host());
  EXPECT_EQ(mem_.host_ptr(kHigh, 1), block_->host() + kMiB);
  EXPECT_EQ(mem_.host_ptr(kHigh + 0x10, 2 * kMiB - 0x10), block_->host() + kMiB + 0x10);
  // Outside RAM, in the hole, or crossing a region's end.
  EXPECT_EQ(mem_.host_ptr(kMiB, 1), nullptr);
  EXPECT_EQ(mem_.host_ptr(kMiB - 4, 5), nullptr);
  EXPECT_EQ(mem_.host_ptr(0, kMiB + 1), nullptr);
  EXPECT_EQ(mem_.host_ptr(0x80000000, 1), nullptr);
  EXPECT_EQ(mem_.host_ptr(kHigh - 1, 2), nullptr);
  EXPECT_EQ(mem_.host_ptr(kHigh + 2 * kMiB - 1, 2), nullptr);
  EXPECT_EQ(mem_.host_ptr(kHigh + 2 * kMiB, 1), nullptr);
  // Lengths that would wrap around.
  EXPECT_EQ(mem_.host_ptr(0x1000, ~0ULL), nullptr);
  EXPECT_EQ(mem_.host_ptr(~0ULL, 2), nullptr);
}

TEST_F(GuestMemoryTest, ReadWriteBothRegions) {
  std::vector<uint8_t> data = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(mem_.write(0x2000, data).ok());
  ASSERT_TRUE(mem_.write(kHigh + 0x3000, data).ok());
  std::vector<uint8_t> out(8);
  ASSERT_TRUE(mem_.read(0x2000, out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(mem_.read(kHigh + 0x3000, out).ok());
  EXPECT_EQ(out, data);
  // Region 1 really is the block after region 0.
  EXPECT_EQ(block_->host()[kMiB + 0x3000], 1);
  EXPECT_EQ(block_->host()[0x2000 + 7], 8);
  // Up to the very end of each region.
  ASSERT_TRUE(mem_.write(kMiB - 8, data).ok());
  ASSERT_TRUE(mem_.read(kHigh + 2 * kMiB - 8, out).ok());
  ASSERT_TRUE(mem_.fill(kHigh + 2 * kMiB - 16, 0xab, 16).ok());
  ASSERT_TRUE(mem_.read(kHigh + 2 * kMiB - 8, out).ok());
  EXPECT_EQ(out, std::vector<uint8_t>(8, 0xab));
}

TEST_F(GuestMemoryTest, AccessesAcrossBoundariesFailCleanly) {
  std::vector<uint8_t> data(4, 0x5a);
  std::vector<uint8_t> out(4, 0x11);
  ASSERT_TRUE(mem_.fill(kMiB - 8, 0x22, 8).ok());
  block_->host_dirty().clear();

  Status st = mem_.write(kMiB - 2, data);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "guest memory write outside RAM: 0xffffe+0x4");
  st = mem_.read(kMiB - 2, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "guest memory read outside RAM: 0xffffe+0x4");
  st = mem_.fill(kMiB - 2, 0, 4);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "guest memory fill outside RAM: 0xffffe+0x4");
  st = mem_.read(kMiB, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "guest memory read outside RAM: 0x100000+0x4");
  st = mem_.write(kHigh - 2, data);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "guest memory write outside RAM: 0xfffffffe+0x4");
  st = mem_.read(kHigh + 2 * kMiB - 3, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "guest memory read outside RAM: 0x1001ffffd+0x4");
  st = mem_.fill(0, 0, 3 * kMiB);  // as much as there is RAM, but not contiguous
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "guest memory fill outside RAM: 0x0+0x300000");

  // Nothing was written, nothing read, nothing marked dirty.
  EXPECT_EQ(out, std::vector<uint8_t>(4, 0x11));
  EXPECT_EQ(block_->host()[kMiB - 2], 0x22);
  EXPECT_EQ(block_->host()[kMiB - 1], 0x22);
  EXPECT_EQ(block_->host()[kMiB], 0) << "region 1's first byte untouched";
  EXPECT_EQ(block_->host()[0], 0);
  EXPECT_EQ(block_->host_dirty().count(), 0u);
}

TEST_F(GuestMemoryTest, WriteMarksExactlyTheTouchedPages) {
  EXPECT_EQ(block_->host_dirty().size(), 768u);  // 3 MiB of 4 KiB pages
  EXPECT_EQ(block_->host_dirty().count(), 0u);
  uint8_t one = 1;
  ASSERT_TRUE(mem_.write(0x1000, {&one, 1}).ok());
  EXPECT_EQ(dirty_pages(), std::vector<size_t>{1});
  EXPECT_EQ(block_->host_dirty().count(), 0u) << "take_into clears";

  // The last byte of page 2 and the first of page 3.
  std::vector<uint8_t> two(2, 9);
  ASSERT_TRUE(mem_.write(0x2fff, two).ok());
  EXPECT_EQ(dirty_pages(), (std::vector<size_t>{2, 3}));

  // A whole page, aligned: only that page.
  std::vector<uint8_t> page(4096, 1);
  ASSERT_TRUE(mem_.write(0x5000, page).ok());
  EXPECT_EQ(dirty_pages(), std::vector<size_t>{5});
  // The same, one byte off: two pages.
  ASSERT_TRUE(mem_.write(0x5001, page).ok());
  EXPECT_EQ(dirty_pages(), (std::vector<size_t>{5, 6}));

  // Region 1: block pages, not guest page numbers.
  ASSERT_TRUE(mem_.write(kHigh + 0x3000, {&one, 1}).ok());
  EXPECT_EQ(dirty_pages(), std::vector<size_t>{256 + 3});
  ASSERT_TRUE(mem_.write(kHigh + 2 * kMiB - 1, {&one, 1}).ok());
  EXPECT_EQ(dirty_pages(), std::vector<size_t>{767});

  // fill marks too; an empty write marks nothing.
  ASSERT_TRUE(mem_.fill(0x10000, 0, 0x3001).ok());
  EXPECT_EQ(dirty_pages(), (std::vector<size_t>{16, 17, 18, 19}));
  ASSERT_TRUE(mem_.write(0x20000, {}).ok());
  EXPECT_TRUE(dirty_pages().empty());
}

TEST_F(GuestMemoryTest, MarkDirty) {
  mem_.mark_dirty(kHigh, 0x2001);
  EXPECT_EQ(dirty_pages(), (std::vector<size_t>{256, 257, 258}));
  mem_.mark_dirty(0xfff, 2);
  EXPECT_EQ(dirty_pages(), (std::vector<size_t>{0, 1}));
  mem_.mark_dirty(0x4000, 0);
  EXPECT_TRUE(dirty_pages().empty());
  // Outside RAM or across a region's end: nothing.
  mem_.mark_dirty(kMiB, 0x1000);
  mem_.mark_dirty(kMiB - 1, 2);
  mem_.mark_dirty(kHigh + 2 * kMiB, 1);
  EXPECT_TRUE(dirty_pages().empty());
  // A whole region.
  mem_.mark_dirty(0, kMiB);
  EXPECT_EQ(dirty_pages().size(), 256u);
  // Writes through host_ptr() plus mark_dirty().
  uint8_t* p = mem_.host_ptr(kHigh + 0x8000, 0x10);
  ASSERT_NE(p, nullptr);
  p[0] = 0x42;
  mem_.mark_dirty(kHigh + 0x8000, 0x10);
  EXPECT_EQ(dirty_pages(), std::vector<size_t>{256 + 8});
  uint8_t v = 0;
  ASSERT_TRUE(mem_.read(kHigh + 0x8000, {&v, 1}).ok());
  EXPECT_EQ(v, 0x42);
}

// --- AtomicBitmap ------------------------------------------------------------------------------

std::vector<size_t> set_bits(const AtomicBitmap& b) {
  std::vector<size_t> out;
  for (size_t i = 0; i < b.size(); i++) {
    if (b.test(i))
      out.push_back(i);
  }
  return out;
}

TEST(AtomicBitmapTest, SetAndTest) {
  AtomicBitmap b(130);
  EXPECT_EQ(b.size(), 130u);
  EXPECT_EQ(b.word_count(), 3u);
  EXPECT_EQ(b.count(), 0u);
  b.set(0);
  b.set(63);
  b.set(64);
  b.set(129);
  b.set(64);
  EXPECT_EQ(set_bits(b), (std::vector<size_t>{0, 63, 64, 129}));
  EXPECT_EQ(b.count(), 4u);
  b.clear();
  EXPECT_EQ(b.count(), 0u);
  EXPECT_TRUE(set_bits(b).empty());
}

TEST(AtomicBitmapTest, SetRange) {
  AtomicBitmap b(200);
  b.set_range(10, 100);
  EXPECT_EQ(b.count(), 100u);
  EXPECT_FALSE(b.test(9));
  EXPECT_TRUE(b.test(10));
  EXPECT_TRUE(b.test(63));
  EXPECT_TRUE(b.test(64));
  EXPECT_TRUE(b.test(109));
  EXPECT_FALSE(b.test(110));
  // Whole words.
  AtomicBitmap w(256);
  w.set_range(64, 128);
  EXPECT_EQ(w.count(), 128u);
  EXPECT_FALSE(w.test(63));
  EXPECT_TRUE(w.test(64));
  EXPECT_TRUE(w.test(191));
  EXPECT_FALSE(w.test(192));
  // Clamped at the end: no bits beyond size() in the last word.
  AtomicBitmap c(70);
  c.set_range(60, 1000);
  EXPECT_EQ(c.count(), 10u);
  EXPECT_EQ(set_bits(c), (std::vector<size_t>{60, 61, 62, 63, 64, 65, 66, 67, 68, 69}));
  c.set_range(0, 70);
  EXPECT_EQ(c.count(), 70u);
  std::vector<uint64_t> words;
  c.take_into(words);
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0], ~0ULL);
  EXPECT_EQ(words[1], 0x3fULL) << "bits past the end stay clear";
  // Empty ranges and ranges starting past the end.
  c.set_range(5, 0);
  c.set_range(70, 5);
  c.set_range(1000, 5);
  c.set_range(SIZE_MAX, 2);
  EXPECT_EQ(c.count(), 0u);
  // A count so large that first + count wraps around still means "to the end".
  c.set_range(65, SIZE_MAX);
  EXPECT_EQ(set_bits(c), (std::vector<size_t>{65, 66, 67, 68, 69}));
}

TEST(AtomicBitmapTest, TakeIntoOrsAndClears) {
  AtomicBitmap b(128);
  b.set(1);
  b.set(100);
  std::vector<uint64_t> out = {1ULL << 5};  // shorter than the bitmap: grows
  b.take_into(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (1ULL << 5) | (1ULL << 1));
  EXPECT_EQ(out[1], 1ULL << 36);
  EXPECT_EQ(b.count(), 0u);
  // Taking again adds nothing.
  b.take_into(out);
  EXPECT_EQ(out[0], (1ULL << 5) | (1ULL << 1));
  EXPECT_EQ(out[1], 1ULL << 36);
  b.set(2);
  b.take_into(out);
  EXPECT_EQ(out[0], (1ULL << 5) | (1ULL << 2) | (1ULL << 1));
}

TEST(AtomicBitmapTest, Empty) {
  AtomicBitmap b(0);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.word_count(), 0u);
  EXPECT_EQ(b.count(), 0u);
  b.set_range(0, 10);
  std::vector<uint64_t> out;
  b.take_into(out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace colo
