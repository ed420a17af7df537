// SPDX-License-Identifier: GPL-2.0-or-later
//
// I/O bus dispatch and conventional PCI: configuration mechanism #1, BARs, INTx.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hw/bus.h"
#include "hw/i386/boot.h"
#include "hw/pci/pci.h"
#include "util/bytes.h"

namespace colo {
namespace {

// Answers reads with base + offset (little-endian) and records every access.
class RecordingDevice : public BusDevice {
 public:
  explicit RecordingDevice(uint64_t base = 0x1000) : base_(base) {}
  struct Access {
    bool write;
    uint64_t offset;
    size_t size;
    uint64_t value;
    bool operator==(const Access&) const = default;
  };
  void read(uint64_t offset, std::span<uint8_t> data) override {
    store_le_n(data, base_ + offset);
    accesses.push_back({false, offset, data.size(), base_ + offset});
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    accesses.push_back({true, offset, data.size(), load_le_n(data)});
  }
  std::vector<Access> accesses;

 private:
  uint64_t base_;
};

uint64_t bus_read(const IoBus& bus, uint64_t addr, size_t size, bool* hit = nullptr) {
  uint8_t buf[8] = {};
  bool h = bus.read(addr, {buf, size});
  if (hit != nullptr)
    *hit = h;
  return load_le_n({buf, size});
}

bool bus_write(const IoBus& bus, uint64_t addr, size_t size, uint64_t value) {
  uint8_t buf[8];
  store_le_n({buf, size}, value);
  return bus.write(addr, {buf, size});
}

// --- IoBus -------------------------------------------------------------------------------------

TEST(IoBusTest, MapAndDispatch) {
  IoBus bus("pio");
  RecordingDevice a(0xa000), b(0xb000);
  ASSERT_TRUE(bus.map(0x100, 8, &a, "a").ok());
  ASSERT_TRUE(bus.map(0x108, 8, &b, "b").ok());
  bool hit = false;
  EXPECT_EQ(bus_read(bus, 0x100, 1, &hit), 0xa000u & 0xff);
  EXPECT_TRUE(hit);
  EXPECT_EQ(bus_read(bus, 0x104, 4), 0xa004u);
  EXPECT_EQ(bus_read(bus, 0x10e, 2), 0xb006u);
  EXPECT_TRUE(bus_write(bus, 0x10a, 2, 0xbeef));
  EXPECT_EQ(a.accesses,
            (std::vector<RecordingDevice::Access>{{false, 0, 1, 0xa000}, {false, 4, 4, 0xa004}}));
  EXPECT_EQ(b.accesses,
            (std::vector<RecordingDevice::Access>{{false, 6, 2, 0xb006}, {true, 2, 2, 0xbeef}}));
  // 8-byte accesses at the very end of a mapping.
  EXPECT_EQ(bus_read(bus, 0x108, 8), 0xb000u);
}

TEST(IoBusTest, UnmappedReadsAllOnes) {
  IoBus bus("mmio");
  RecordingDevice a;
  ASSERT_TRUE(bus.map(0x1000, 0x100, &a, "a").ok());
  bool hit = true;
  EXPECT_EQ(bus_read(bus, 0x2000, 4, &hit), 0xffffffffu);
  EXPECT_FALSE(hit);
  EXPECT_EQ(bus_read(bus, 0x0, 1, &hit), 0xffu);
  EXPECT_FALSE(hit);
  EXPECT_EQ(bus_read(bus, 0xfff, 1, &hit), 0xffu);
  EXPECT_FALSE(hit);
  EXPECT_EQ(bus_read(bus, 0x1100, 8, &hit), ~0ULL);
  EXPECT_FALSE(hit);
  EXPECT_FALSE(bus_write(bus, 0x1100, 4, 1));
  EXPECT_FALSE(bus_write(bus, 0, 1, 1));
  EXPECT_TRUE(a.accesses.empty());
  IoBus empty("empty");
  EXPECT_EQ(bus_read(empty, 0x1234, 2, &hit), 0xffffu);
  EXPECT_FALSE(hit);
}

TEST(IoBusTest, AccessStraddlingTheEndIsUnmapped) {
  IoBus bus("pio");
  RecordingDevice a, b;
  ASSERT_TRUE(bus.map(0x100, 8, &a, "a").ok());
  ASSERT_TRUE(bus.map(0x108, 8, &b, "b").ok());
  bool hit = true;
  // 0x107-0x108 spans two devices: neither gets it.
  EXPECT_EQ(bus_read(bus, 0x107, 2, &hit), 0xffffu);
  EXPECT_FALSE(hit);
  EXPECT_EQ(bus_read(bus, 0x105, 4, &hit), 0xffffffffu);
  EXPECT_FALSE(hit);
  // Past the end of the last mapping.
  EXPECT_EQ(bus_read(bus, 0x10f, 2, &hit), 0xffffu);
  EXPECT_FALSE(hit);
  EXPECT_FALSE(bus_write(bus, 0x10c, 8, 0));
  EXPECT_TRUE(a.accesses.empty());
  EXPECT_TRUE(b.accesses.empty());
  // The last byte is still inside.
  EXPECT_EQ(bus_read(bus, 0x10f, 1, &hit), 0x07u);
  EXPECT_TRUE(hit);
}

TEST(IoBusTest, OverlapIsAnError) {
  IoBus bus("pio");
  RecordingDevice a, b, c;
  ASSERT_TRUE(bus.map(0x100, 8, &a, "a").ok());
  ASSERT_TRUE(bus.map(0x108, 8, &b, "b").ok());
  Status st = bus.map(0x104, 8, &c, "c");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "pio: 'c' at 0x104+0x8 overlaps 'a' at 0x100+0x8");
  st = bus.map(0xff, 2, &c, "c");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "pio: 'c' at 0xff+0x2 overlaps 'a' at 0x100+0x8");
  st = bus.map(0x10f, 1, &c, "c");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "pio: 'c' at 0x10f+0x1 overlaps 'b' at 0x108+0x8");
  st = bus.map(0x0, 0x1000, &c, "big");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "pio: 'big' at 0x0+0x1000 overlaps 'a' at 0x100+0x8");
  // The failed maps changed nothing.
  EXPECT_EQ(bus.mappings().size(), 2u);
  EXPECT_EQ(bus_read(bus, 0x104, 1), 0x04u);
  // Adjacent on both sides is fine.
  EXPECT_TRUE(bus.map(0xf8, 8, &c, "c").ok());
  EXPECT_TRUE(bus.map(0x110, 1, &c, "c2").ok());
}

TEST(IoBusTest, EmptyAndWrappingMappings) {
  IoBus bus("mmio");
  RecordingDevice a;
  Status st = bus.map(0x100, 0, &a, "z");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "mmio: empty mapping for 'z'");
  st = bus.map(~0ULL - 1, 4, &a, "w");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "mmio: mapping of 'w' wraps around");
  EXPECT_TRUE(bus.mappings().empty());
  // The top of the address space short of the last byte is fine.
  ASSERT_TRUE(bus.map(~0ULL - 0x10, 0x10, &a, "top").ok());
  EXPECT_EQ(bus_read(bus, ~0ULL - 0x10 + 8, 8), 0x1008u);
  bool hit = true;
  bus_read(bus, ~0ULL - 4, 8, &hit);
  EXPECT_FALSE(hit);
}

TEST(IoBusTest, UnmapAndMappings) {
  IoBus bus("pio");
  RecordingDevice a, b;
  ASSERT_TRUE(bus.map(0x300, 4, &a, "a1").ok());
  ASSERT_TRUE(bus.map(0x100, 4, &a, "a0").ok());
  ASSERT_TRUE(bus.map(0x200, 4, &b, "b").ok());
  auto m = bus.mappings();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].base, 0x100u);
  EXPECT_EQ(m[0].label, "a0");
  EXPECT_EQ(m[1].base, 0x200u);
  EXPECT_EQ(m[1].device, &b);
  EXPECT_EQ(m[2].base, 0x300u);
  EXPECT_EQ(m[2].size, 4u);
  EXPECT_EQ(bus.name(), "pio");
  // Wrong device or wrong base: nothing happens.
  bus.unmap(0x100, &b);
  bus.unmap(0x104, &a);
  EXPECT_EQ(bus.mappings().size(), 3u);
  bus.unmap(0x100, &a);
  bool hit = true;
  bus_read(bus, 0x100, 1, &hit);
  EXPECT_FALSE(hit);
  EXPECT_EQ(bus.mappings().size(), 2u);
  // The range is free again.
  EXPECT_TRUE(bus.map(0x100, 4, &b, "b2").ok());
  bus.unmap_all(&b);
  m = bus.mappings();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].label, "a1");
  bus.unmap_all(&a);
  EXPECT_TRUE(bus.mappings().empty());
}

// --- PCI ---------------------------------------------------------------------------------------

class RecordingIrq : public IrqLine {
 public:
  void set_level(bool level) override {
    levels.push_back(level);
    this->level = level;
  }
  std::vector<bool> levels;
  bool level = false;
};

class TestPciDevice : public PciDevice {
 public:
  explicit TestPciDevice(std::string name, uint16_t device_id = 0x1000)
      : PciDevice(std::move(name), 0x1af4, device_id, 0x020000, 0x01) {}
  int changes = 0;

 protected:
  void config_changed() override { changes++; }
};

class PciTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pio_.map(0xcf8, 8, &conf_, "pci-conf1").ok());
    ASSERT_TRUE(bus_.add_device(&host_, 0).ok());
  }

  void set_address(int devfn, uint32_t reg, uint8_t bus = 0) {
    ASSERT_TRUE(
        bus_write(pio_, 0xcf8, 4,
                  0x80000000u | (uint32_t{bus} << 16) | (uint32_t(devfn) << 8) | (reg & 0xfc)));
  }
  // Configuration space through the ports, as a guest does it.
  uint32_t cfg_read(int devfn, uint32_t reg, size_t size) {
    set_address(devfn, reg);
    return static_cast<uint32_t>(bus_read(pio_, 0xcfc + (reg & 3), size));
  }
  void cfg_write(int devfn, uint32_t reg, size_t size, uint32_t value) {
    set_address(devfn, reg);
    ASSERT_TRUE(bus_write(pio_, 0xcfc + (reg & 3), size, value));
  }
  std::vector<IoBus::Mapping> mmio_maps() const { return mmio_.mappings(); }
  std::vector<IoBus::Mapping> pio_maps() const {
    auto m = pio_.mappings();
    std::erase_if(m, [&](const IoBus::Mapping& x) { return x.device == &conf_; });
    return m;
  }

  IoBus pio_{"pio"};
  IoBus mmio_{"mmio"};
  RecordingIrq lines_[24];
  std::vector<uint32_t> gsi_lookups_;
  PciBus bus_{&pio_, &mmio_, [this](uint32_t gsi) -> IrqLine* {
                gsi_lookups_.push_back(gsi);
                return gsi < 24 ? &lines_[gsi] : nullptr;
              }};
  RecordingDevice cf9_{0x00};
  PciHostConf1 conf_{&bus_, &cf9_};
  PciHostBridge host_;
  RecordingDevice bar_dev_[6];
};

TEST_F(PciTest, Conf1AddressLatch) {
  EXPECT_EQ(bus_read(pio_, 0xcf8, 4), 0u);
  ASSERT_TRUE(bus_write(pio_, 0xcf8, 4, 0x80001234));
  EXPECT_EQ(bus_read(pio_, 0xcf8, 4), 0x80001234u);
  ASSERT_TRUE(bus_write(pio_, 0xcf8, 4, 0xffffffff));
  EXPECT_EQ(bus_read(pio_, 0xcf8, 4), 0x80fffffcu) << "reserved bits and bits 1:0 read as 0";
  // Only dword accesses reach the latch.
  ASSERT_TRUE(bus_write(pio_, 0xcf8, 2, 0));
  ASSERT_TRUE(bus_write(pio_, 0xcfa, 2, 0));
  EXPECT_EQ(bus_read(pio_, 0xcf8, 4), 0x80fffffcu);
  EXPECT_EQ(bus_read(pio_, 0xcf8, 2), 0xffffu);
  EXPECT_EQ(bus_read(pio_, 0xcfa, 1), 0xffu);
  conf_.reset();
  EXPECT_EQ(bus_read(pio_, 0xcf8, 4), 0u);
}

TEST_F(PciTest, HostBridgeIdentity) {
  EXPECT_EQ(cfg_read(0, 0x00, 4), 0x12378086u);
  EXPECT_EQ(cfg_read(0, 0x00, 2), 0x8086u);
  EXPECT_EQ(cfg_read(0, 0x02, 2), 0x1237u);
  EXPECT_EQ(cfg_read(0, 0x00, 1), 0x86u);
  EXPECT_EQ(cfg_read(0, 0x01, 1), 0x80u);
  EXPECT_EQ(cfg_read(0, 0x03, 1), 0x12u);
  EXPECT_EQ(cfg_read(0, 0x08, 4), 0x06000002u);  // class 06:00:00, revision 2
  EXPECT_EQ(cfg_read(0, 0x0e, 1), 0x00u);        // header type 0
  EXPECT_EQ(cfg_read(0, 0x2c, 4), 0x11001af4u);  // subsystem
  EXPECT_EQ(cfg_read(0, 0x34, 1), 0x00u);        // no capabilities
  EXPECT_EQ(cfg_read(0, 0x3d, 1), 0x00u);        // no interrupt pin
}

TEST_F(PciTest, DisabledLatchAndAbsentDevices) {
  ASSERT_TRUE(bus_write(pio_, 0xcf8, 4, 0x00000000));  // enable bit clear
  EXPECT_EQ(bus_read(pio_, 0xcfc, 4), 0xffffffffu);
  ASSERT_TRUE(bus_write(pio_, 0xcfc, 4, 0x12345678));  // goes nowhere
  EXPECT_EQ(cfg_read(0, 0, 4), 0x12378086u);
  EXPECT_EQ(cfg_read(3 << 3, 0x00, 4), 0xffffffffu);
  EXPECT_EQ(cfg_read(3 << 3, 0x02, 2), 0xffffu);
  EXPECT_EQ(cfg_read(3 << 3, 0x0e, 1), 0xffu);
  EXPECT_EQ(cfg_read(1, 0x00, 4), 0xffffffffu);  // 00:00.1
  set_address(0, 0, 1);                          // bus 1
  EXPECT_EQ(bus_read(pio_, 0xcfc, 4), 0xffffffffu);
  cfg_write(3 << 3, 0x04, 2, 0xffff);  // ignored
  EXPECT_EQ(cfg_read(3 << 3, 0x04, 2), 0xffffu);
}

TEST_F(PciTest, ReadOnlyAndWritableFields) {
  TestPciDevice dev("test");
  ASSERT_TRUE(bus_.add_device(&dev, 3).ok());
  const int devfn = 3 << 3;
  EXPECT_EQ(cfg_read(devfn, 0, 4), 0x10001af4u);
  cfg_write(devfn, 0x00, 4, 0xdeadbeef);
  EXPECT_EQ(cfg_read(devfn, 0, 4), 0x10001af4u);
  cfg_write(devfn, 0x04, 2, 0xffff);
  EXPECT_EQ(cfg_read(devfn, 0x04, 2), 0x0407u) << "I/O, memory, bus master, INTx disable";
  cfg_write(devfn, 0x3c, 1, 0x0b);
  EXPECT_EQ(cfg_read(devfn, 0x3c, 1), 0x0bu);
  cfg_write(devfn, 0x3d, 1, 0x04);  // interrupt pin is read-only
  EXPECT_EQ(cfg_read(devfn, 0x3d, 1), 0x00u);
  EXPECT_EQ(cfg_read(devfn, 0x08, 4), 0x02000001u);
  // set_wmask makes more bytes writable.
  dev.set_wmask(0x44, 0x0000ff00, 4);
  cfg_write(devfn, 0x44, 4, 0xffffffff);
  EXPECT_EQ(cfg_read(devfn, 0x44, 4), 0x0000ff00u);
}

TEST_F(PciTest, BarSizing) {
  TestPciDevice dev("test");
  dev.register_bar(0, 0x1000, PciBarType::kMem32, false, &bar_dev_[0]);
  dev.register_bar(1, 0x4000, PciBarType::kMem32, true, &bar_dev_[1]);
  dev.register_bar(2, 0x20, PciBarType::kIo, false, &bar_dev_[2]);
  dev.register_bar(3, 0x1800, PciBarType::kMem32, false, &bar_dev_[3]);  // rounded up
  dev.register_bar(4, 3, PciBarType::kIo, false, &bar_dev_[4]);          // at least 4
  dev.register_bar(5, 1, PciBarType::kMem32, false, &bar_dev_[5]);       // at least 16
  ASSERT_TRUE(bus_.add_device(&dev, 3).ok());
  const int devfn = 3 << 3;
  EXPECT_EQ(dev.bar_size(3), 0x2000u);
  EXPECT_EQ(dev.bar_size(4), 4u);
  EXPECT_EQ(dev.bar_size(5), 16u);
  // Before sizing: type bits only.
  EXPECT_EQ(cfg_read(devfn, 0x10, 4), 0x00000000u);
  EXPECT_EQ(cfg_read(devfn, 0x14, 4), 0x00000008u);
  EXPECT_EQ(cfg_read(devfn, 0x18, 4), 0x00000001u);
  const uint32_t want[6] = {0xfffff000, 0xffffc008, 0xffffffe1, 0xffffe000, 0xfffffffd, 0xfffffff0};
  for (int i = 0; i < 6; i++) {
    cfg_write(devfn, 0x10 + 4 * i, 4, 0xffffffff);
    EXPECT_EQ(cfg_read(devfn, 0x10 + 4 * i, 4), want[i]) << "BAR" << i;
  }
  // Writing an address keeps the type bits.
  cfg_write(devfn, 0x10, 4, 0xe0000000);
  EXPECT_EQ(cfg_read(devfn, 0x10, 4), 0xe0000000u);
  cfg_write(devfn, 0x14, 4, 0xe0004fff);  // low bits below the size are dropped
  EXPECT_EQ(cfg_read(devfn, 0x14, 4), 0xe0004008u);
  EXPECT_EQ(dev.bar_address(1), 0xe0004000u);
  cfg_write(devfn, 0x18, 4, 0xc000);
  EXPECT_EQ(cfg_read(devfn, 0x18, 4), 0xc001u);
  EXPECT_EQ(dev.bar_address(2), 0xc000u);
  // Nothing was mapped: decoding is off.
  EXPECT_TRUE(mmio_maps().empty());
  EXPECT_TRUE(pio_maps().empty());
}

TEST_F(PciTest, Bar64Sizing) {
  TestPciDevice dev("test");
  dev.register_bar(0, 0x4000, PciBarType::kMem64, true, &bar_dev_[0]);
  dev.register_bar(2, 8ULL << 30, PciBarType::kMem64, false, &bar_dev_[2]);
  ASSERT_TRUE(bus_.add_device(&dev, 3).ok());
  const int devfn = 3 << 3;
  EXPECT_EQ(cfg_read(devfn, 0x10, 4), 0x0000000cu);  // 64-bit, prefetchable
  EXPECT_EQ(cfg_read(devfn, 0x14, 4), 0u);
  EXPECT_EQ(cfg_read(devfn, 0x18, 4), 0x00000004u);
  for (uint32_t reg = 0x10; reg < 0x20; reg += 4)
    cfg_write(devfn, reg, 4, 0xffffffff);
  EXPECT_EQ(cfg_read(devfn, 0x10, 4), 0xffffc00cu);
  EXPECT_EQ(cfg_read(devfn, 0x14, 4), 0xffffffffu);
  EXPECT_EQ(cfg_read(devfn, 0x18, 4), 0x00000004u);  // 8 GiB: nothing writable below 4 GiB
  EXPECT_EQ(cfg_read(devfn, 0x1c, 4), 0xfffffffeu);
  cfg_write(devfn, 0x10, 4, 0xe0000000);
  cfg_write(devfn, 0x14, 4, 0x1);
  EXPECT_EQ(dev.bar_address(0), 0x1e0000000u);
  EXPECT_EQ(dev.bar_size(0), 0x4000u);
  EXPECT_EQ(dev.bar_size(2), 8ULL << 30);
}

TEST_F(PciTest, MemoryBarMappedOnlyWhileDecoding) {
  TestPciDevice dev("nic");
  dev.register_bar(0, 0x1000, PciBarType::kMem32, false, &bar_dev_[0]);
  ASSERT_TRUE(bus_.add_device(&dev, 3).ok());
  const int devfn = 3 << 3;
  cfg_write(devfn, 0x10, 4, 0xe0000000);
  EXPECT_TRUE(mmio_maps().empty()) << "Command.MEM is off";
  bool hit = true;
  bus_read(mmio_, 0xe0000000, 4, &hit);
  EXPECT_FALSE(hit);

  cfg_write(devfn, 0x04, 2, kPciCommandIo);  // I/O decoding does not map memory BARs
  EXPECT_TRUE(mmio_maps().empty());
  cfg_write(devfn, 0x04, 2, kPciCommandMemory);
  auto m = mmio_maps();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].base, 0xe0000000u);
  EXPECT_EQ(m[0].size, 0x1000u);
  EXPECT_EQ(m[0].device, &bar_dev_[0]);
  EXPECT_EQ(m[0].label, "nic BAR0");
  EXPECT_EQ(bus_read(mmio_, 0xe0000010, 4, &hit), 0x1010u);
  EXPECT_TRUE(hit);
  EXPECT_TRUE(pio_maps().empty());

  // Moving the BAR moves the mapping.
  cfg_write(devfn, 0x10, 4, 0xe0010000);
  m = mmio_maps();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].base, 0xe0010000u);
  bus_read(mmio_, 0xe0000000, 4, &hit);
  EXPECT_FALSE(hit);
  EXPECT_EQ(bus_read(mmio_, 0xe0010ffc, 4), 0x1ffcu);

  // Sizing with decoding on: the all-ones pattern is not an address.
  cfg_write(devfn, 0x10, 4, 0xffffffff);
  EXPECT_TRUE(mmio_maps().empty());
  cfg_write(devfn, 0x10, 4, 0xe0010000);
  EXPECT_EQ(mmio_maps().size(), 1u);
  // The highest 32-bit address a BAR can be given and still be mapped.
  cfg_write(devfn, 0x10, 4, 0xffffe000);
  ASSERT_EQ(mmio_maps().size(), 1u);
  EXPECT_EQ(mmio_maps()[0].base, 0xffffe000u);

  // Address 0 means unassigned.
  cfg_write(devfn, 0x10, 4, 0);
  EXPECT_TRUE(mmio_maps().empty());
  cfg_write(devfn, 0x10, 4, 0xe0010000);
  EXPECT_EQ(mmio_maps().size(), 1u);

  // Decoding off unmaps.
  cfg_write(devfn, 0x04, 2, 0);
  EXPECT_TRUE(mmio_maps().empty());
  bus_read(mmio_, 0xe0010000, 4, &hit);
  EXPECT_FALSE(hit);
  EXPECT_GT(dev.changes, 0);
}

TEST_F(PciTest, MemoryBarNotMappedOverAnotherDevice) {
  TestPciDevice a("a"), b("b", 0x1001);
  a.register_bar(0, 0x1000, PciBarType::kMem32, false, &bar_dev_[0]);
  b.register_bar(0, 0x1000, PciBarType::kMem32, false, &bar_dev_[1]);
  ASSERT_TRUE(bus_.add_device(&a, 3).ok());
  ASSERT_TRUE(bus_.add_device(&b, 4).ok());
  for (int slot : {3, 4}) {
    cfg_write(slot << 3, 0x10, 4, 0xe0000000);
    cfg_write(slot << 3, 0x04, 2, kPciCommandMemory);
  }
  auto m = mmio_maps();
  ASSERT_EQ(m.size(), 1u) << "the second BAR would overlap the first";
  EXPECT_EQ(m[0].device, &bar_dev_[0]);
  // Once b moves away it is mapped.
  cfg_write(4 << 3, 0x10, 4, 0xe0001000);
  EXPECT_EQ(mmio_maps().size(), 2u);
}

TEST_F(PciTest, IoBarOnThePioBus) {
  TestPciDevice dev("ide");
  dev.register_bar(1, 0x20, PciBarType::kIo, false, &bar_dev_[1]);
  ASSERT_TRUE(bus_.add_device(&dev, 5).ok());
  const int devfn = 5 << 3;
  cfg_write(devfn, 0x14, 4, 0xc040);
  cfg_write(devfn, 0x04, 2, kPciCommandMemory);
  EXPECT_TRUE(pio_maps().empty()) << "Command.IO is off";
  cfg_write(devfn, 0x04, 2, kPciCommandIo);
  auto m = pio_maps();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].base, 0xc040u);
  EXPECT_EQ(m[0].size, 0x20u);
  EXPECT_EQ(m[0].label, "ide BAR1");
  EXPECT_TRUE(mmio_maps().empty());
  EXPECT_EQ(bus_read(pio_, 0xc050, 1), 0x10u);
  // Beyond the 64 KiB port space: not mapped.
  cfg_write(devfn, 0x14, 4, 0x10000);
  EXPECT_TRUE(pio_maps().empty());
  cfg_write(devfn, 0x14, 4, 0xffe0);
  ASSERT_EQ(pio_maps().size(), 1u);
  EXPECT_EQ(pio_maps()[0].base, 0xffe0u);
}

TEST_F(PciTest, Bar64MappedAbove4G) {
  TestPciDevice dev("gpu");
  dev.register_bar(2, 0x100000, PciBarType::kMem64, true, &bar_dev_[2]);
  ASSERT_TRUE(bus_.add_device(&dev, 6).ok());
  const int devfn = 6 << 3;
  cfg_write(devfn, 0x18, 4, 0x00000000);
  cfg_write(devfn, 0x1c, 4, 0x00000080);
  cfg_write(devfn, 0x04, 2, kPciCommandMemory);
  auto m = mmio_maps();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].base, 0x8000000000u);
  EXPECT_EQ(m[0].size, 0x100000u);
  EXPECT_EQ(m[0].label, "gpu BAR2");
}

TEST_F(PciTest, AssignResources) {
  TestPciDevice a("a"), b("b", 0x1001);
  a.register_bar(0, 0x1000, PciBarType::kMem32, false, &bar_dev_[0]);
  a.register_bar(1, 0x20, PciBarType::kIo, false, &bar_dev_[1]);
  a.register_bar(2, 0x4000, PciBarType::kMem64, true, &bar_dev_[2]);
  a.set_interrupt_pin(1);
  b.register_bar(0, 0x100000, PciBarType::kMem32, false, &bar_dev_[3]);
  b.register_bar(1, 0x100, PciBarType::kIo, false, &bar_dev_[4]);
  b.set_interrupt_pin(2);
  ASSERT_TRUE(bus_.add_device(&a, 1).ok());
  ASSERT_TRUE(bus_.add_device(&b, 2).ok());
  Status st = bus_.assign_resources(0xe0000000, 0xfec00000, 0x8000000000, 0xc000, 0xffff);
  ASSERT_TRUE(st.ok()) << st.error().message();

  // Largest first, each naturally aligned.
  EXPECT_EQ(b.bar_address(0), 0xe0000000u);
  EXPECT_EQ(a.bar_address(2), 0xe0100000u);
  EXPECT_EQ(a.bar_address(0), 0xe0104000u);
  EXPECT_EQ(b.bar_address(1), 0xc000u);
  EXPECT_EQ(a.bar_address(1), 0xc100u);
  struct Bar {
    PciDevice* dev;
    int index;
    bool io;
  };
  std::vector<Bar> bars = {
      {&a, 0, false}, {&a, 1, true}, {&a, 2, false}, {&b, 0, false}, {&b, 1, true}};
  for (const Bar& x : bars) {
    uint64_t addr = x.dev->bar_address(x.index), size = x.dev->bar_size(x.index);
    EXPECT_EQ(addr % size, 0u) << x.dev->name() << " BAR" << x.index;
    if (x.io) {
      EXPECT_GE(addr, 0xc000u);
      EXPECT_LE(addr + size, 0xffffu);
    } else {
      EXPECT_GE(addr, 0xe0000000u);
      EXPECT_LE(addr + size, 0xfec00000u);
    }
    for (const Bar& y : bars) {
      if (&x == &y || x.io != y.io)
        continue;
      uint64_t a2 = y.dev->bar_address(y.index), s2 = y.dev->bar_size(y.index);
      EXPECT_TRUE(addr + size <= a2 || a2 + s2 <= addr)
          << x.dev->name() << " BAR" << x.index << " overlaps " << y.dev->name() << " BAR"
          << y.index;
    }
  }
  // Decoding is on and everything is mapped.
  EXPECT_EQ(mmio_maps().size(), 3u);
  EXPECT_EQ(pio_maps().size(), 2u);
  EXPECT_EQ(cfg_read(1 << 3, 0x04, 2), 0x0007u);
  EXPECT_EQ(cfg_read(2 << 3, 0x04, 2), 0x0007u);
  // Interrupt lines as the MP table routes them.
  EXPECT_EQ(cfg_read(1 << 3, 0x3c, 1), pci_intx_gsi(1, 0));
  EXPECT_EQ(cfg_read(2 << 3, 0x3c, 1), pci_intx_gsi(2, 1));
  EXPECT_EQ(cfg_read(0, 0x3c, 1), 0u) << "no pin, no line";

  // A device reset returns to what the firmware programmed.
  cfg_write(1 << 3, 0x10, 4, 0xd0000000);
  cfg_write(1 << 3, 0x04, 2, 0);
  EXPECT_EQ(mmio_maps().size(), 1u);
  a.reset();
  EXPECT_EQ(a.bar_address(0), 0xe0104000u);
  EXPECT_EQ(cfg_read(1 << 3, 0x04, 2), 0x0007u);
  EXPECT_EQ(mmio_maps().size(), 3u);
}

TEST_F(PciTest, AssignResourcesPuts64BitBarsHighWhenFull) {
  TestPciDevice a("a");
  a.register_bar(0, 0x200000, PciBarType::kMem64, false, &bar_dev_[0]);
  a.register_bar(2, 0x1000, PciBarType::kMem32, false, &bar_dev_[2]);
  ASSERT_TRUE(bus_.add_device(&a, 1).ok());
  Status st = bus_.assign_resources(0xe0000000, 0xe0100000, 0x8000000000, 0xc000, 0xffff);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(a.bar_address(0), 0x8000000000u);
  EXPECT_EQ(a.bar_address(2), 0xe0000000u);
}

TEST_F(PciTest, AssignResourcesOutOfSpace) {
  TestPciDevice a("a");
  a.register_bar(0, 0x200000, PciBarType::kMem32, false, &bar_dev_[0]);
  ASSERT_TRUE(bus_.add_device(&a, 1).ok());
  Status st = bus_.assign_resources(0xe0000000, 0xe0100000, 0x8000000000, 0xc000, 0xffff);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "PCI: out of 32-bit MMIO space for a");

  TestPciDevice b("b");
  b.register_bar(0, 0x100, PciBarType::kIo, false, &bar_dev_[1]);
  ASSERT_TRUE(bus_.add_device(&b, 2).ok());
  st = bus_.assign_resources(0xe0000000, 0xf0000000, 0x8000000000, 0xc000, 0xc0ff);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "PCI: out of I/O space for b");
}

TEST_F(PciTest, CapabilityListChaining) {
  TestPciDevice dev("caps");
  EXPECT_EQ(dev.add_capability(0x05, 0x0e), 0x40);  // MSI
  EXPECT_EQ(dev.add_capability(0x11, 12), 0x50);    // MSI-X, dword aligned after MSI
  EXPECT_EQ(dev.add_capability(0x09, 8), 0x5c);     // vendor specific
  ASSERT_TRUE(bus_.add_device(&dev, 7).ok());
  const int devfn = 7 << 3;
  EXPECT_EQ(cfg_read(devfn, 0x06, 2) & kPciStatusCapList, kPciStatusCapList);
  // Walk the list as a guest does.
  std::vector<std::pair<uint8_t, uint8_t>> caps;
  uint8_t ptr = static_cast<uint8_t>(cfg_read(devfn, 0x34, 1));
  for (int guard = 0; ptr != 0 && guard < 48; guard++) {
    uint16_t hdr = static_cast<uint16_t>(cfg_read(devfn, ptr, 2));
    caps.push_back({ptr, static_cast<uint8_t>(hdr & 0xff)});
    ptr = static_cast<uint8_t>(hdr >> 8);
  }
  EXPECT_EQ(caps,
            (std::vector<std::pair<uint8_t, uint8_t>>{{0x5c, 0x09}, {0x50, 0x11}, {0x40, 0x05}}));
  // The list itself is read-only.
  cfg_write(devfn, 0x34, 1, 0x80);
  cfg_write(devfn, 0x5c, 2, 0x0000);
  EXPECT_EQ(cfg_read(devfn, 0x34, 1), 0x5cu);
  EXPECT_EQ(cfg_read(devfn, 0x5c, 2), 0x5009u);
  // The capability body is the device's: config_bytes() and set_wmask().
  dev.config_bytes()[0x42] = 0x80;
  dev.set_wmask(0x42, 0x0001, 2);
  cfg_write(devfn, 0x42, 2, 0xffff);
  EXPECT_EQ(cfg_read(devfn, 0x42, 2), 0x0081u);
}

TEST_F(PciTest, IntxSharedLineIsOred) {
  TestPciDevice a("a"), c("c", 0x1001);
  a.set_interrupt_pin(1);  // slot 1 INTA
  c.set_interrupt_pin(2);  // slot 4 INTB: the same GSI
  ASSERT_TRUE(bus_.add_device(&a, 1).ok());
  ASSERT_TRUE(bus_.add_device(&c, 4).ok());
  const uint32_t gsi = pci_intx_gsi(1, 0);
  ASSERT_EQ(gsi, pci_intx_gsi(4, 1));
  RecordingIrq& line = lines_[gsi];
  a.set_irq(true);
  EXPECT_EQ(line.levels, std::vector<bool>{true});
  c.set_irq(true);
  a.set_irq(true);  // already up: counted once
  EXPECT_EQ(line.levels, std::vector<bool>{true});
  a.set_irq(false);
  EXPECT_TRUE(line.level) << "c still asserts it";
  EXPECT_EQ(line.levels, std::vector<bool>{true});
  c.set_irq(false);
  EXPECT_EQ(line.levels, (std::vector<bool>{true, false}));
  c.set_irq(false);  // already down
  EXPECT_EQ(line.levels, (std::vector<bool>{true, false}));
  // Other lines never moved.
  for (int g = 0; g < 24; g++) {
    if (static_cast<uint32_t>(g) != gsi) {
      EXPECT_TRUE(lines_[g].levels.empty()) << g;
    }
  }
  // Status.Interrupt follows the device's own request.
  a.set_irq(true);
  EXPECT_EQ(cfg_read(1 << 3, 0x06, 2) & kPciStatusInterrupt, kPciStatusInterrupt);
  EXPECT_EQ(cfg_read(4 << 3, 0x06, 2) & kPciStatusInterrupt, 0u);
  a.set_irq(false);
  EXPECT_EQ(cfg_read(1 << 3, 0x06, 2) & kPciStatusInterrupt, 0u);
}

TEST_F(PciTest, IntxDisableMasksTheLine) {
  TestPciDevice a("a");
  a.set_interrupt_pin(1);
  ASSERT_TRUE(bus_.add_device(&a, 2).ok());
  RecordingIrq& line = lines_[pci_intx_gsi(2, 0)];
  a.set_irq(true);
  EXPECT_TRUE(line.level);
  cfg_write(2 << 3, 0x04, 2, kPciCommandIntxDisable);
  EXPECT_FALSE(line.level);
  EXPECT_EQ(cfg_read(2 << 3, 0x06, 2) & kPciStatusInterrupt, kPciStatusInterrupt)
      << "the status still shows the request";
  cfg_write(2 << 3, 0x04, 2, 0);
  EXPECT_TRUE(line.level);
  cfg_write(2 << 3, 0x04, 2, kPciCommandIntxDisable);
  a.set_irq(false);
  a.set_irq(true);
  EXPECT_FALSE(line.level);
  a.set_irq(false);
  cfg_write(2 << 3, 0x04, 2, 0);
  EXPECT_FALSE(line.level);
  EXPECT_EQ(line.levels, (std::vector<bool>{true, false, true, false}));
}

TEST_F(PciTest, NoPinNoLine) {
  TestPciDevice a("a");
  ASSERT_TRUE(bus_.add_device(&a, 1).ok());
  a.set_irq(true);
  a.set_irq(false);
  for (const auto& l : lines_)
    EXPECT_TRUE(l.levels.empty());
  EXPECT_TRUE(gsi_lookups_.empty());
}

TEST_F(PciTest, ResetLowersTheLineAndUnmaps) {
  TestPciDevice a("a");
  a.register_bar(0, 0x1000, PciBarType::kMem32, false, &bar_dev_[0]);
  a.set_interrupt_pin(1);
  ASSERT_TRUE(bus_.add_device(&a, 1).ok());
  cfg_write(1 << 3, 0x10, 4, 0xe0000000);
  cfg_write(1 << 3, 0x04, 2, kPciCommandMemory);
  a.set_irq(true);
  ASSERT_EQ(mmio_maps().size(), 1u);
  a.reset();
  EXPECT_TRUE(mmio_maps().empty());
  EXPECT_EQ(cfg_read(1 << 3, 0x10, 4), 0u);
  EXPECT_EQ(cfg_read(1 << 3, 0x04, 2), 0u);
  EXPECT_FALSE(lines_[pci_intx_gsi(1, 0)].level);
}

TEST_F(PciTest, DestroyedDeviceUnmapsItsBars) {
  {
    TestPciDevice a("a");
    a.register_bar(0, 0x1000, PciBarType::kMem32, false, &bar_dev_[0]);
    ASSERT_TRUE(bus_.add_device(&a, 1).ok());
    cfg_write(1 << 3, 0x10, 4, 0xe0000000);
    cfg_write(1 << 3, 0x04, 2, kPciCommandMemory);
    ASSERT_EQ(mmio_maps().size(), 1u);
  }
  EXPECT_TRUE(mmio_maps().empty());
}

TEST_F(PciTest, ResetControlAt0xcf9) {
  uint8_t v = 0x06;
  ASSERT_TRUE(pio_.write(0xcf9, {&v, 1}));
  ASSERT_EQ(cf9_.accesses.size(), 1u);
  EXPECT_EQ(cf9_.accesses[0], (RecordingDevice::Access{true, 0, 1, 0x06}));
  EXPECT_EQ(bus_read(pio_, 0xcf9, 1), 0x00u);
  ASSERT_EQ(cf9_.accesses.size(), 2u);
  EXPECT_FALSE(cf9_.accesses[1].write);
  // Only byte accesses: a dword at 0xcf8 is the address latch, not the reset register.
  ASSERT_TRUE(bus_write(pio_, 0xcf8, 4, 0x80000000));
  EXPECT_EQ(cf9_.accesses.size(), 2u);
  EXPECT_EQ(bus_read(pio_, 0xcf8, 4), 0x80000000u);
}

TEST_F(PciTest, Cf9WithoutDelegate) {
  PciHostConf1 bare(&bus_, nullptr);
  uint8_t v = 0x06;
  bare.write(1, {&v, 1});  // nothing to do it: ignored
  v = 0;
  bare.read(1, {&v, 1});
  EXPECT_EQ(v, 0xff);
}

TEST_F(PciTest, AddDevice) {
  TestPciDevice a("a"), b("b"), c("c"), d("d");
  ASSERT_TRUE(bus_.add_device(&a, 1).ok());
  Status st = bus_.add_device(&b, 1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "PCI: slot 1 function 0 not available for b, in use by a");
  st = bus_.add_device(&b, 32);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "invalid PCI address 20.0");
  st = bus_.add_device(&b, 1, 8);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "invalid PCI address 01.8");
  ASSERT_TRUE(bus_.add_device(&b, 1, 3).ok());
  EXPECT_EQ(b.devfn(), (1 << 3) | 3);
  EXPECT_EQ(b.slot(), 1);
  EXPECT_EQ(b.function(), 3);
  EXPECT_EQ(b.bus(), &bus_);
  // First free slot.
  ASSERT_TRUE(bus_.add_device(&c).ok());
  EXPECT_EQ(c.slot(), 2);
  EXPECT_EQ(bus_.device(2 << 3), &c);
  EXPECT_EQ(bus_.devices(), (std::vector<PciDevice*>{&host_, &a, &b, &c}));
  // A full bus.
  std::vector<std::unique_ptr<TestPciDevice>> more;
  for (int s = 3; s < 32; s++) {
    more.push_back(std::make_unique<TestPciDevice>("m" + std::to_string(s)));
    ASSERT_TRUE(bus_.add_device(more.back().get()).ok());
    EXPECT_EQ(more.back()->slot(), s);
  }
  st = bus_.add_device(&d);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "PCI bus is full");
}

}  // namespace
}  // namespace colo
