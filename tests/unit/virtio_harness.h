// SPDX-License-Identifier: GPL-2.0-or-later
//
// A machine without KVM for virtio tests: guest RAM, PIO/MMIO buses, a PCI bus, recorders for
// INTx, MSI and ioeventfd registrations, and a small polled virtio driver that talks to a
// device through its BARs as a guest would.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "hw/bus.h"
#include "hw/ioeventfd.h"
#include "hw/irq.h"
#include "hw/pci/pci.h"
#include "hw/qdev.h"
#include "hw/virtio/virtio-pci.h"
#include "system/guest-memory.h"
#include "util/bytes.h"

namespace colo::test {

// Waits up to `timeout` for `cond`, polling; true if it became true.
inline bool wait_for(const std::function<bool()>& cond,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

class RecordingMsi : public MsiSink {
 public:
  struct Msg {
    uint64_t address;
    uint32_t data;
    bool operator==(const Msg&) const = default;
  };
  void send_msi(uint64_t address, uint32_t data) override {
    std::lock_guard<std::mutex> lock(mu);
    msgs.push_back({address, data});
  }
  std::vector<Msg> take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(msgs, {});
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return msgs.size();
  }
  std::mutex mu;
  std::vector<Msg> msgs;
};

class RecordingLine : public IrqLine {
 public:
  void set_level(bool l) override { level = l; }
  std::atomic<bool> level{false};
};

class RecordingIoeventfd : public IoEventNotifier {
 public:
  struct Reg {
    IoSpace space;
    uint64_t addr;
    uint32_t len;
    int fd;
    bool operator==(const Reg&) const = default;
  };
  Status add_ioeventfd(IoSpace space, uint64_t addr, uint32_t len, int fd,
                       std::optional<uint64_t> datamatch) override {
    std::lock_guard<std::mutex> lock(mu);
    if (fail)
      return make_error("no ioeventfd here");
    regs.push_back({space, addr, len, fd});
    return ok_status();
  }
  Status remove_ioeventfd(IoSpace space, uint64_t addr, uint32_t len, int fd,
                          std::optional<uint64_t> datamatch) override {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = regs.begin(); it != regs.end(); ++it) {
      if (*it == Reg{space, addr, len, fd}) {
        regs.erase(it);
        return ok_status();
      }
    }
    return make_error("not registered");
  }
  std::vector<Reg> current() {
    std::lock_guard<std::mutex> lock(mu);
    return regs;
  }
  std::mutex mu;
  std::vector<Reg> regs;
  bool fail = false;
};

// 16 MiB of RAM at 0, the buses, and the wiring a DeviceContext needs.
struct TestMachine {
  static constexpr uint64_t kRam = 16ULL << 20;
  TestMachine() {
    auto block = RamBlock::create("test.ram", kRam);
    EXPECT_TRUE(block.ok());
    ram = block->get();
    mem.add_block(std::move(*block));
    mem.add_region({0, kRam, ram, 0});
    pci = std::make_unique<PciBus>(&pio, &mmio, [this](uint32_t gsi) { return &lines[gsi]; });
    ctx.memory = &mem;
    ctx.pci = pci.get();
    ctx.msi = &msi;
    ctx.ioeventfd = &ioeventfd;
  }
  void assign() {
    ASSERT_TRUE(pci->assign_resources(0xc0000000, 0xfec00000, 0x100000000ULL, 0xc000, 0xffff).ok());
  }
  // Writes as the guest's vCPUs do: straight into RAM. KVM's dirty log records those writes, so
  // they do not mark the host_dirty bitmap, which is for writes colovm itself makes; tests that
  // check dirty marking rely on that difference.
  Status guest_write(uint64_t gpa, std::span<const uint8_t> data) {
    uint8_t* p = mem.host_ptr(gpa, data.size());
    if (p == nullptr)
      return make_error("guest write outside RAM");
    if (!data.empty())
      memcpy(p, data.data(), data.size());
    return ok_status();
  }
  Status guest_fill(uint64_t gpa, uint8_t value, uint64_t len) {
    uint8_t* p = mem.host_ptr(gpa, len);
    if (p == nullptr)
      return make_error("guest write outside RAM");
    memset(p, value, len);
    return ok_status();
  }
  // A naturally aligned 16-bit ring field, with the ordering a driver uses (virtio 1.2, 2.7.13:
  // the ring entry before the index, the device's index before the entries it covers).
  void guest_store16_release(uint64_t gpa, uint16_t v) {
    __atomic_store_n(reinterpret_cast<uint16_t*>(mem.host_ptr(gpa, 2)), v, __ATOMIC_RELEASE);
  }
  uint16_t guest_load16_acquire(uint64_t gpa) {
    return __atomic_load_n(reinterpret_cast<uint16_t*>(mem.host_ptr(gpa, 2)), __ATOMIC_ACQUIRE);
  }
  bool dirty(uint64_t gpa) { return ram->host_dirty().test(gpa / kPageSize); }
  void clear_dirty() { ram->host_dirty().clear(); }

  GuestMemory mem;
  RamBlock* ram = nullptr;
  IoBus pio{"io"};
  IoBus mmio{"memory"};
  std::array<RecordingLine, 24> lines;
  std::unique_ptr<PciBus> pci;
  RecordingMsi msi;
  RecordingIoeventfd ioeventfd;
  DeviceContext ctx;
};

inline uint64_t mmio_read(IoBus& bus, uint64_t addr, size_t size) {
  uint8_t buf[8] = {};
  bus.read(addr, {buf, size});
  return load_le_n({buf, size});
}

inline void mmio_write(IoBus& bus, uint64_t addr, size_t size, uint64_t v) {
  uint8_t buf[8];
  store_le_n({buf, size}, v);
  bus.write(addr, {buf, size});
}

// A polled split-ring driver for one device, through its BARs.
class TestDriver {
 public:
  TestDriver(TestMachine& m, VirtioPciDevice& dev) : m_(m), dev_(dev) {
    bar4_ = dev.bar_address(kVirtioPciModernBar);
    bar1_ = dev.bar_address(kVirtioPciMsixBar);
  }
  uint64_t common(uint32_t off) const { return bar4_ + kVirtioPciCommonOffset + off; }
  uint64_t read(uint32_t off, size_t size) { return mmio_read(m_.mmio, common(off), size); }
  void write(uint32_t off, size_t size, uint64_t v) { mmio_write(m_.mmio, common(off), size, v); }
  uint8_t status() { return static_cast<uint8_t>(read(kVirtioPciCommonStatus, 1)); }
  uint64_t device_features() {
    write(kVirtioPciCommonDfselect, 4, 0);
    uint64_t f = read(kVirtioPciCommonDf, 4);
    write(kVirtioPciCommonDfselect, 4, 1);
    return f | (read(kVirtioPciCommonDf, 4) << 32);
  }
  // Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; true if the device kept FEATURES_OK.
  bool negotiate(uint64_t features) {
    write(kVirtioPciCommonStatus, 1, 0);
    write(kVirtioPciCommonStatus, 1, kVirtioStatusAcknowledge);
    write(kVirtioPciCommonStatus, 1, kVirtioStatusAcknowledge | kVirtioStatusDriver);
    write(kVirtioPciCommonGfselect, 4, 0);
    write(kVirtioPciCommonGf, 4, static_cast<uint32_t>(features));
    write(kVirtioPciCommonGfselect, 4, 1);
    write(kVirtioPciCommonGf, 4, static_cast<uint32_t>(features >> 32));
    write(kVirtioPciCommonStatus, 1,
          kVirtioStatusAcknowledge | kVirtioStatusDriver | kVirtioStatusFeaturesOk);
    features_ = features;
    return status() & kVirtioStatusFeaturesOk;
  }
  struct Queue {
    uint16_t index = 0;
    uint16_t size = 0;
    uint64_t desc = 0, avail = 0, used = 0;
    uint16_t avail_idx = 0;
    uint16_t last_used = 0;
    uint16_t next_desc = 0;
  };
  // Rings at `base` (desc), base + 0x1000 (avail), base + 0x2000 (used), zeroed first.
  Queue setup_queue(uint16_t index, uint16_t size, uint64_t base,
                    uint16_t vector = kVirtioNoVector) {
    EXPECT_TRUE(m_.guest_fill(base, 0, 0x3000).ok());
    return configure_queue({index, size, base, base + 0x1000, base + 0x2000}, vector);
  }
  // Programs the queue registers with q's rings as they are (which may lie outside RAM) and
  // writes queue_enable.
  Queue configure_queue(Queue q, uint16_t vector = kVirtioNoVector) {
    uint16_t index = q.index, size = q.size;
    write(kVirtioPciCommonQSelect, 2, index);
    write(kVirtioPciCommonQSize, 2, size);
    write(kVirtioPciCommonQMsix, 2, vector);
    write(kVirtioPciCommonQDescLo, 4, static_cast<uint32_t>(q.desc));
    write(kVirtioPciCommonQDescHi, 4, q.desc >> 32);
    write(kVirtioPciCommonQAvailLo, 4, static_cast<uint32_t>(q.avail));
    write(kVirtioPciCommonQAvailHi, 4, q.avail >> 32);
    write(kVirtioPciCommonQUsedLo, 4, static_cast<uint32_t>(q.used));
    write(kVirtioPciCommonQUsedHi, 4, q.used >> 32);
    write(kVirtioPciCommonQEnable, 2, 1);
    return q;
  }
  void driver_ok() {
    write(kVirtioPciCommonStatus, 1,
          kVirtioStatusAcknowledge | kVirtioStatusDriver | kVirtioStatusFeaturesOk |
              kVirtioStatusDriverOk);
  }
  void put_desc(Queue& q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t d[16];
    store_le64(d, addr);
    store_le32(d + 8, len);
    store_le16(d + 12, flags);
    store_le16(d + 14, next);
    EXPECT_TRUE(m_.guest_write(q.desc + 16ULL * i, d).ok());
  }
  // Posts a chain of buffers (writable ones last) starting at descriptor q.next_desc.
  struct Buf {
    uint64_t addr;
    uint32_t len;
    bool writable;
  };
  uint16_t post(Queue& q, const std::vector<Buf>& bufs) {
    uint16_t head = q.next_desc;
    for (size_t i = 0; i < bufs.size(); i++) {
      uint16_t d = static_cast<uint16_t>((head + i) % q.size);
      bool last = i + 1 == bufs.size();
      put_desc(q, d, bufs[i].addr, bufs[i].len,
               static_cast<uint16_t>((last ? 0 : kVringDescFNext) |
                                     (bufs[i].writable ? kVringDescFWrite : 0)),
               static_cast<uint16_t>((d + 1) % q.size));
    }
    q.next_desc = static_cast<uint16_t>((head + bufs.size()) % q.size);
    publish(q, head);
    return head;
  }
  // Puts `head` in the avail ring and publishes it (no notification).
  void publish(Queue& q, uint16_t head) {
    uint8_t h[2];
    store_le16(h, head);
    EXPECT_TRUE(m_.guest_write(q.avail + 4 + 2ULL * (q.avail_idx % q.size), h).ok());
    q.avail_idx++;
    m_.guest_store16_release(q.avail + 2, q.avail_idx);
  }
  void kick(const Queue& q) {
    mmio_write(m_.mmio, bar4_ + kVirtioPciNotifyOffset + kVirtioPciNotifyMultiplier * q.index, 2,
               q.index);
  }
  uint16_t used_idx(const Queue& q) { return m_.guest_load16_acquire(q.used + 2); }
  uint16_t u16(uint64_t gpa) {
    uint8_t b[2];
    EXPECT_TRUE(m_.mem.read(gpa, b).ok());
    return load_le16(b);
  }
  // Waits for the next used element: {id, len}.
  std::optional<std::pair<uint32_t, uint32_t>> wait_used(Queue& q) {
    if (!wait_for([&] { return used_idx(q) != q.last_used; }))
      return std::nullopt;
    uint8_t e[8];
    EXPECT_TRUE(m_.mem.read(q.used + 4 + 8ULL * (q.last_used % q.size), e).ok());
    q.last_used++;
    return std::make_pair(load_le32(e), load_le32(e + 4));
  }
  // MSI-X: enables the function and points `vector` at (addr, data), unmasked.
  void msix_route(uint16_t vector, uint64_t addr, uint32_t data) {
    uint64_t e = bar1_ + 16ULL * vector;
    mmio_write(m_.mmio, e, 4, static_cast<uint32_t>(addr));
    mmio_write(m_.mmio, e + 4, 4, addr >> 32);
    mmio_write(m_.mmio, e + 8, 4, data);
    mmio_write(m_.mmio, e + 12, 4, 0);
    uint8_t cap = dev_.msix().cap_offset();
    uint32_t ctl = dev_.config_read(cap + 2, 2);
    dev_.config_write(cap + 2, ctl | kMsixControlEnable, 2);
  }
  // A barrier: returns once the device's worker finished what it was doing when called (a
  // round trip through its thread). Everything a handle_queue() round that already published
  // a used entry does after that (dirty marking, interrupts) is visible afterwards.
  void sync() {
    dev_.vdev().iothread().run_sync([] {});
  }
  uint64_t bar4() const { return bar4_; }
  uint64_t bar1() const { return bar1_; }

 private:
  TestMachine& m_;
  VirtioPciDevice& dev_;
  uint64_t bar4_ = 0;
  uint64_t bar1_ = 0;
  uint64_t features_ = 0;
};

}  // namespace colo::test
