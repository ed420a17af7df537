// SPDX-License-Identifier: GPL-2.0-or-later
//
// The split virtqueue against guest memory filled by hand: chains, indirect tables, event
// index, notification suppression, dirty marking, and a hostile driver's malformed rings,
// which must break the queue without touching memory outside guest RAM.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hw/virtio/virtqueue.h"
#include "system/guest-memory.h"
#include "util/bytes.h"

namespace colo {
namespace {

constexpr uint64_t kRam = 1ULL << 20;
constexpr uint64_t kDesc = 0x10000, kAvail = 0x11000, kUsed = 0x12000;
constexpr uint16_t kSize = 8;

class VirtqueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto block = RamBlock::create("vq.ram", kRam);
    ASSERT_TRUE(block.ok());
    ram = block->get();
    mem.add_block(std::move(*block));
    mem.add_region({0, kRam, ram, 0});
    vq.set_error_handler([this](const std::string& why) { errors.push_back(why); });
    ASSERT_TRUE(vq.start({kSize, kDesc, kAvail, kUsed}, false, true).ok());
    ram->host_dirty().clear();
  }
  void desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
            uint16_t next) {
    uint8_t d[16];
    store_le64(d, addr);
    store_le32(d + 8, len);
    store_le16(d + 12, flags);
    store_le16(d + 14, next);
    ASSERT_TRUE(mem.write(table + 16ULL * i, d).ok());
  }
  void put16(uint64_t gpa, uint16_t v) {
    uint8_t b[2];
    store_le16(b, v);
    ASSERT_TRUE(mem.write(gpa, b).ok());
  }
  uint16_t get16(uint64_t gpa) {
    uint8_t b[2];
    EXPECT_TRUE(mem.read(gpa, b).ok());
    return load_le16(b);
  }
  uint32_t get32(uint64_t gpa) {
    uint8_t b[4];
    EXPECT_TRUE(mem.read(gpa, b).ok());
    return load_le32(b);
  }
  void avail(uint16_t head) {
    put16(kAvail + 4 + 2 * (avail_idx % kSize), head);
    put16(kAvail + 2, ++avail_idx);
  }
  bool broken_with(const std::string& what) {
    return vq.broken() && errors.size() == 1 && errors[0].find(what) != std::string::npos;
  }

  GuestMemory mem;
  RamBlock* ram = nullptr;
  VirtQueue vq{&mem, 0, 256};
  std::vector<std::string> errors;
  uint16_t avail_idx = 0;
};

TEST_F(VirtqueueTest, EmptyRing) {
  EXPECT_FALSE(vq.has_available());
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_FALSE(vq.broken());
}

TEST_F(VirtqueueTest, ChainOutThenIn) {
  ASSERT_TRUE(mem.write(0x20000, std::vector<uint8_t>{1, 2, 3, 4, 5, 6}).ok());
  desc(kDesc, 0, 0x20000, 4, kVringDescFNext, 1);
  desc(kDesc, 1, 0x20004, 2, kVringDescFNext, 5);
  desc(kDesc, 5, 0x30000, 100, kVringDescFWrite | kVringDescFNext, 2);
  desc(kDesc, 2, 0x31ff0, 0x20, kVringDescFWrite, 0);  // crosses a page
  avail(0);
  ASSERT_TRUE(vq.has_available());
  auto e = vq.pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->head(), 0);
  EXPECT_EQ(e->out().size(), 2u);
  EXPECT_EQ(e->in().size(), 2u);
  EXPECT_EQ(e->out_bytes(), 6u);
  EXPECT_EQ(e->in_bytes(), 132u);
  uint8_t got[6];
  EXPECT_EQ(e->read(0, got), 6u);
  EXPECT_EQ(std::vector<uint8_t>(got, got + 6), (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  uint8_t two[4];
  EXPECT_EQ(e->read(3, two), 3u);  // short: the buffers end
  EXPECT_EQ(two[0], 4);

  // Write across the two in buffers: 98..110 spans the end of the first.
  std::vector<uint8_t> data(12, 0xee);
  EXPECT_EQ(e->write(98, data), 12u);
  uint8_t b;
  ASSERT_TRUE(mem.read(0x30000 + 99, {&b, 1}).ok());
  EXPECT_EQ(b, 0xee);
  ASSERT_TRUE(mem.read(0x31ff0 + 9, {&b, 1}).ok());
  EXPECT_EQ(b, 0xee);
  EXPECT_TRUE(ram->host_dirty().test(0x30000 / kPageSize));
  EXPECT_TRUE(ram->host_dirty().test(0x31000 / kPageSize));
  EXPECT_FALSE(ram->host_dirty().test(0x32000 / kPageSize));  // 0x31ff0 + 10 < 0x32000
  EXPECT_EQ(e->write(130, data), 2u);

  ram->host_dirty().clear();
  vq.push(*e, 110);
  EXPECT_EQ(get16(kUsed + 2), 1);
  EXPECT_EQ(get32(kUsed + 4), 0u);    // id
  EXPECT_EQ(get32(kUsed + 8), 110u);  // len
  EXPECT_TRUE(ram->host_dirty().test(kUsed / kPageSize));
  EXPECT_EQ(vq.in_flight(), 0u);
  EXPECT_FALSE(vq.pop().has_value());
}

TEST_F(VirtqueueTest, MarkWritten) {
  desc(kDesc, 0, 0x40000, 0x3000, kVringDescFWrite, 0);
  avail(0);
  auto e = vq.pop();
  ASSERT_TRUE(e.has_value());
  e->mark_written(0x1800, 0x1000);
  EXPECT_FALSE(ram->host_dirty().test(0x40));
  EXPECT_TRUE(ram->host_dirty().test(0x41));
  EXPECT_TRUE(ram->host_dirty().test(0x42));
  EXPECT_FALSE(ram->host_dirty().test(0x43));
}

TEST_F(VirtqueueTest, ZeroLengthDescriptorsAreSkipped) {
  desc(kDesc, 0, 0xdeadbeef000ULL, 0, kVringDescFNext, 1);  // no bytes: address unused
  desc(kDesc, 1, 0x20000, 8, 0, 0);
  avail(0);
  auto e = vq.pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->out().size(), 1u);
  EXPECT_FALSE(vq.broken());
}

TEST_F(VirtqueueTest, IndirectTable) {
  constexpr uint64_t kTable = 0x50000;
  desc(kTable, 0, 0x20000, 16, kVringDescFNext, 2);
  desc(kTable, 2, 0x20010, 512, kVringDescFWrite | kVringDescFNext, 1);
  desc(kTable, 1, 0x20300, 1, kVringDescFWrite, 0);
  desc(kDesc, 3, kTable, 3 * 16, kVringDescFIndirect, 0);
  avail(3);
  auto e = vq.pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->head(), 3);
  EXPECT_EQ(e->out_bytes(), 16u);
  EXPECT_EQ(e->in_bytes(), 513u);
  EXPECT_EQ(e->in()[1].gpa, 0x20300u);
}

TEST_F(VirtqueueTest, WrapsAround) {
  for (int round = 0; round < 3 * kSize; round++) {
    uint16_t d = static_cast<uint16_t>(round % kSize);
    desc(kDesc, d, 0x20000, 4, kVringDescFWrite, 0);
    avail(d);
    auto e = vq.pop();
    ASSERT_TRUE(e.has_value()) << round;
    EXPECT_EQ(e->head(), d);
    vq.push(*e, 4);
    EXPECT_EQ(get16(kUsed + 2), static_cast<uint16_t>(round + 1));
    EXPECT_EQ(get32(kUsed + 4 + 8 * (round % kSize)), d);
  }
  EXPECT_FALSE(vq.broken());
}

TEST_F(VirtqueueTest, Unpop) {
  desc(kDesc, 0, 0x20000, 4, 0, 0);
  avail(0);
  ASSERT_TRUE(vq.pop().has_value());
  vq.unpop();
  EXPECT_EQ(vq.in_flight(), 0u);
  auto e = vq.pop();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->head(), 0);
}

TEST_F(VirtqueueTest, NotifySuppressionWithoutEventIdx) {
  vq.set_notification(false);
  EXPECT_EQ(get16(kUsed), kVringUsedFNoNotify);
  EXPECT_TRUE(ram->host_dirty().test(kUsed / kPageSize));
  vq.set_notification(true);
  EXPECT_EQ(get16(kUsed), 0);
  desc(kDesc, 0, 0x20000, 4, 0, 0);
  avail(0);
  EXPECT_FALSE(vq.should_notify());  // nothing used yet
  auto e = vq.pop();
  vq.push(*e, 0);
  EXPECT_TRUE(vq.should_notify());
  EXPECT_FALSE(vq.should_notify());  // nothing used since
  // The driver suppresses interrupts: a used chain interrupts nobody...
  put16(kAvail, kVringAvailFNoInterrupt);
  avail(0);
  e = vq.pop();
  ASSERT_TRUE(e.has_value());
  vq.push(*e, 0);
  EXPECT_FALSE(vq.should_notify());
  // ...until it wants them again.
  put16(kAvail, 0);
  avail(0);
  e = vq.pop();
  ASSERT_TRUE(e.has_value());
  vq.push(*e, 0);
  EXPECT_TRUE(vq.should_notify());
}

TEST_F(VirtqueueTest, EventIdx) {
  ASSERT_TRUE(vq.start({kSize, kDesc, kAvail, kUsed}, true, false).ok());
  const uint64_t used_event = kAvail + 4 + 2 * kSize;
  const uint64_t avail_event = kUsed + 4 + 8 * kSize;
  for (uint16_t i = 0; i < 4; i++)
    desc(kDesc, i, 0x20000, 4, 0, 0);
  for (uint16_t i = 0; i < 4; i++)
    avail(i);
  // The driver wants an interrupt when used passes index 2 (used_event = 2).
  put16(used_event, 2);
  EXPECT_FALSE(vq.should_notify());  // nothing used yet
  auto push_one = [&] {
    auto e = vq.pop();
    ASSERT_TRUE(e.has_value());
    vq.push(*e, 0);
  };
  push_one();
  EXPECT_TRUE(vq.should_notify());  // the first is always signalled (no previous value)
  push_one();                       // used 2: crossing 1 -> 2 is not past used_event 2
  EXPECT_FALSE(vq.should_notify());
  push_one();  // used 3: past used_event 2
  EXPECT_TRUE(vq.should_notify());
  push_one();
  EXPECT_FALSE(vq.should_notify());
  // avail_event follows the pops while notifications are on.
  EXPECT_EQ(get16(avail_event), 4);
  vq.set_notification(false);
  desc(kDesc, 4, 0x20000, 4, 0, 0);
  avail(4);
  ASSERT_TRUE(vq.pop().has_value());
  EXPECT_EQ(get16(avail_event), 4);  // not moved while suppressed
  vq.set_notification(true);
  EXPECT_EQ(get16(avail_event), 5);  // the driver's avail index
}

TEST_F(VirtqueueTest, CheckConfig) {
  VirtQueue q(&mem, 1, 256);
  EXPECT_TRUE(q.check_config({256, kDesc, kAvail, kUsed}).ok());
  EXPECT_FALSE(q.check_config({0, kDesc, kAvail, kUsed}).ok());
  EXPECT_FALSE(q.check_config({12, kDesc, kAvail, kUsed}).ok());     // not a power of 2
  EXPECT_FALSE(q.check_config({512, kDesc, kAvail, kUsed}).ok());    // above the maximum
  EXPECT_FALSE(q.check_config({8, kDesc + 8, kAvail, kUsed}).ok());  // descriptor alignment
  EXPECT_FALSE(q.check_config({8, kDesc, kAvail + 1, kUsed}).ok());  // avail alignment
  EXPECT_FALSE(q.check_config({8, kDesc, kAvail, kUsed + 2}).ok());  // used alignment
  EXPECT_FALSE(q.check_config({8, kRam - 64, kAvail, kUsed}).ok());  // table past RAM
  EXPECT_FALSE(q.check_config({8, kDesc, kAvail, kRam - 16}).ok());  // used ring past RAM
  EXPECT_FALSE(q.check_config({8, kDesc, 0xfffffffffffff000ULL, kUsed}).ok());
  EXPECT_FALSE(q.start({12, kDesc, kAvail, kUsed}, false, false).ok());
  EXPECT_FALSE(q.started());
}

// ---- a hostile driver ----------------------------------------------------------------------

TEST_F(VirtqueueTest, HeadBeyondQueueSize) {
  avail(kSize);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("head descriptor"));
  // Broken for good: nothing more is popped, pushes do not touch the ring.
  desc(kDesc, 0, 0x20000, 4, 0, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_EQ(errors.size(), 1u);
}

TEST_F(VirtqueueTest, AvailIndexJumpsTooFar) {
  put16(kAvail + 2, kSize + 1);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("available index"));
}

TEST_F(VirtqueueTest, LoopingChain) {
  desc(kDesc, 0, 0x20000, 4, kVringDescFNext, 1);
  desc(kDesc, 1, 0x20000, 4, kVringDescFNext, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("loops"));
}

TEST_F(VirtqueueTest, SelfLoop) {
  desc(kDesc, 3, 0x20000, 4, kVringDescFNext, 3);
  avail(3);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("loops"));
}

TEST_F(VirtqueueTest, NextBeyondTable) {
  desc(kDesc, 0, 0x20000, 4, kVringDescFNext, 200);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("beyond the table"));
}

TEST_F(VirtqueueTest, BufferOutsideRam) {
  desc(kDesc, 0, kRam - 8, 16, 0, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("outside guest RAM"));
}

TEST_F(VirtqueueTest, BufferAddressWraps) {
  desc(kDesc, 0, 0xfffffffffffffff0ULL, 0x20, kVringDescFWrite, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("outside guest RAM"));
}

TEST_F(VirtqueueTest, HugeLength) {
  desc(kDesc, 0, 0x1000, 0xffffffffu, kVringDescFWrite, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("outside guest RAM"));
}

TEST_F(VirtqueueTest, ReadableAfterWritable) {
  desc(kDesc, 0, 0x20000, 4, kVringDescFWrite | kVringDescFNext, 1);
  desc(kDesc, 1, 0x20010, 4, 0, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("after a device-writable"));
}

TEST_F(VirtqueueTest, IndirectWithoutFeature) {
  ASSERT_TRUE(vq.start({kSize, kDesc, kAvail, kUsed}, false, false).ok());
  desc(kDesc, 0, 0x50000, 16, kVringDescFIndirect, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("VIRTIO_F_RING_INDIRECT_DESC"));
}

TEST_F(VirtqueueTest, NestedIndirect) {
  desc(0x50000, 0, 0x60000, 16, kVringDescFIndirect, 0);
  desc(kDesc, 0, 0x50000, 16, kVringDescFIndirect, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("inside an indirect table"));
}

TEST_F(VirtqueueTest, IndirectBadSizes) {
  for (uint32_t len : {0u, 15u, 17u, 16u * 1025u}) {
    errors.clear();
    ASSERT_TRUE(vq.start({kSize, kDesc, kAvail, kUsed}, false, true).ok());
    avail_idx = 0;
    put16(kAvail + 2, 0);
    desc(kDesc, 0, 0x50000, len, kVringDescFIndirect, 0);
    avail(0);
    EXPECT_FALSE(vq.pop().has_value()) << len;
    EXPECT_TRUE(broken_with("indirect table of")) << len;
  }
}

TEST_F(VirtqueueTest, IndirectTableOutsideRam) {
  desc(kDesc, 0, kRam - 16, 32, kVringDescFIndirect, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("indirect table at"));
}

TEST_F(VirtqueueTest, IndirectChainedToOthers) {
  desc(0x50000, 0, 0x20000, 4, 0, 0);
  desc(kDesc, 0, 0x50000, 16, kVringDescFIndirect | kVringDescFNext, 1);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("chained"));
}

TEST_F(VirtqueueTest, LoopInsideIndirectTable) {
  desc(0x50000, 0, 0x20000, 4, kVringDescFNext, 1);
  desc(0x50000, 1, 0x20000, 4, kVringDescFNext, 0);
  desc(kDesc, 0, 0x50000, 32, kVringDescFIndirect, 0);
  avail(0);
  EXPECT_FALSE(vq.pop().has_value());
  EXPECT_TRUE(broken_with("loops"));
}

TEST_F(VirtqueueTest, StopClearsBrokenState) {
  avail(kSize);
  EXPECT_FALSE(vq.pop().has_value());
  ASSERT_TRUE(vq.broken());
  vq.stop();
  EXPECT_FALSE(vq.broken());
  EXPECT_FALSE(vq.started());
  ASSERT_TRUE(vq.start({kSize, kDesc, kAvail, kUsed}, false, true).ok());
  EXPECT_TRUE(vq.ready());
}

}  // namespace
}  // namespace colo
