// SPDX-License-Identifier: GPL-2.0-or-later
//
// virtio-blk-pci on a raw file through the block layer, driven as a guest driver would:
// features and configuration, IN/OUT/FLUSH/GET_ID/DISCARD/WRITE_ZEROES, errors reported as
// status bytes, malformed requests, read-only drives, dirty marking, -device errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "block/blockdev.h"
#include "hw/virtio/virtio-blk.h"
#include "virtio_harness.h"

namespace colo {
namespace {

using test::TestDriver;
using test::TestMachine;

constexpr uint64_t kDiskSize = 1 << 20;
constexpr uint64_t kHdr = 0x200000, kData = 0x210000, kStatus = 0x230000;

class VirtioBlkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/colovm-vblk-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/disk.raw";
    int fd = open(path.c_str(), O_CREAT | O_RDWR, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, kDiskSize), 0);
    close(fd);
    m.ctx.blocks = &graph;
    device_register_builtin_types();
  }
  void TearDown() override {
    drv.reset();
    dev.reset();
    EXPECT_TRUE(graph.close_all().ok());
    unlink(path.c_str());
    rmdir(dir.c_str());
  }
  void open_drive(bool readonly = false, const std::string& serial = "") {
    KeyvalDict o{{"file", path}, {"format", "raw"}, {"if", "none"}, {"id", "d0"}};
    if (readonly)
      o["readonly"] = "on";
    if (!serial.empty())
      o["serial"] = serial;
    auto blk = graph.drive_open(o);
    ASSERT_TRUE(blk.ok()) << blk.error().message();
  }
  Result<std::unique_ptr<Device>> make(KeyvalDict props) {
    props["driver"] = "virtio-blk-pci";
    return device_create(props, m.ctx);
  }
  void create(KeyvalDict props = {{"drive", "d0"}}) {
    auto d = make(props);
    ASSERT_TRUE(d.ok()) << d.error().message();
    dev.reset(dynamic_cast<VirtioPciDevice*>(d->release()));
    ASSERT_NE(dev, nullptr);
    m.assign();
    drv = std::make_unique<TestDriver>(m, *dev);
    ASSERT_TRUE(drv->negotiate(drv->device_features()));
    q = drv->setup_queue(0, 16, 0x100000);
    drv->driver_ok();
  }
  // One request: header, optional data (out for writes, in otherwise), status byte.
  // Returns the status byte and the used length.
  std::pair<uint8_t, uint32_t> request(uint32_t type, uint64_t sector, uint32_t len,
                                       bool data_out) {
    uint8_t hdr[16];
    store_le32(hdr, type);
    store_le32(hdr + 4, 0);
    store_le64(hdr + 8, sector);
    EXPECT_TRUE(m.guest_write(kHdr, hdr).ok());
    uint8_t unset = 0xff;
    EXPECT_TRUE(m.guest_write(kStatus, {&unset, 1}).ok());
    std::vector<TestDriver::Buf> bufs{{kHdr, 16, false}};
    if (len)
      bufs.push_back({kData, len, !data_out});
    bufs.push_back({kStatus, 1, true});
    drv->post(q, bufs);
    drv->kick(q);
    auto used = drv->wait_used(q);
    EXPECT_TRUE(used.has_value());
    uint8_t status;
    EXPECT_TRUE(m.mem.read(kStatus, {&status, 1}).ok());
    return {status, used ? used->second : 0};
  }
  std::vector<uint8_t> file_bytes(uint64_t off, size_t n) {
    std::vector<uint8_t> out(n);
    std::ifstream f(path, std::ios::binary);
    f.seekg(static_cast<std::streamoff>(off));
    f.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
    return out;
  }

  std::string dir, path;
  block::BlockGraph graph;
  TestMachine m;
  std::unique_ptr<VirtioPciDevice> dev;
  std::unique_ptr<TestDriver> drv;
  TestDriver::Queue q;
};

TEST_F(VirtioBlkTest, FeaturesAndConfig) {
  open_drive();
  create();
  uint64_t f = drv->device_features();
  EXPECT_TRUE(f & virtio_bit(kVirtioFVersion1));
  EXPECT_TRUE(f & virtio_bit(kVirtioBlkFSegMax));
  EXPECT_TRUE(f & virtio_bit(kVirtioBlkFBlkSize));
  EXPECT_TRUE(f & virtio_bit(kVirtioBlkFFlush));
  EXPECT_TRUE(f & virtio_bit(kVirtioBlkFDiscard));
  EXPECT_TRUE(f & virtio_bit(kVirtioBlkFWriteZeroes));
  EXPECT_FALSE(f & virtio_bit(kVirtioBlkFRo));
  uint64_t cfg = drv->bar4() + kVirtioPciDeviceOffset;
  EXPECT_EQ(test::mmio_read(m.mmio, cfg, 4) | (test::mmio_read(m.mmio, cfg + 4, 4) << 32),
            kDiskSize / 512);
  EXPECT_EQ(test::mmio_read(m.mmio, cfg + 12, 4), 254u);  // seg_max
  EXPECT_EQ(test::mmio_read(m.mmio, cfg + 20, 4), 512u);  // blk_size
  EXPECT_EQ(dev->config_read(kPciDeviceId, 2), 0x1042u);
  EXPECT_EQ(dev->config_read(kPciClassProg + 1, 2), 0x0100u);  // storage, SCSI
  EXPECT_EQ(dev->type_name(), "virtio-blk-pci");
}

TEST_F(VirtioBlkTest, WriteThenRead) {
  open_drive();
  create();
  std::vector<uint8_t> data(4096);
  for (size_t i = 0; i < data.size(); i++)
    data[i] = static_cast<uint8_t>(i * 7 + 1);
  ASSERT_TRUE(m.guest_write(kData, data).ok());
  auto [st, used] = request(kVirtioBlkTOut, 3, 4096, true);
  EXPECT_EQ(st, kVirtioBlkSOk);
  EXPECT_EQ(used, 1u);
  EXPECT_EQ(file_bytes(3 * 512, 4096), data);

  ASSERT_TRUE(m.guest_fill(kData, 0, 4096).ok());
  m.clear_dirty();
  std::tie(st, used) = request(kVirtioBlkTIn, 3, 4096, false);
  EXPECT_EQ(st, kVirtioBlkSOk);
  EXPECT_EQ(used, 4097u);
  std::vector<uint8_t> got(4096);
  ASSERT_TRUE(m.mem.read(kData, got).ok());
  EXPECT_EQ(got, data);
  EXPECT_TRUE(m.dirty(kData));    // disk data written into guest RAM
  EXPECT_TRUE(m.dirty(kStatus));  // the status byte
  EXPECT_FALSE(m.dirty(kHdr));

  EXPECT_EQ(request(kVirtioBlkTFlush, 0, 0, true).first, kVirtioBlkSOk);
  auto stats = dynamic_cast<VirtioBlk&>(dev->vdev()).backend()->stats();
  EXPECT_EQ(stats.rd_operations, 1u);
  EXPECT_EQ(stats.wr_operations, 1u);
  EXPECT_EQ(stats.flush_operations, 1u);
}

TEST_F(VirtioBlkTest, ScatteredBuffers) {
  open_drive();
  create();
  // Three data buffers of odd sizes summing to 1024 bytes, in different pages.
  std::vector<uint8_t> a(100, 0xa1), b(400, 0xb2), c(524, 0xc3);
  ASSERT_TRUE(m.guest_write(0x240000, a).ok());
  ASSERT_TRUE(m.guest_write(0x250000, b).ok());
  ASSERT_TRUE(m.guest_write(0x260000, c).ok());
  uint8_t hdr[16] = {};
  store_le32(hdr, kVirtioBlkTOut);
  store_le64(hdr + 8, 10);
  ASSERT_TRUE(m.guest_write(kHdr, hdr).ok());
  drv->post(q, {{kHdr, 16, false},
                {0x240000, 100, false},
                {0x250000, 400, false},
                {0x260000, 524, false},
                {kStatus, 1, true}});
  drv->kick(q);
  ASSERT_TRUE(drv->wait_used(q).has_value());
  std::vector<uint8_t> want = a;
  want.insert(want.end(), b.begin(), b.end());
  want.insert(want.end(), c.begin(), c.end());
  EXPECT_EQ(file_bytes(10 * 512, 1024), want);

  // And back into two buffers, with the status byte in the second.
  store_le32(hdr, kVirtioBlkTIn);
  ASSERT_TRUE(m.guest_write(kHdr, hdr).ok());
  m.clear_dirty();
  drv->post(q, {{kHdr, 16, false}, {0x270000, 1000, true}, {0x280000, 25, true}});
  drv->kick(q);
  auto used = drv->wait_used(q);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->second, 1025u);
  std::vector<uint8_t> got(1024);
  ASSERT_TRUE(m.mem.read(0x270000, {got.data(), 1000}).ok());
  ASSERT_TRUE(m.mem.read(0x280000, {got.data() + 1000, 24}).ok());
  EXPECT_EQ(got, want);
  uint8_t st;
  ASSERT_TRUE(m.mem.read(0x280000 + 24, {&st, 1}).ok());
  EXPECT_EQ(st, kVirtioBlkSOk);
  EXPECT_TRUE(m.dirty(0x270000));
  EXPECT_TRUE(m.dirty(0x280000));
}

TEST_F(VirtioBlkTest, GetId) {
  open_drive(false, "colo-disk-1");
  create();
  ASSERT_TRUE(m.guest_fill(kData, 0xee, 20).ok());
  EXPECT_EQ(request(kVirtioBlkTGetId, 0, 20, false).first, kVirtioBlkSOk);
  std::vector<uint8_t> id(20);
  ASSERT_TRUE(m.mem.read(kData, id).ok());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(id.data())), "colo-disk-1");
  EXPECT_EQ(id[11], 0);
  EXPECT_EQ(id[12], 0xee);  // only the string and its NUL
}

TEST_F(VirtioBlkTest, LongSerialIsCut) {
  open_drive();
  create({{"drive", "d0"}, {"serial", "0123456789abcdefghijKLMN"}});
  EXPECT_EQ(request(kVirtioBlkTGetId, 0, 20, false).first, kVirtioBlkSOk);
  std::vector<uint8_t> id(20);
  ASSERT_TRUE(m.mem.read(kData, id).ok());
  EXPECT_EQ(std::string(id.begin(), id.end()), "0123456789abcdefghij");  // no NUL
}

TEST_F(VirtioBlkTest, Errors) {
  open_drive();
  create();
  EXPECT_EQ(request(99, 0, 512, false).first, kVirtioBlkSUnsupp);
  EXPECT_EQ(request(kVirtioBlkTIn, kDiskSize / 512, 512, false).first, kVirtioBlkSIoerr);
  EXPECT_EQ(request(kVirtioBlkTIn, kDiskSize / 512 - 1, 1024, false).first, kVirtioBlkSIoerr);
  EXPECT_EQ(request(kVirtioBlkTOut, 0, 100, true).first, kVirtioBlkSIoerr);  // not whole sectors
  EXPECT_EQ(request(kVirtioBlkTIn, UINT64_MAX / 256, 512, false).first, kVirtioBlkSIoerr);
  EXPECT_FALSE(dev->vdev().broken());  // errors of the disk are not protocol errors
  EXPECT_EQ(request(kVirtioBlkTIn, 0, 512, false).first, kVirtioBlkSOk);
}

TEST_F(VirtioBlkTest, ReadOnlyDrive) {
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.write(std::string(512, '\x6b').data(), 512);
  }
  std::vector<uint8_t> before = file_bytes(0, 512);
  ASSERT_EQ(before, std::vector<uint8_t>(512, 0x6b));
  open_drive(true);
  create();
  EXPECT_TRUE(drv->device_features() & virtio_bit(kVirtioBlkFRo));
  ASSERT_TRUE(m.guest_fill(kData, 0x42, 512).ok());
  EXPECT_EQ(request(kVirtioBlkTOut, 0, 512, true).first, kVirtioBlkSIoerr);
  // Nor do write-zeroes and discard change it.
  uint8_t seg[16];
  store_le64(seg, 0);
  store_le32(seg + 8, 1);
  store_le32(seg + 12, 0);
  ASSERT_TRUE(m.guest_write(kData, seg).ok());
  EXPECT_EQ(request(kVirtioBlkTWriteZeroes, 0, 16, true).first, kVirtioBlkSIoerr);
  EXPECT_EQ(request(kVirtioBlkTDiscard, 0, 16, true).first, kVirtioBlkSIoerr);
  EXPECT_EQ(file_bytes(0, 512), before);
  EXPECT_FALSE(dev->vdev().broken());
  // Reads and flushes still work.
  EXPECT_EQ(request(kVirtioBlkTIn, 0, 512, false).first, kVirtioBlkSOk);
  EXPECT_EQ(request(kVirtioBlkTFlush, 0, 0, true).first, kVirtioBlkSOk);
}

TEST_F(VirtioBlkTest, WriteZeroesAndDiscard) {
  open_drive();
  create();
  ASSERT_TRUE(m.guest_fill(kData, 0x99, 4096).ok());
  EXPECT_EQ(request(kVirtioBlkTOut, 0, 4096, true).first, kVirtioBlkSOk);
  uint8_t seg[16];
  store_le64(seg, 2);
  store_le32(seg + 8, 3);
  store_le32(seg + 12, kVirtioBlkWriteZeroesUnmap);
  ASSERT_TRUE(m.guest_write(kData, seg).ok());
  EXPECT_EQ(request(kVirtioBlkTWriteZeroes, 0, 16, true).first, kVirtioBlkSOk);
  EXPECT_EQ(file_bytes(2 * 512, 3 * 512), std::vector<uint8_t>(3 * 512, 0));
  EXPECT_EQ(file_bytes(5 * 512, 512), std::vector<uint8_t>(512, 0x99));
  EXPECT_EQ(file_bytes(512, 512), std::vector<uint8_t>(512, 0x99));
  store_le32(seg + 12, 0);
  ASSERT_TRUE(m.guest_write(kData, seg).ok());
  EXPECT_EQ(request(kVirtioBlkTDiscard, 0, 16, true).first, kVirtioBlkSOk);
  store_le32(seg + 12, 1);  // discard takes no flags
  ASSERT_TRUE(m.guest_write(kData, seg).ok());
  EXPECT_EQ(request(kVirtioBlkTDiscard, 0, 16, true).first, kVirtioBlkSUnsupp);
}

TEST_F(VirtioBlkTest, NoWriteZeroesWhenOff) {
  open_drive();
  create({{"drive", "d0"}, {"write-zeroes", "off"}, {"discard", "off"}});
  EXPECT_FALSE(drv->device_features() & virtio_bit(kVirtioBlkFWriteZeroes));
  EXPECT_FALSE(drv->device_features() & virtio_bit(kVirtioBlkFDiscard));
}

TEST_F(VirtioBlkTest, MalformedRequestsBreakTheDevice) {
  open_drive();
  create();
  // A header of 8 bytes.
  drv->post(q, {{kHdr, 8, false}, {kStatus, 1, true}});
  drv->kick(q);
  ASSERT_TRUE(test::wait_for([&] { return drv->status() & kVirtioStatusNeedsReset; }));
  // After a reset, a request without a status byte.
  ASSERT_TRUE(drv->negotiate(drv->device_features()));
  q = drv->setup_queue(0, 16, 0x100000);
  drv->driver_ok();
  EXPECT_FALSE(dev->vdev().broken());
  drv->post(q, {{kHdr, 16, false}});
  drv->kick(q);
  ASSERT_TRUE(test::wait_for([&] { return drv->status() & kVirtioStatusNeedsReset; }));
}

TEST_F(VirtioBlkTest, NodeNameDrive) {
  auto node = graph.blockdev_open({{"driver", "raw"},
                                   {"node-name", "disk0"},
                                   {"file.driver", "file"},
                                   {"file.filename", path}});
  ASSERT_TRUE(node.ok()) << node.error().message();
  create({{"drive", "disk0"}});
  ASSERT_TRUE(m.guest_fill(kData, 0x33, 512).ok());
  EXPECT_EQ(request(kVirtioBlkTOut, 1, 512, true).first, kVirtioBlkSOk);
  EXPECT_EQ(file_bytes(512, 512), std::vector<uint8_t>(512, 0x33));
  auto disk = virtio_blk_disk(*dev);
  ASSERT_TRUE(disk.has_value());
  EXPECT_FALSE(disk->named_backend);
  EXPECT_EQ(disk->drive, "disk0");
}

TEST_F(VirtioBlkTest, DeviceErrors) {
  open_drive();
  auto e = make({});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message(), "virtio-blk-pci: drive property not set");
  e = make({{"drive", "nope"}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message(),
            "virtio-blk-pci: Property 'virtio-blk-device.drive' can't find value 'nope'");
  e = make({{"drive", "d0"}, {"bogus", "1"}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message(), "virtio-blk-pci: Property 'virtio-blk-pci.bogus' not found");
  e = make({{"drive", "d0"}, {"queue-size", "100"}});
  EXPECT_FALSE(e.ok());
  e = make({{"drive", "d0"}, {"addr", "zz"}});
  EXPECT_FALSE(e.ok());
  e = make({{"drive", "d0"}, {"vectors", "0"}});
  EXPECT_FALSE(e.ok());
  // A disk serves one device.
  create();
  e = make({{"drive", "d0"}});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message().find("it's in use"), std::string::npos);
}

TEST_F(VirtioBlkTest, PciAddress) {
  open_drive();
  create({{"drive", "d0"}, {"addr", "05.0"}});
  EXPECT_EQ(dev->slot(), 5);
  EXPECT_EQ(dev->function(), 0);
}

}  // namespace
}  // namespace colo
