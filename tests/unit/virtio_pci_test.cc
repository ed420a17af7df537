// SPDX-License-Identifier: GPL-2.0-or-later
//
// The modern virtio-pci transport and the virtio core, driven through the BARs and config
// space as a guest driver would: capability layout, common configuration semantics, queue
// notification through ioeventfd registrations and the notify BAR, interrupts (MSI-X and
// INTx/ISR), DEVICE_NEEDS_RESET, pause/resume, and state save/load round trips.
#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "migration/vmstate.h"
#include "virtio_harness.h"

namespace colo {
namespace {

using test::TestDriver;
using test::TestMachine;
using test::wait_for;

constexpr uint16_t kEchoId = 42;  // an unassigned virtio device ID

// Echoes each chain's readable bytes into its writable buffers.
class EchoDevice : public VirtioDevice {
 public:
  explicit EchoDevice(GuestMemory* mem) : VirtioDevice(kEchoId, "virtio-echo", mem) {
    add_queue(16);
    add_queue(8);
  }
  uint64_t host_features() const override { return virtio_bit(0) | virtio_bit(3); }
  size_t config_size() const override { return 8; }
  void get_config(std::span<uint8_t> c) override {
    store_le32(&c[0], 0xec40ec40);
    store_le32(&c[4], counter.load());
  }
  void set_config(uint32_t offset, std::span<const uint8_t> data) override {
    if (offset == 4 && data.size() == 4)
      counter = load_le32(data.data());
  }
  void handle_queue(VirtQueue& vq) override {
    handled++;
    do {
      vq.set_notification(false);
      while (auto e = vq.pop()) {
        std::vector<uint8_t> buf(e->out_bytes());
        e->read(0, buf);
        size_t n = e->write(0, buf);
        vq.push(*e, static_cast<uint32_t>(n));
      }
      vq.set_notification(true);
    } while (vq.has_available());
    notify(vq);
  }
  void start() override { starts++; }
  void reset() override { resets++; }
  void on_pause() override { pauses++; }
  void on_resume() override { resumes++; }

  std::atomic<uint32_t> counter{7};
  std::atomic<int> handled{0}, starts{0}, resets{0}, pauses{0}, resumes{0};
};

class VirtioPciTest : public ::testing::Test {
 protected:
  void SetUp() override { create(); }
  void create(VirtioPciOptions opts = {}) {
    auto echo = std::make_unique<EchoDevice>(&m.mem);
    auto dev = VirtioPciDevice::create("virtio-echo-pci", std::move(echo), opts, m.ctx);
    ASSERT_TRUE(dev.ok()) << dev.error().message();
    dev_ = std::move(*dev);
    m.assign();
    drv = std::make_unique<TestDriver>(m, *dev_);
  }
  EchoDevice& echo() { return static_cast<EchoDevice&>(dev_->vdev()); }
  uint64_t all_features() {
    return virtio_bit(0) | virtio_bit(3) | virtio_bit(kVirtioFVersion1) |
           virtio_bit(kVirtioFRingEventIdx) | virtio_bit(kVirtioFRingIndirectDesc);
  }
  // A ready device with queue 0 at 0x100000, MSI-X vectors 1 (queue 0) and 0 (config).
  TestDriver::Queue ready(bool msix = true) {
    EXPECT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1)));
    auto q = drv->setup_queue(0, 16, 0x100000, msix ? 1 : kVirtioNoVector);
    if (msix) {
      drv->write(kVirtioPciCommonMsix, 2, 0);
      drv->msix_route(0, 0xfee00000, 0x40);
      drv->msix_route(1, 0xfee00000, 0x41);
    }
    drv->driver_ok();
    return q;
  }
  // One echo round trip of `n` bytes; returns the used length.
  uint32_t echo_once(TestDriver::Queue& q, uint8_t fill, uint32_t n = 64) {
    std::vector<uint8_t> data(n, fill);
    EXPECT_TRUE(m.guest_write(0x200000, data).ok());
    drv->post(q, {{0x200000, n, false}, {0x300000, n, true}});
    drv->kick(q);
    auto used = drv->wait_used(q);
    EXPECT_TRUE(used.has_value());
    return used ? used->second : 0;
  }

  TestMachine m;
  std::unique_ptr<VirtioPciDevice> dev_;
  std::unique_ptr<TestDriver> drv;
};

// ---- PCI identity and capabilities ---------------------------------------------------------

TEST_F(VirtioPciTest, PciIdentity) {
  EXPECT_EQ(dev_->config_read(kPciVendorId, 2), 0x1af4u);
  EXPECT_EQ(dev_->config_read(kPciDeviceId, 2), 0x1040u + kEchoId);
  EXPECT_EQ(dev_->config_read(kPciRevision, 1), 1u);
  EXPECT_EQ(dev_->config_read(kPciSubsystemVendorId, 2), 0x1af4u);
  EXPECT_EQ(dev_->config_read(kPciSubsystemId, 2), 0x1100u);
  EXPECT_EQ(dev_->config_read(kPciInterruptPin, 1), 1u);
  EXPECT_EQ(dev_->bar_size(kVirtioPciMsixBar), 0x1000u);
  EXPECT_EQ(dev_->bar_type(kVirtioPciMsixBar), PciBarType::kMem32);
  EXPECT_EQ(dev_->bar_size(kVirtioPciModernBar), 0x4000u);
  EXPECT_EQ(dev_->bar_type(kVirtioPciModernBar), PciBarType::kMem64);
  EXPECT_TRUE(dev_->bar_prefetchable(kVirtioPciModernBar));
  EXPECT_EQ(dev_->bar_size(0), 0u);  // modern only: no legacy I/O BAR
  EXPECT_EQ(virtio_pci_class(kVirtioIdBlock), 0x010000u);
  EXPECT_EQ(virtio_pci_class(kVirtioIdNet), 0x020000u);
}

TEST_F(VirtioPciTest, CapabilityLayoutAsQemu) {
  struct Cap {
    uint8_t at, id, type, bar;
    uint32_t offset, length;
  };
  std::vector<Cap> caps;
  for (uint8_t p = static_cast<uint8_t>(dev_->config_read(kPciCapabilityList, 1)); p != 0;
       p = static_cast<uint8_t>(dev_->config_read(p + 1, 1))) {
    ASSERT_LT(caps.size(), 16u);
    caps.push_back({p, static_cast<uint8_t>(dev_->config_read(p, 1)),
                    static_cast<uint8_t>(dev_->config_read(p + 3, 1)),
                    static_cast<uint8_t>(dev_->config_read(p + 4, 1)), dev_->config_read(p + 8, 4),
                    dev_->config_read(p + 12, 4)});
  }
  ASSERT_EQ(caps.size(), 6u);
  EXPECT_EQ(caps[0].at, 0x98);
  EXPECT_EQ(caps[0].id, kPciCapIdMsix);
  const uint8_t want_at[] = {0x84, 0x70, 0x60, 0x50, 0x40};
  const uint8_t want_type[] = {kVirtioPciCapPciCfg, kVirtioPciCapNotifyCfg, kVirtioPciCapDeviceCfg,
                               kVirtioPciCapIsrCfg, kVirtioPciCapCommonCfg};
  const uint32_t want_off[] = {0, 0x3000, 0x2000, 0x1000, 0};
  for (int i = 0; i < 5; i++) {
    const Cap& c = caps[i + 1];
    EXPECT_EQ(c.at, want_at[i]);
    EXPECT_EQ(c.id, 0x09);
    EXPECT_EQ(c.type, want_type[i]);
    EXPECT_EQ(dev_->cap_offset(c.type), c.at);
    if (c.type != kVirtioPciCapPciCfg) {
      EXPECT_EQ(c.bar, kVirtioPciModernBar);
      EXPECT_EQ(c.offset, want_off[i]);
      EXPECT_EQ(c.length, 0x1000u);
    }
  }
  EXPECT_EQ(dev_->config_read(0x70 + 2, 1), 20u);  // cap_len of the notify capability
  EXPECT_EQ(dev_->config_read(0x70 + 16, 4), kVirtioPciNotifyMultiplier);
  EXPECT_EQ(dev_->config_read(0x98 + 2, 2) & kMsixControlTableSizeMask, 2u);  // 2 queues + 1
}

TEST_F(VirtioPciTest, PciCfgAccessWindow) {
  uint8_t cap = dev_->cap_offset(kVirtioPciCapPciCfg);
  dev_->config_write(cap + 4, kVirtioPciModernBar, 1);
  dev_->config_write(cap + 8, kVirtioPciCommonOffset + kVirtioPciCommonNumq, 4);
  dev_->config_write(cap + 12, 2, 4);
  EXPECT_EQ(dev_->config_read(cap + 16, 2), 2u);  // num_queues through config space
  dev_->config_write(cap + 8, kVirtioPciDeviceOffset, 4);
  dev_->config_write(cap + 12, 4, 4);
  EXPECT_EQ(dev_->config_read(cap + 16, 4), 0xec40ec40u);
  // A write through the window: the queue select register.
  dev_->config_write(cap + 8, kVirtioPciCommonOffset + kVirtioPciCommonQSelect, 4);
  dev_->config_write(cap + 12, 2, 4);
  dev_->config_write(cap + 16, 1, 4);
  EXPECT_EQ(drv->read(kVirtioPciCommonQSize, 2), 8u);  // queue 1's maximum
}

// ---- common configuration ------------------------------------------------------------------

TEST_F(VirtioPciTest, FeatureNegotiation) {
  EXPECT_EQ(drv->device_features(), all_features());
  // Without VERSION_1 (a legacy driver) FEATURES_OK does not stick.
  EXPECT_FALSE(drv->negotiate(virtio_bit(0)));
  // Features that were not offered are refused.
  EXPECT_FALSE(drv->negotiate(virtio_bit(kVirtioFVersion1) | virtio_bit(1)));
  EXPECT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1) | virtio_bit(3)));
  EXPECT_EQ(echo().features(), virtio_bit(kVirtioFVersion1) | virtio_bit(3));
  // Driver features are read back, and frozen after FEATURES_OK.
  drv->write(kVirtioPciCommonGfselect, 4, 1);
  EXPECT_EQ(drv->read(kVirtioPciCommonGf, 4), 1u);
  drv->write(kVirtioPciCommonGfselect, 4, 0);
  drv->write(kVirtioPciCommonGf, 4, 1);
  EXPECT_EQ(drv->read(kVirtioPciCommonGf, 4), 8u);
  drv->write(kVirtioPciCommonDfselect, 4, 2);
  EXPECT_EQ(drv->read(kVirtioPciCommonDf, 4), 0u);
}

TEST_F(VirtioPciTest, RingFeaturesCanBeSwitchedOff) {
  VirtioPciOptions o;
  o.event_idx = false;
  o.indirect_desc = false;
  drv.reset();
  dev_.reset();
  m.pci = std::make_unique<PciBus>(&m.pio, &m.mmio, [this](uint32_t g) { return &m.lines[g]; });
  m.ctx.pci = m.pci.get();
  create(o);
  EXPECT_EQ(drv->device_features(), virtio_bit(0) | virtio_bit(3) | virtio_bit(kVirtioFVersion1));
}

TEST_F(VirtioPciTest, QueueRegisters) {
  EXPECT_EQ(drv->read(kVirtioPciCommonNumq, 2), 2u);
  drv->write(kVirtioPciCommonQSelect, 2, 0);
  EXPECT_EQ(drv->read(kVirtioPciCommonQSize, 2), 16u);
  EXPECT_EQ(drv->read(kVirtioPciCommonQMsix, 2), kVirtioNoVector);
  drv->write(kVirtioPciCommonQSize, 2, 12);  // not a power of 2: ignored
  EXPECT_EQ(drv->read(kVirtioPciCommonQSize, 2), 16u);
  drv->write(kVirtioPciCommonQSize, 2, 32);  // above the maximum: ignored
  EXPECT_EQ(drv->read(kVirtioPciCommonQSize, 2), 16u);
  drv->write(kVirtioPciCommonQSize, 2, 4);
  EXPECT_EQ(drv->read(kVirtioPciCommonQSize, 2), 4u);
  drv->write(kVirtioPciCommonQMsix, 2, 2);
  EXPECT_EQ(drv->read(kVirtioPciCommonQMsix, 2), 2u);
  drv->write(kVirtioPciCommonQMsix, 2, 3);  // only 3 vectors: refused
  EXPECT_EQ(drv->read(kVirtioPciCommonQMsix, 2), kVirtioNoVector);
  drv->write(kVirtioPciCommonQDescLo, 4, 0x12345000);
  drv->write(kVirtioPciCommonQDescHi, 4, 0x1);
  EXPECT_EQ(drv->read(kVirtioPciCommonQDescLo, 4), 0x12345000u);
  EXPECT_EQ(drv->read(kVirtioPciCommonQDescHi, 4), 1u);
  drv->write(kVirtioPciCommonQUsedLo, 8, 0xabcd000);  // one 64-bit write
  EXPECT_EQ(drv->read(kVirtioPciCommonQUsedLo, 8), 0xabcd000u);
  drv->write(kVirtioPciCommonQSelect, 2, 1);
  EXPECT_EQ(drv->read(kVirtioPciCommonQNoff, 2), 1u);
  EXPECT_EQ(drv->read(kVirtioPciCommonQDescLo, 4), 0u);
  drv->write(kVirtioPciCommonQSelect, 2, 5);  // no such queue: reads zero
  EXPECT_EQ(drv->read(kVirtioPciCommonQSize, 2), 0u);
  drv->write(kVirtioPciCommonQEnable, 2, 1);
  EXPECT_EQ(drv->read(kVirtioPciCommonQEnable, 2), 0u);
  EXPECT_EQ(drv->read(kVirtioPciCommonCfgGeneration, 1), 0u);
}

TEST_F(VirtioPciTest, DeviceConfiguration) {
  uint64_t cfg = drv->bar4() + kVirtioPciDeviceOffset;
  EXPECT_EQ(test::mmio_read(m.mmio, cfg, 4), 0xec40ec40u);
  EXPECT_EQ(test::mmio_read(m.mmio, cfg + 1, 1), 0xecu);
  EXPECT_EQ(test::mmio_read(m.mmio, cfg + 4, 4), 7u);
  test::mmio_write(m.mmio, cfg + 4, 4, 99);
  EXPECT_EQ(echo().counter.load(), 99u);
  EXPECT_EQ(test::mmio_read(m.mmio, cfg + 8, 4), 0u);  // past the structure
  // A change of the configuration: new generation, config interrupt after DRIVER_OK.
  auto q = ready();
  (void)q;
  m.msi.take();
  echo().notify_config_changed();
  EXPECT_EQ(drv->read(kVirtioPciCommonCfgGeneration, 1), 1u);
  EXPECT_EQ(m.msi.take(), (std::vector<test::RecordingMsi::Msg>{{0xfee00000, 0x40}}));
}

TEST_F(VirtioPciTest, EnableRegistersIoeventfd) {
  ASSERT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1)));
  EXPECT_TRUE(m.ioeventfd.current().empty());
  drv->setup_queue(1, 8, 0x100000);
  auto regs = m.ioeventfd.current();
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_EQ(regs[0].space, IoSpace::kMmio);
  EXPECT_EQ(regs[0].addr, drv->bar4() + 0x3000 + 4);
  EXPECT_EQ(regs[0].len, 2u);
  EXPECT_EQ(regs[0].fd, echo().queue_notifier(1));
  EXPECT_TRUE(dev_->ioeventfd_registered(1));
  EXPECT_FALSE(dev_->ioeventfd_registered(0));
  // Reset removes it.
  drv->write(kVirtioPciCommonStatus, 1, 0);
  EXPECT_TRUE(m.ioeventfd.current().empty());
  EXPECT_EQ(drv->status(), 0);
  drv->write(kVirtioPciCommonQSelect, 2, 1);
  EXPECT_EQ(drv->read(kVirtioPciCommonQEnable, 2), 0u);
  EXPECT_EQ(drv->read(kVirtioPciCommonQDescLo, 4), 0u);
}

TEST_F(VirtioPciTest, IoeventfdFollowsTheBar) {
  ASSERT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1)));
  drv->setup_queue(0, 16, 0x100000);
  uint64_t old_base = drv->bar4();
  // Memory decoding off: no registration.
  uint32_t cmd = dev_->config_read(kPciCommand, 2);
  dev_->config_write(kPciCommand, cmd & ~kPciCommandMemory, 2);
  EXPECT_TRUE(m.ioeventfd.current().empty());
  // Move BAR4 and turn decoding back on.
  uint64_t next = 0xd0000000;
  dev_->config_write(kPciBar0 + 4 * kVirtioPciModernBar, static_cast<uint32_t>(next) | 0xc, 4);
  dev_->config_write(kPciBar0 + 4 * kVirtioPciModernBar + 4, 0, 4);
  dev_->config_write(kPciCommand, cmd, 2);
  auto regs = m.ioeventfd.current();
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_EQ(regs[0].addr, next + 0x3000);
  EXPECT_NE(old_base, next);
}

TEST_F(VirtioPciTest, WorksWithoutIoeventfd) {
  m.ioeventfd.fail = true;
  auto q = ready();
  EXPECT_TRUE(m.ioeventfd.current().empty());
  EXPECT_EQ(echo_once(q, 0x11), 64u);  // the notify BAR signals the same eventfd
}

TEST_F(VirtioPciTest, IoeventfdOff) {
  VirtioPciOptions o;
  o.ioeventfd = false;
  drv.reset();
  dev_.reset();
  m.pci = std::make_unique<PciBus>(&m.pio, &m.mmio, [this](uint32_t g) { return &m.lines[g]; });
  m.ctx.pci = m.pci.get();
  create(o);
  auto q = ready();
  EXPECT_TRUE(m.ioeventfd.current().empty());
  EXPECT_EQ(echo_once(q, 0x12), 64u);
}

// ---- data path and interrupts --------------------------------------------------------------

TEST_F(VirtioPciTest, EchoWithMsix) {
  auto q = ready();
  EXPECT_EQ(echo().starts.load(), 1);
  m.msi.take();
  m.clear_dirty();
  EXPECT_EQ(echo_once(q, 0x5a, 100), 100u);
  drv->sync();  // the worker's round is over: its dirty marking and interrupt are done
  std::vector<uint8_t> got(100);
  ASSERT_TRUE(m.mem.read(0x300000, got).ok());
  EXPECT_EQ(got, std::vector<uint8_t>(100, 0x5a));
  // Exactly the pages colovm wrote are dirty: the buffer the device filled and the used ring,
  // not what the driver wrote and the device only read.
  EXPECT_TRUE(m.dirty(0x300000));
  EXPECT_TRUE(m.dirty(q.used));
  EXPECT_FALSE(m.dirty(0x200000));
  EXPECT_FALSE(m.dirty(q.desc));
  EXPECT_FALSE(m.dirty(q.avail));
  EXPECT_EQ(m.ram->host_dirty().count(), 2u);
  // One interrupt, through the queue's vector.
  EXPECT_EQ(m.msi.take(), (std::vector<test::RecordingMsi::Msg>{{0xfee00000, 0x41}}));
  EXPECT_FALSE(m.lines[dev_->config_read(kPciInterruptLine, 1)].level.load());
}

TEST_F(VirtioPciTest, IntxAndIsr) {
  auto q = ready(/*msix=*/false);
  auto& line = m.lines[dev_->config_read(kPciInterruptLine, 1)];
  EXPECT_EQ(echo_once(q, 1), 64u);
  ASSERT_TRUE(wait_for([&] { return line.level.load(); }));
  EXPECT_EQ(test::mmio_read(m.mmio, drv->bar4() + kVirtioPciIsrOffset, 1), kVirtioIsrQueue);
  EXPECT_FALSE(line.level.load());  // reading the ISR clears it and lowers INTx
  EXPECT_EQ(test::mmio_read(m.mmio, drv->bar4() + kVirtioPciIsrOffset, 1), 0u);
  EXPECT_EQ(m.msi.count(), 0u);
}

TEST_F(VirtioPciTest, NoInterruptWhenTheDriverSaysSo) {
  auto q = ready(/*msix=*/false);
  auto& line = m.lines[dev_->config_read(kPciInterruptLine, 1)];
  uint8_t flags[2] = {kVringAvailFNoInterrupt, 0};
  ASSERT_TRUE(m.guest_write(q.avail, flags).ok());
  EXPECT_EQ(echo_once(q, 1), 64u);
  // The used element is published before notify() decides: wait for the end of the round.
  drv->sync();
  EXPECT_FALSE(line.level.load());
  EXPECT_EQ(test::mmio_read(m.mmio, drv->bar4() + kVirtioPciIsrOffset, 1), 0u);
  // With interrupts wanted again, the next chain interrupts.
  flags[0] = 0;
  ASSERT_TRUE(m.guest_write(q.avail, flags).ok());
  EXPECT_EQ(echo_once(q, 2), 64u);
  drv->sync();
  EXPECT_TRUE(line.level.load());
}

// A round that uses no buffers (here the one at DRIVER_OK) interrupts nobody.
TEST_F(VirtioPciTest, NoInterruptWithoutUsedBuffers) {
  auto q = ready(/*msix=*/false);
  (void)q;
  drv->sync();
  EXPECT_EQ(echo().handled.load(), 1);  // the DRIVER_OK round ran
  EXPECT_FALSE(m.lines[dev_->config_read(kPciInterruptLine, 1)].level.load());
  EXPECT_EQ(test::mmio_read(m.mmio, drv->bar4() + kVirtioPciIsrOffset, 1), 0u);
  auto q1 = ready(/*msix=*/true);
  (void)q1;
  drv->sync();
  EXPECT_EQ(echo().handled.load(), 2);
  EXPECT_EQ(m.msi.count(), 0u);
}

TEST_F(VirtioPciTest, IndirectThroughTheTransport) {
  ASSERT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1) | virtio_bit(kVirtioFRingIndirectDesc)));
  auto q = drv->setup_queue(0, 16, 0x100000);
  drv->driver_ok();
  ASSERT_TRUE(m.guest_write(0x200000, std::vector<uint8_t>(10, 0x77)).ok());
  uint8_t table[32];
  store_le64(table, 0x200000);
  store_le32(table + 8, 10);
  store_le16(table + 12, kVringDescFNext);
  store_le16(table + 14, 1);
  store_le64(table + 16, 0x300000);
  store_le32(table + 24, 10);
  store_le16(table + 28, kVringDescFWrite);
  store_le16(table + 30, 0);
  ASSERT_TRUE(m.guest_write(0x400000, table).ok());
  drv->put_desc(q, 0, 0x400000, 32, kVringDescFIndirect, 0);
  drv->publish(q, 0);
  drv->kick(q);
  auto used = drv->wait_used(q);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->second, 10u);
}

TEST_F(VirtioPciTest, MalformedRingNeedsReset) {
  auto q = ready();
  m.msi.take();
  drv->put_desc(q, 0, TestMachine::kRam - 4, 64, 0, 0);  // runs past the end of RAM
  drv->publish(q, 0);
  drv->kick(q);
  ASSERT_TRUE(wait_for([&] { return drv->status() & kVirtioStatusNeedsReset; }));
  EXPECT_TRUE(echo().broken());
  // The configuration interrupt told the driver.
  ASSERT_TRUE(wait_for([&] { return m.msi.count() > 0; }));
  EXPECT_EQ(m.msi.take()[0].data, 0x40u);
  EXPECT_EQ(drv->used_idx(q), 0);
  // Further kicks do nothing; a reset brings the device back.
  drv->kick(q);
  drv->write(kVirtioPciCommonStatus, 1, 0);
  EXPECT_EQ(drv->status(), 0);
  EXPECT_FALSE(echo().broken());
  auto q2 = ready();
  EXPECT_EQ(echo_once(q2, 3), 64u);
}

TEST_F(VirtioPciTest, BadRingAddressAtEnable) {
  ASSERT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1)));
  // Descriptor table and available ring in RAM; the used ring (6 + 8 * 16 bytes) starts 16
  // bytes before the end of RAM.
  constexpr uint64_t kEnd = TestMachine::kRam;
  drv->configure_queue({0, 16, kEnd - 0x3000, kEnd - 0x2000, kEnd - 0x10});
  EXPECT_EQ(drv->read(kVirtioPciCommonQEnable, 2), 0u);
  EXPECT_TRUE(drv->status() & kVirtioStatusNeedsReset);
  EXPECT_TRUE(echo().broken());
  EXPECT_TRUE(m.ioeventfd.current().empty());
  // Nothing was written into guest memory.
  EXPECT_EQ(m.ram->host_dirty().count(), 0u);
  // A reset and rings inside RAM work.
  auto q = ready();
  EXPECT_EQ(echo_once(q, 4), 64u);
}

TEST_F(VirtioPciTest, DriverOkWithoutFeaturesOk) {
  drv->write(kVirtioPciCommonStatus, 1, kVirtioStatusAcknowledge | kVirtioStatusDriver);
  drv->write(kVirtioPciCommonStatus, 1,
             kVirtioStatusAcknowledge | kVirtioStatusDriver | kVirtioStatusDriverOk);
  EXPECT_TRUE(drv->status() & kVirtioStatusNeedsReset);
  EXPECT_EQ(echo().starts.load(), 0);
}

TEST_F(VirtioPciTest, KickBeforeDriverOkWaits) {
  ASSERT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1)));
  auto q = drv->setup_queue(0, 16, 0x100000);
  ASSERT_TRUE(m.guest_write(0x200000, std::vector<uint8_t>(8, 1)).ok());
  drv->post(q, {{0x200000, 8, false}, {0x300000, 8, true}});
  drv->kick(q);
  drv->sync();  // a round trip through the worker
  EXPECT_EQ(drv->used_idx(q), 0);
  drv->driver_ok();  // processing starts with what is already available
  auto used = drv->wait_used(q);
  ASSERT_TRUE(used.has_value());
}

TEST_F(VirtioPciTest, PauseStopsProcessing) {
  auto q = ready();
  EXPECT_EQ(echo_once(q, 1), 64u);
  dev_->pause();
  EXPECT_EQ(echo().pauses.load(), 1);
  EXPECT_TRUE(echo().paused_for_checkpoint());
  drv->post(q, {{0x200000, 8, false}, {0x300000, 8, true}});
  drv->kick(q);
  for (int i = 0; i < 20; i++)
    drv->sync();  // worker round trips
  EXPECT_EQ(drv->used_idx(q), 1);
  dev_->resume();
  auto used = drv->wait_used(q);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(echo().resumes.load(), 1);
  EXPECT_EQ(drv->used_idx(q), 2);
}

TEST_F(VirtioPciTest, MachineReset) {
  auto q = ready();
  EXPECT_EQ(echo_once(q, 1), 64u);
  dev_->reset();
  EXPECT_EQ(drv->status(), 0);
  EXPECT_FALSE(dev_->msix().enabled());
  EXPECT_TRUE(dev_->msix().vector_masked(1));
  EXPECT_TRUE(m.ioeventfd.current().empty());
  EXPECT_GE(echo().resets.load(), 1);
  // The BARs stay where firmware put them.
  EXPECT_EQ(dev_->bar_address(kVirtioPciModernBar), drv->bar4());
  auto q2 = ready();
  EXPECT_EQ(echo_once(q2, 2), 64u);
}

// ---- state ---------------------------------------------------------------------------------

class VirtioPciStateTest : public VirtioPciTest {
 protected:
  // A second device on its own bus over the same guest memory, as on a migration target.
  std::unique_ptr<VirtioPciDevice> twin() {
    twin_pci =
        std::make_unique<PciBus>(&twin_pio, &twin_mmio, [this](uint32_t g) { return &m.lines[g]; });
    DeviceContext ctx = m.ctx;
    ctx.pci = twin_pci.get();
    ctx.ioeventfd = &twin_ioeventfd;
    auto dev =
        VirtioPciDevice::create("virtio-echo-pci", std::make_unique<EchoDevice>(&m.mem), {}, ctx);
    EXPECT_TRUE(dev.ok());
    EXPECT_TRUE(
        twin_pci->assign_resources(0xc0000000, 0xfec00000, 0x100000000ULL, 0xc000, 0xffff).ok());
    return std::move(*dev);
  }
  std::vector<uint8_t> save(VirtioPciDevice& d) {
    ByteWriter w;
    d.save_state(w);
    return w.take();
  }
  IoBus twin_pio{"io2"}, twin_mmio{"memory2"};
  std::unique_ptr<PciBus> twin_pci;
  test::RecordingIoeventfd twin_ioeventfd;
};

TEST_F(VirtioPciStateTest, RoundTrip) {
  auto q = ready();
  for (int i = 0; i < 5; i++)
    EXPECT_EQ(echo_once(q, static_cast<uint8_t>(i)), 64u);
  dev_->pause();
  std::vector<uint8_t> saved = save(*dev_);
  EXPECT_EQ(save(*dev_), saved);  // saving changes nothing

  auto other = twin();
  other->pause();
  ASSERT_TRUE(other->load_state(saved, dev_->vmsd()->version_id).ok());
  EXPECT_EQ(save(*other), saved);
  EXPECT_EQ(other->vdev().status(), dev_->vdev().status());
  EXPECT_TRUE(other->msix().enabled());
  // The target registered the ioeventfd of the enabled queue at its own BAR.
  ASSERT_EQ(twin_ioeventfd.current().size(), 1u);
  // It carries on where the source stopped: the next chain goes to used index 6.
  dev_.reset();  // the source is gone
  ASSERT_TRUE(m.guest_write(0x200000, std::vector<uint8_t>(64, 9)).ok());
  drv->post(q, {{0x200000, 64, false}, {0x300000, 64, true}});
  other->resume();
  other->vdev().signal_queue_notifier(0);
  auto used = drv->wait_used(q);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(drv->used_idx(q), 6);
}

TEST_F(VirtioPciStateTest, FreshDeviceRoundTrip) {
  std::vector<uint8_t> saved = save(*dev_);
  auto other = twin();
  ASSERT_TRUE(other->load_state(saved, 1).ok());
  EXPECT_EQ(save(*other), saved);
}

TEST_F(VirtioPciStateTest, TruncatedStreamsFail) {
  auto q = ready();
  (void)q;
  dev_->pause();
  std::vector<uint8_t> saved = save(*dev_);
  auto other = twin();
  std::vector<uint8_t> before = save(*other);
  for (size_t cut : {size_t{0}, saved.size() / 2, saved.size() - 2, size_t{3}, size_t{40}}) {
    std::vector<uint8_t> part(saved.begin(), saved.begin() + cut);
    EXPECT_FALSE(other->load_state(part, 1).ok()) << cut;
  }
  // The second half alone.
  std::vector<uint8_t> half(saved.begin() + saved.size() / 2, saved.end());
  EXPECT_FALSE(other->load_state(half, 1).ok());
  EXPECT_EQ(save(*other), before);                 // a refused load changes nothing
  EXPECT_FALSE(other->load_state(saved, 2).ok());  // unknown version
}

// Corrupts one field of a saved state (found through the field table) and checks the load fails.
class VirtioPciCorruptTest : public VirtioPciStateTest {
 protected:
  void SetUp() override {
    VirtioPciStateTest::SetUp();
    auto q = ready();
    (void)q;
    dev_->pause();
    saved = save(*dev_);
    other = twin();
    before = save(*other);
  }
  // Byte offset of element `index` of field `name` within the framed state.
  size_t offset_of(const char* name, size_t index = 0) {
    size_t off = 4;  // the transport length
    for (const VmStateField& f : dev_->vmsd()->fields) {
      if (std::string(f.name) == name)
        return off + index * f.elem_size;
      off += static_cast<size_t>(f.elem_size) * f.count;
    }
    ADD_FAILURE() << name;
    return 0;
  }
  void put_be(std::vector<uint8_t>& s, size_t off, int size, uint64_t v) {
    for (int i = 0; i < size; i++)
      s[off + i] = static_cast<uint8_t>(v >> (8 * (size - 1 - i)));
  }
  void expect_refused(const char* name, int size, uint64_t v, size_t index = 0) {
    std::vector<uint8_t> bad = saved;
    put_be(bad, offset_of(name, index), size, v);
    Status st = other->load_state(bad, 1);
    EXPECT_FALSE(st.ok()) << name;
    EXPECT_EQ(save(*other), before) << name;
  }
  std::vector<uint8_t> saved, before;
  std::unique_ptr<VirtioPciDevice> other;
};

TEST_F(VirtioPciCorruptTest, Identity) {
  expect_refused("device_id", 2, 1);
  expect_refused("num_queues", 2, 3);
  expect_refused("msix_vectors", 2, 4);
}

TEST_F(VirtioPciCorruptTest, Registers) {
  expect_refused("status", 1, 0x30);                    // reserved status bits
  expect_refused("driver_features", 8, virtio_bit(5));  // not offered, no VERSION_1
  expect_refused("isr", 1, 0x80);
  expect_refused("config_vector", 2, 7);  // only 3 vectors
  expect_refused("queue_vector", 2, 3, 0);
  expect_refused("broken", 1, 1);  // without NEEDS_RESET
  expect_refused("broken", 1, 2);  // not a bool
}

TEST_F(VirtioPciCorruptTest, Queues) {
  expect_refused("queue_size", 2, 12, 0);                     // not a power of 2
  expect_refused("queue_size", 2, 32, 0);                     // above the maximum
  expect_refused("queue_used", 8, TestMachine::kRam - 8, 0);  // enabled ring outside RAM
  expect_refused("queue_desc", 8, 0x100008, 0);               // misaligned
  expect_refused("queue_enabled", 1, 1, 5);                   // a queue the device does not have
  expect_refused("last_avail_idx", 2, 100, 0);                // more than a ring ahead of used
}

TEST_F(VirtioPciCorruptTest, PciConfig) {
  expect_refused("pci_config", 1, 0x12, kPciVendorId);  // read-only bytes
  expect_refused("msix_table", 4, 0xfee00000, 3 * 4);   // entry 3 of 3 vectors
}

TEST_F(VirtioPciTest, StateDescription) {
  std::string d = vmstate_describe(*dev_->vmsd());
  EXPECT_NE(d.find("virtio-pci version 1"), std::string::npos) << d;
  EXPECT_NE(d.find("queue_size uint16[64]"), std::string::npos) << d;
  EXPECT_NE(d.find("msix_table uint32[256]"), std::string::npos) << d;
  EXPECT_NE(d.find("pci_config uint8[256]"), std::string::npos) << d;
}

}  // namespace
}  // namespace colo
