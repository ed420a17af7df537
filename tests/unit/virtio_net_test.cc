// SPDX-License-Identifier: GPL-2.0-or-later
//
// virtio-net-pci on a -netdev stream whose other end is this test, driven through its BARs as
// a guest driver would: features and configuration, frames both ways (header, content, dirty
// pages), receive flow control (frames wait while the driver has no buffers), buffers too
// small, the link status, malformed transmit chains, the device state, -device errors and
// `info network`.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "hw/virtio/virtio-net.h"
#include "migration/vmstate.h"
#include "net/framing.h"
#include "net/net.h"
#include "util/main-loop.h"
#include "virtio_harness.h"

namespace colo {
namespace {

using test::TestDriver;
using test::TestMachine;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kRxRings = 0x100000, kTxRings = 0x110000;
constexpr uint64_t kRxBufs = 0x200000, kTxBufs = 0x300000;  // one page per buffer
constexpr uint32_t kBufSize = 2048;

Bytes frame_of(size_t n, uint8_t seed) {
  Bytes f(n);
  for (size_t i = 0; i < n; i++)
    f[i] = static_cast<uint8_t>(seed + i * 13);
  return f;
}

class VirtioNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_loop_init();
    device_register_builtin_types();
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv_), 0);
    ASSERT_TRUE(
        reg_.add_from_option("stream,id=n0,addr.type=fd,addr.str=" + std::to_string(sv_[0])).ok());
    m.ctx.netdevs = &reg_;
  }
  void TearDown() override {
    drv.reset();
    dev.reset();
    reg_.clear();  // closes sv_[0]
    close(sv_[1]);
  }
  Result<std::unique_ptr<Device>> make(KeyvalDict props) {
    props["driver"] = "virtio-net-pci";
    return device_create(props, m.ctx);
  }
  void create(KeyvalDict props = {{"netdev", "n0"}, {"id", "nic0"}, {"mac", "52:54:00:12:34:56"}}) {
    auto d = make(props);
    ASSERT_TRUE(d.ok()) << d.error().message();
    dev.reset(dynamic_cast<VirtioPciDevice*>(d->release()));
    ASSERT_NE(dev, nullptr);
    m.assign();
    drv = std::make_unique<TestDriver>(m, *dev);
    ASSERT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1) | virtio_bit(kVirtioNetFMac) |
                               virtio_bit(kVirtioNetFStatus)));
    rxq = drv->setup_queue(0, 16, kRxRings);
    txq = drv->setup_queue(1, 16, kTxRings);
    drv->driver_ok();
  }
  VirtioNet& net() { return *virtio_net_of(*dev); }

  // The outside world: frames into colovm, and out of it.
  void send_frames(const std::vector<Bytes>& frames) {
    Bytes w;
    for (const Bytes& f : frames) {
      Bytes h = net_frame_header(static_cast<uint32_t>(f.size()));
      w.insert(w.end(), h.begin(), h.end());
      w.insert(w.end(), f.begin(), f.end());
    }
    ASSERT_EQ(write(sv_[1], w.data(), w.size()), ssize_t(w.size()));
  }
  std::vector<Bytes> recv_frames(size_t n) {
    std::vector<Bytes> got;
    while (got.size() < n) {
      pollfd p{sv_[1], POLLIN, 0};
      if (poll(&p, 1, 10000) != 1)
        break;
      uint8_t buf[65536];
      ssize_t r = read(sv_[1], buf, sizeof(buf));
      if (r <= 0)
        break;
      EXPECT_TRUE(
          reader_
              .feed({buf, static_cast<size_t>(r)},
                    [&](std::span<uint8_t> f, uint32_t) { got.emplace_back(f.begin(), f.end()); })
              .ok());
    }
    return got;
  }

  // Posts receive buffer number i (2 KiB in its own page) on the receive queue.
  void post_rx(int i, uint32_t len = kBufSize) {
    drv->post(rxq, {{kRxBufs + 0x1000ULL * i, len, true}});
  }
  // What the device wrote into receive buffer i.
  Bytes rx_buffer(int i, uint32_t len) {
    Bytes b(len);
    EXPECT_TRUE(m.mem.read(kRxBufs + 0x1000ULL * i, b).ok());
    return b;
  }
  // Queues a frame for transmission: the header and the frame in one buffer, or in two.
  void post_tx(int i, const Bytes& frame, bool split) {
    uint64_t a = kTxBufs + 0x1000ULL * i;
    Bytes hdr(kVirtioNetHdrSize, 0);
    if (split) {
      ASSERT_TRUE(m.guest_write(a, hdr).ok());
      ASSERT_TRUE(m.guest_write(a + 0x800, frame).ok());
      drv->post(txq, {{a, kVirtioNetHdrSize, false},
                      {a + 0x800, static_cast<uint32_t>(frame.size()), false}});
    } else {
      hdr.insert(hdr.end(), frame.begin(), frame.end());
      ASSERT_TRUE(m.guest_write(a, hdr).ok());
      drv->post(txq, {{a, static_cast<uint32_t>(hdr.size()), false}});
    }
  }
  uint16_t config16(uint32_t off) {
    return static_cast<uint16_t>(
        test::mmio_read(m.mmio, drv->bar4() + kVirtioPciDeviceOffset + off, 2));
  }

  int sv_[2] = {-1, -1};
  NetdevRegistry reg_;
  NetFrameReader reader_;
  TestMachine m;
  std::unique_ptr<VirtioPciDevice> dev;
  std::unique_ptr<TestDriver> drv;
  TestDriver::Queue rxq, txq;
};

TEST_F(VirtioNetTest, FeaturesConfigurationAndIdentity) {
  create({{"netdev", "n0"}, {"id", "nic0"}, {"mac", "52:54:00:ab:cd:ef"}});
  uint64_t f = drv->device_features();
  EXPECT_TRUE(f & virtio_bit(kVirtioFVersion1));
  EXPECT_TRUE(f & virtio_bit(kVirtioNetFMac));
  EXPECT_TRUE(f & virtio_bit(kVirtioNetFStatus));
  EXPECT_FALSE(f & virtio_bit(kVirtioNetFCsum));
  EXPECT_FALSE(f & virtio_bit(kVirtioNetFMrgRxbuf));
  EXPECT_FALSE(f & virtio_bit(kVirtioNetFCtrlVq));
  uint64_t cfg = drv->bar4() + kVirtioPciDeviceOffset;
  std::string mac;
  for (int i = 0; i < 6; i++)
    mac += static_cast<char>(test::mmio_read(m.mmio, cfg + i, 1));
  EXPECT_EQ(mac, std::string("\x52\x54\x00\xab\xcd\xef", 6));
  EXPECT_EQ(config16(6), kVirtioNetSLinkUp);
  EXPECT_EQ(dev->config_read(kPciDeviceId, 2), 0x1041u);
  EXPECT_EQ(dev->config_read(kPciClassProg + 1, 2), 0x0200u);  // network, Ethernet
  EXPECT_EQ(dev->type_name(), "virtio-net-pci");

  EXPECT_EQ(reg_.info_network(),
            "nic0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:ab:cd:ef\n"
            " \\ n0: index=0,type=stream,fd=" +
                std::to_string(sv_[0]) + "\n");
  std::vector<NetdevInfo> q = reg_.query();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].id, "n0");
  EXPECT_EQ(q[0].type, "stream");
  EXPECT_EQ(q[0].peer, "nic0");
  EXPECT_EQ(q[0].nic_model, "virtio-net-pci");
  EXPECT_EQ(q[0].mac, "52:54:00:ab:cd:ef");
  EXPECT_TRUE(q[0].link_up);
  EXPECT_EQ(reg_.find_nic("nic0"), static_cast<NetNic*>(&net()));
}

TEST_F(VirtioNetTest, FramesIntoGuestBuffers) {
  create();
  for (int i = 0; i < 4; i++)
    post_rx(i);
  drv->kick(rxq);
  m.clear_dirty();
  std::vector<Bytes> frames = {frame_of(60, 1), frame_of(1514, 2), frame_of(200, 3)};
  send_frames(frames);
  for (int i = 0; i < 3; i++) {
    auto used = drv->wait_used(rxq);
    ASSERT_TRUE(used.has_value()) << "frame " << i;
    EXPECT_EQ(used->first, static_cast<uint32_t>(i));
    ASSERT_EQ(used->second, kVirtioNetHdrSize + frames[i].size());
    Bytes b = rx_buffer(i, used->second);
    Bytes hdr(b.begin(), b.begin() + kVirtioNetHdrSize);
    Bytes want_hdr(kVirtioNetHdrSize, 0);
    want_hdr[10] = 1;  // num_buffers
    EXPECT_EQ(hdr, want_hdr);
    EXPECT_EQ(Bytes(b.begin() + kVirtioNetHdrSize, b.end()), frames[i]);
    EXPECT_TRUE(m.dirty(kRxBufs + 0x1000ULL * i)) << "received frame not marked dirty";
  }
  drv->sync();
  EXPECT_FALSE(m.dirty(kRxBufs + 0x3000)) << "an unused buffer was marked dirty";
  EXPECT_TRUE(m.dirty(kRxRings + 0x2000)) << "the used ring was not marked dirty";
  VirtioNetStats s = net().stats();
  EXPECT_EQ(s.rx_frames, 3u);
  EXPECT_EQ(s.rx_dropped, 0u);
  EXPECT_EQ(reg_.find("n0")->stats().to_guest_frames, 3u);
}

TEST_F(VirtioNetTest, FramesFromTheGuest) {
  create();
  std::vector<Bytes> frames = {frame_of(60, 7), frame_of(1514, 8), frame_of(999, 9)};
  post_tx(0, frame_of(13, 1), false);  // shorter than an Ethernet header: dropped
  post_tx(1, frames[0], false);
  post_tx(2, frames[1], true);
  post_tx(3, frames[2], false);
  drv->kick(txq);
  EXPECT_EQ(recv_frames(3), frames);
  for (int i = 0; i < 4; i++) {
    auto used = drv->wait_used(txq);
    ASSERT_TRUE(used.has_value());
    EXPECT_EQ(used->second, 0u);
  }
  drv->sync();
  EXPECT_EQ(net().stats().tx_frames, 3u);
  EXPECT_EQ(net().stats().tx_dropped, 1u);
  NetdevStats ns = reg_.find("n0")->stats();
  EXPECT_EQ(ns.from_guest_frames, 3u);
  EXPECT_EQ(ns.from_guest_bytes, 60u + 1514u + 999u);
}

TEST_F(VirtioNetTest, FramesWaitForReceiveBuffers) {
  create();
  post_rx(0);
  post_rx(1);
  drv->kick(rxq);
  std::vector<Bytes> frames;
  for (int i = 0; i < 6; i++)
    frames.push_back(frame_of(100 + i, static_cast<uint8_t>(i)));
  send_frames(frames);  // one write: the backend reads all six at once
  for (int i = 0; i < 2; i++)
    ASSERT_TRUE(drv->wait_used(rxq).has_value());
  // The read that delivered those two found no room for the rest: they wait in colovm and in
  // the socket, not lost.
  drv->sync();
  EXPECT_EQ(net().stats().rx_frames, 2u);
  EXPECT_EQ(net().stats().rx_dropped, 0u);
  EXPECT_EQ(reg_.find("n0")->stats().to_guest_dropped, 0u);
  // The driver adds buffers and kicks (the device asked for that: VRING_USED_F_NO_NOTIFY off).
  EXPECT_EQ(drv->u16(rxq.used) & kVringUsedFNoNotify, 0);
  for (int i = 2; i < 6; i++)
    post_rx(i);
  drv->kick(rxq);
  for (int i = 2; i < 6; i++) {
    auto used = drv->wait_used(rxq);
    ASSERT_TRUE(used.has_value()) << "frame " << i;
    EXPECT_EQ(used->first, static_cast<uint32_t>(i));
    Bytes b = rx_buffer(i, used->second);
    EXPECT_EQ(Bytes(b.begin() + kVirtioNetHdrSize, b.end()), frames[i]) << "frame " << i;
  }
  drv->sync();
  EXPECT_EQ(net().stats().rx_dropped, 0u);
  EXPECT_EQ(reg_.find("n0")->stats().to_guest_frames, 6u);
}

TEST_F(VirtioNetTest, FrameTooBigForTheBufferIsDropped) {
  create();
  post_rx(0, 64);  // room for a 52-byte frame
  drv->kick(rxq);
  send_frames({frame_of(1000, 1), frame_of(52, 2)});
  auto used = drv->wait_used(rxq);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->first, 0u);
  EXPECT_EQ(used->second, 64u);
  Bytes b = rx_buffer(0, 64);
  EXPECT_EQ(Bytes(b.begin() + kVirtioNetHdrSize, b.end()), frame_of(52, 2));
  drv->sync();
  EXPECT_EQ(net().stats().rx_dropped, 1u);
  EXPECT_EQ(net().stats().rx_frames, 1u);
}

TEST_F(VirtioNetTest, LinkDownDropsAndTellsTheDriver) {
  create();
  uint8_t generation = static_cast<uint8_t>(drv->read(kVirtioPciCommonCfgGeneration, 1));
  net().nic_set_link(false);
  EXPECT_EQ(config16(6), 0);
  EXPECT_NE(drv->read(kVirtioPciCommonCfgGeneration, 1), generation);
  EXPECT_FALSE(reg_.query()[0].link_up);
  post_tx(0, frame_of(60, 1), false);
  drv->kick(txq);
  ASSERT_TRUE(drv->wait_used(txq).has_value());
  drv->sync();
  EXPECT_EQ(net().stats().tx_dropped, 1u);
  EXPECT_EQ(reg_.find("n0")->stats().from_guest_frames, 0u);

  net().nic_set_link(true);
  EXPECT_EQ(config16(6), kVirtioNetSLinkUp);
  post_rx(0);
  drv->kick(rxq);
  send_frames({frame_of(70, 3)});
  ASSERT_TRUE(drv->wait_used(rxq).has_value());
  post_tx(1, frame_of(61, 4), false);
  drv->kick(txq);
  EXPECT_EQ(recv_frames(1), std::vector<Bytes>{frame_of(61, 4)});
}

TEST_F(VirtioNetTest, TransmitChainWithoutHeaderBreaksTheDevice) {
  create();
  drv->post(txq, {{kTxBufs, 4, false}});
  drv->kick(txq);
  ASSERT_TRUE(test::wait_for([&] { return (drv->status() & kVirtioStatusNeedsReset) != 0; }));
  // A reset brings it back.
  ASSERT_TRUE(drv->negotiate(virtio_bit(kVirtioFVersion1) | virtio_bit(kVirtioNetFMac)));
  rxq = drv->setup_queue(0, 16, kRxRings);
  txq = drv->setup_queue(1, 16, kTxRings);
  drv->driver_ok();
  post_tx(0, frame_of(80, 5), false);
  drv->kick(txq);
  EXPECT_EQ(recv_frames(1), std::vector<Bytes>{frame_of(80, 5)});
}

TEST_F(VirtioNetTest, DeviceState) {
  create();
  const VmStateDescription* vmsd = net().device_vmsd();
  ASSERT_NE(vmsd, nullptr);
  ByteWriter w;
  net().save_device_state(w);
  // mac[6], status (be16).
  EXPECT_EQ(w.buffer(), (Bytes{0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x01}));
  Bytes other = {0x52, 0x54, 0x00, 0x99, 0x88, 0x77, 0x00, 0x00};
  ASSERT_TRUE(net().load_device_state(other, vmsd->version_id).ok());
  EXPECT_EQ(net().nic_mac().to_string(), "52:54:00:99:88:77");
  EXPECT_FALSE(net().nic_link_up());
  EXPECT_EQ(config16(6), 0);
  // Hostile states change nothing.
  for (const Bytes& bad : {Bytes{0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x08},  // status
                           Bytes{0x01, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x01},  // multicast
                           Bytes{0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00},        // truncated
                           Bytes{}}) {
    EXPECT_FALSE(net().load_device_state(bad, vmsd->version_id).ok());
  }
  EXPECT_FALSE(net().load_device_state(w.buffer(), vmsd->version_id + 1).ok());
  EXPECT_EQ(net().nic_mac().to_string(), "52:54:00:99:88:77");
}

TEST_F(VirtioNetTest, DeviceOptionErrors) {
  auto err = [&](KeyvalDict props) {
    auto d = make(std::move(props));
    return d.ok() ? std::string("ok") : d.error().message();
  };
  EXPECT_EQ(err({{"netdev", "nope"}}),
            "virtio-net-pci: Property 'virtio-net-pci.netdev' can't find value 'nope'");
  EXPECT_EQ(err({{"netdev", "n0"}, {"mac", "52:54:00:12:34"}}),
            "virtio-net-pci: Property 'virtio-net-pci.mac' doesn't take value '52:54:00:12:34'");
  EXPECT_EQ(err({{"netdev", "n0"}, {"mac", "03:00:00:00:00:01"}}),
            "virtio-net-pci: Property 'virtio-net-pci.mac' doesn't take value "
            "'03:00:00:00:00:01'");
  EXPECT_EQ(err({{"netdev", "n0"}, {"mrg_rxbuf", "on"}}),
            "virtio-net-pci: Property 'virtio-net-pci.mrg_rxbuf': colovm's virtio-net has no "
            "such feature");
  EXPECT_EQ(err({{"netdev", "n0"}, {"rx_queue_size", "100"}}),
            "virtio-net-pci: Invalid rx_queue_size (= 100), must be a power of 2 between 256 "
            "and 1024");
  EXPECT_EQ(err({{"netdev", "n0"}, {"frob", "1"}}),
            "virtio-net-pci: Property 'virtio-net-pci.frob' not found");
  create();
  EXPECT_EQ(err({{"netdev", "n0"}}),
            "virtio-net-pci: Property 'virtio-net-pci.netdev' can't take value 'n0', it's in use");
  // QEMU command lines say these; they are accepted.
  auto ok = make({{"mac", "52:54:00:00:00:01"},
                  {"romfile", ""},
                  {"csum", "off"},
                  {"mrg_rxbuf", "off"},
                  {"status", "off"}});
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  VirtioNet* n = virtio_net_of(**ok);
  ASSERT_NE(n, nullptr);
  EXPECT_FALSE(n->host_features() & virtio_bit(kVirtioNetFStatus));
  EXPECT_EQ(n->nic_netdev(), nullptr);
  // Anonymous NICs are named as QEMU names them.
  bool found = false;
  for (const auto& e : reg_.nics())
    found = found || e.name == "virtio-net-pci.1";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace colo
