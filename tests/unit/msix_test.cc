// SPDX-License-Identifier: GPL-2.0-or-later
//
// MSI-X: capability layout, table and PBA access, per-vector and function masking, pending
// bits, enable, reset and state.
#include <gtest/gtest.h>

#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "virtio_harness.h"

namespace colo {
namespace {

using test::RecordingMsi;

class MsixDev : public PciDevice {
 public:
  MsixDev(MsiSink* sink, uint16_t vectors) : PciDevice("msix-test", 0x1234, 0x5678, 0xff0000, 0) {
    msix = std::make_unique<Msix>(this, sink, vectors, 2, 0x000, 0x800);
  }
  void config_write(uint32_t offset, uint32_t value, int size) override {
    PciDevice::config_write(offset, value, size);
    msix->config_written(offset, size);
  }
  std::unique_ptr<Msix> msix;
};

class MsixTest : public ::testing::Test {
 protected:
  uint32_t rd(uint64_t off, size_t size = 4) {
    uint8_t b[8] = {};
    dev.msix->read(off, {b, size});
    return static_cast<uint32_t>(load_le_n({b, size}));
  }
  void wr(uint64_t off, uint64_t v, size_t size = 4) {
    uint8_t b[8];
    store_le_n({b, size}, v);
    dev.msix->write(off, {b, size});
  }
  uint16_t control() {
    return static_cast<uint16_t>(dev.config_read(dev.msix->cap_offset() + 2, 2));
  }
  void set_control(uint16_t v) { dev.config_write(dev.msix->cap_offset() + 2, v, 2); }
  void route(uint16_t v, uint64_t addr, uint32_t data, bool masked) {
    wr(16 * v, static_cast<uint32_t>(addr));
    wr(16 * v + 4, addr >> 32);
    wr(16 * v + 8, data);
    wr(16 * v + 12, masked ? 1 : 0);
  }

  RecordingMsi sink;
  MsixDev dev{&sink, 3};
};

TEST_F(MsixTest, CapabilityLayout) {
  uint8_t cap = dev.msix->cap_offset();
  EXPECT_EQ(dev.config_read(kPciCapabilityList, 1), cap);
  EXPECT_EQ(dev.config_read(cap, 1), kPciCapIdMsix);
  EXPECT_EQ(control() & kMsixControlTableSizeMask, 2u);  // N - 1
  EXPECT_FALSE(control() & kMsixControlEnable);
  EXPECT_EQ(dev.config_read(cap + 4, 4), 0x000u | 2);  // table offset | BIR
  EXPECT_EQ(dev.config_read(cap + 8, 4), 0x800u | 2);  // PBA offset | BIR
  EXPECT_TRUE(dev.config_read(kPciStatus, 2) & kPciStatusCapList);
  // Only enable and function mask are writable.
  set_control(0xffff);
  EXPECT_EQ(control(), kMsixControlEnable | kMsixControlFunctionMask | 2);
  EXPECT_EQ(dev.config_read(cap + 4, 4), 2u);
}

TEST_F(MsixTest, VectorsComeOutOfResetMasked) {
  for (uint16_t v = 0; v < 3; v++) {
    EXPECT_TRUE(dev.msix->vector_masked(v));
    EXPECT_EQ(rd(16 * v + 12), 1u);
    EXPECT_EQ(rd(16 * v), 0u);
  }
  EXPECT_EQ(rd(0x800), 0u);
}

TEST_F(MsixTest, DisabledMeansIntx) {
  route(0, 0xfee00000, 0x41, false);
  EXPECT_FALSE(dev.msix->notify(0));
  EXPECT_EQ(sink.count(), 0u);
  EXPECT_FALSE(dev.msix->pending(0));
}

TEST_F(MsixTest, DeliversUnmaskedVector) {
  route(1, 0xfee01000, 0x4031, false);
  set_control(kMsixControlEnable);
  EXPECT_TRUE(dev.msix->notify(1));
  EXPECT_EQ(sink.take(), (std::vector<RecordingMsi::Msg>{{0xfee01000, 0x4031}}));
  EXPECT_FALSE(dev.msix->notify(3));  // no such vector
}

TEST_F(MsixTest, MaskedVectorIsPendingUntilUnmasked) {
  route(2, 0xfee00000, 0x22, true);
  set_control(kMsixControlEnable);
  EXPECT_TRUE(dev.msix->notify(2));
  EXPECT_EQ(sink.count(), 0u);
  EXPECT_TRUE(dev.msix->pending(2));
  EXPECT_EQ(rd(0x800), 1u << 2);
  wr(0x800, 0);  // the PBA is read-only
  EXPECT_EQ(rd(0x800), 1u << 2);
  // A second interrupt while masked stays one pending message.
  EXPECT_TRUE(dev.msix->notify(2));
  wr(16 * 2 + 12, 0);  // unmask
  EXPECT_EQ(sink.take(), (std::vector<RecordingMsi::Msg>{{0xfee00000, 0x22}}));
  EXPECT_FALSE(dev.msix->pending(2));
  EXPECT_EQ(rd(0x800), 0u);
}

TEST_F(MsixTest, FunctionMask) {
  route(0, 0xfee00000, 0x30, false);
  route(1, 0xfee00000, 0x31, false);
  set_control(kMsixControlEnable | kMsixControlFunctionMask);
  EXPECT_TRUE(dev.msix->function_masked());
  EXPECT_TRUE(dev.msix->notify(0));
  EXPECT_TRUE(dev.msix->notify(1));
  EXPECT_EQ(sink.count(), 0u);
  EXPECT_EQ(rd(0x800), 3u);
  // Unmasking one vector does not help while the function is masked.
  wr(12, 0);
  EXPECT_EQ(sink.count(), 0u);
  set_control(kMsixControlEnable);
  auto msgs = sink.take();
  EXPECT_EQ(msgs, (std::vector<RecordingMsi::Msg>{{0xfee00000, 0x30}, {0xfee00000, 0x31}}));
  EXPECT_EQ(rd(0x800), 0u);
}

TEST_F(MsixTest, PendingWaitsForEnable) {
  route(0, 0xfee00000, 0x30, true);
  set_control(kMsixControlEnable | kMsixControlFunctionMask);
  EXPECT_TRUE(dev.msix->notify(0));
  set_control(0);  // disabled: nothing sent even though unmasking follows
  wr(12, 0);
  EXPECT_EQ(sink.count(), 0u);
  set_control(kMsixControlEnable);
  EXPECT_EQ(sink.count(), 1u);
}

TEST_F(MsixTest, TableAccessSizes) {
  wr(0, 0x1122334455667788ULL, 8);  // 64-bit write of the address
  EXPECT_EQ(rd(0), 0x55667788u);
  EXPECT_EQ(rd(4), 0x11223344u);
  EXPECT_EQ(rd(2, 2), 0x5566u);
  wr(9, 0xab, 1);
  EXPECT_EQ(rd(8), 0xab00u);
  // Only bit 0 of vector control is writable.
  wr(12, 0xffffffff);
  EXPECT_EQ(rd(12), 1u);
  // Outside the table and PBA: reads zero, writes ignored.
  wr(0x400, 0xffffffff);
  EXPECT_EQ(rd(0x400), 0u);
}

TEST_F(MsixTest, ResetMasksEverything) {
  route(0, 0xfee00000, 0x30, false);
  set_control(kMsixControlEnable | kMsixControlFunctionMask);
  EXPECT_TRUE(dev.msix->notify(0));
  dev.msix->reset();
  EXPECT_TRUE(dev.msix->vector_masked(0));
  EXPECT_FALSE(dev.msix->pending(0));
  EXPECT_EQ(rd(0), 0u);
  dev.reset();  // config space: enable and mask clear
  EXPECT_FALSE(dev.msix->enabled());
}

TEST_F(MsixTest, StateRoundTrip) {
  route(1, 0xfee02000, 0x77, true);
  set_control(kMsixControlEnable);
  EXPECT_TRUE(dev.msix->notify(1));
  MsixState s = dev.msix->save();

  RecordingMsi sink2;
  MsixDev other(&sink2, 3);
  ASSERT_TRUE(other.msix->load(s).ok());
  EXPECT_TRUE(other.msix->pending(1));
  EXPECT_EQ(sink2.count(), 0u);  // loading sends nothing
  other.config_write(other.msix->cap_offset() + 2, kMsixControlEnable, 2);
  uint8_t zero[4] = {};
  other.msix->write(16 + 12, zero);
  EXPECT_EQ(sink2.take(), (std::vector<RecordingMsi::Msg>{{0xfee02000, 0x77}}));
}

TEST_F(MsixTest, LoadRejectsForeignState) {
  MsixState s = dev.msix->save();
  MsixState bad = s;
  bad.table[3 * 4] = 0xfee00000;  // entry 3 of a 3-vector function
  EXPECT_FALSE(dev.msix->load(bad).ok());
  bad = s;
  bad.pba[0] = 1u << 5;
  EXPECT_FALSE(dev.msix->load(bad).ok());
  bad = s;
  bad.table[3] = 0x2;  // reserved vector control bit
  EXPECT_FALSE(dev.msix->load(bad).ok());
  EXPECT_TRUE(dev.msix->load(s).ok());
}

}  // namespace
}  // namespace colo
