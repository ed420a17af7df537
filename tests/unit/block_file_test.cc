// SPDX-License-Identifier: GPL-2.0-or-later
//
// The "file" protocol driver: byte-granular I/O (also with O_DIRECT), growth, holes, flush,
// read-only, reopen and open errors.
#include <fcntl.h>
#include <unistd.h>

#include "block/block.h"
#include "block/blockdev.h"
#include "block_test_util.h"

namespace colo::block {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

class BlockFileTest : public ::testing::Test {
 protected:
  TempDir dir_;
  BlockGraph graph_;

  std::string make_file(const std::string& name, const std::vector<uint8_t>& data) {
    std::string path = dir_.file(name);
    write_host_file(path, data);
    return path;
  }
};

TEST_F(BlockFileTest, ReadsAndWritesAtAnyByteOffset) {
  std::mt19937_64 rng(1);
  std::vector<uint8_t> model = random_bytes(rng, 100000);
  std::string path = make_file("a.img", model);
  auto node = open_node(graph_, "driver=file,node-name=f0,filename=" + path);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->size(), model.size());
  EXPECT_EQ(node->driver_name(), "file");
  EXPECT_EQ(node->filename(), path);
  for (int i = 0; i < 200; i++) {
    uint64_t off = rng() % model.size();
    size_t len = 1 + rng() % 5000;
    if (off + len > model.size())
      len = model.size() - off;
    if (i % 2) {
      auto data = random_bytes(rng, len);
      ASSERT_OK(node->write(off, data));
      std::copy(data.begin(), data.end(), model.begin() + static_cast<long>(off));
    } else {
      auto got = read_node(*node, off, len);
      ASSERT_TRUE(std::equal(got.begin(), got.end(), model.begin() + static_cast<long>(off)));
    }
  }
  ASSERT_OK(node->flush());
  ASSERT_OK(node->close());
  EXPECT_EQ(read_host_file(path), model);
}

TEST_F(BlockFileTest, GrowsOnWritesAndReadsZerosPastTheEnd) {
  std::string path = make_file("g.img", pattern(1000, 0x11));
  auto node = open_node(graph_, "driver=file,node-name=f0,filename=" + path);
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->growable());
  auto past = read_node(*node, 900, 300);
  EXPECT_EQ(std::vector<uint8_t>(past.begin(), past.begin() + 100), pattern(100, 0x11));
  EXPECT_EQ(std::vector<uint8_t>(past.begin() + 100, past.end()), pattern(200, 0));
  ASSERT_OK(node->write(5000, pattern(10, 0x22)));
  EXPECT_EQ(node->size(), 5010u);
  EXPECT_EQ(host_file_size(path), 5010u);
  auto gap = read_node(*node, 1000, 4000);
  EXPECT_EQ(gap, pattern(4000, 0));
}

TEST_F(BlockFileTest, DirectIoHandlesUnalignedRequestsWithoutGrowingTheFile) {
  std::mt19937_64 rng(2);
  std::vector<uint8_t> model = random_bytes(rng, 3 * 4096 + 123);  // not a multiple of 4 KiB
  std::string path = make_file("d.img", model);
  // O_DIRECT is not available on every file system (tmpfs): then this test has nothing to do.
  int probe = ::open(path.c_str(), O_RDWR | O_DIRECT);
  if (probe < 0)
    GTEST_SKIP() << "O_DIRECT is not supported in " << dir_.path();
  ::close(probe);
  auto node = open_node(graph_, "driver=file,node-name=f0,cache.direct=on,filename=" + path);
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->options().cache_direct);
  for (int i = 0; i < 100; i++) {
    uint64_t off = rng() % model.size();
    size_t len = 1 + rng() % 9000;
    if (off + len > model.size())
      len = model.size() - off;
    auto data = random_bytes(rng, len);
    ASSERT_OK(node->write(off, data));
    std::copy(data.begin(), data.end(), model.begin() + static_cast<long>(off));
    auto got = read_node(*node, rng() % model.size(), 1 + rng() % 7000);
    (void)got;
  }
  // A write at the unaligned end extends the file by exactly the bytes written.
  ASSERT_OK(node->write(model.size(), pattern(7, 0x5a)));
  model.insert(model.end(), 7, 0x5a);
  EXPECT_EQ(node->size(), model.size());
  EXPECT_EQ(read_node(*node, 0, model.size()), model);
  ASSERT_OK(node->close());
  EXPECT_EQ(read_host_file(path), model);
}

TEST_F(BlockFileTest, DiscardPunchesHolesOnlyWithDiscardUnmap) {
  std::string path = make_file("h.img", pattern(1 << 20, 0x77));
  {
    auto node = open_node(graph_, "driver=file,node-name=f0,filename=" + path);
    ASSERT_TRUE(node);
    ASSERT_OK(node->discard(0, 1 << 20));  // discard=ignore: nothing happens
    EXPECT_EQ(read_node(*node, 0, 4096), pattern(4096, 0x77));
    ASSERT_OK(graph_.blockdev_del("f0"));
  }
  auto node = open_node(graph_, "driver=file,node-name=f1,discard=unmap,filename=" + path);
  ASSERT_TRUE(node);
  ASSERT_OK(node->discard(256 << 10, 512 << 10));
  EXPECT_EQ(read_node(*node, 256 << 10, 512 << 10), pattern(512 << 10, 0));
  EXPECT_EQ(read_node(*node, 0, 256 << 10), pattern(256 << 10, 0x77));
  auto st = node->block_status(256 << 10, 512 << 10);
  ASSERT_OK(st);
  EXPECT_TRUE(st->zero);
  EXPECT_FALSE(st->data);
  EXPECT_TRUE(st->allocated);
  auto st0 = node->block_status(0, 1 << 20);
  ASSERT_OK(st0);
  EXPECT_TRUE(st0->data);
  EXPECT_EQ(st0->bytes, 256u << 10);
}

TEST_F(BlockFileTest, WriteZeroes) {
  std::string path = make_file("z.img", pattern(100000, 0x33));
  auto node = open_node(graph_, "driver=file,node-name=f0,discard=unmap,filename=" + path);
  ASSERT_TRUE(node);
  ASSERT_OK(node->write_zeroes(10, 50000));
  ASSERT_OK(node->write_zeroes(60000, 40000, ZeroMode::kMayUnmap));
  auto all = read_node(*node, 0, 100000);
  EXPECT_EQ(std::vector<uint8_t>(all.begin(), all.begin() + 10), pattern(10, 0x33));
  EXPECT_EQ(std::vector<uint8_t>(all.begin() + 10, all.begin() + 50010), pattern(50000, 0));
  EXPECT_EQ(std::vector<uint8_t>(all.begin() + 50010, all.begin() + 60000), pattern(9990, 0x33));
  EXPECT_EQ(std::vector<uint8_t>(all.begin() + 60000, all.end()), pattern(40000, 0));
  // Zeroes past the end extend the file.
  ASSERT_OK(node->write_zeroes(100000, 1000));
  EXPECT_EQ(node->size(), 101000u);
}

TEST_F(BlockFileTest, ReadOnlyRefusesWritesAndReopenSwitches) {
  std::string path = make_file("r.img", pattern(8192, 1));
  auto node = open_node(graph_, "driver=file,node-name=f0,read-only=on,filename=" + path);
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->read_only());
  Status st = node->write(0, pattern(10, 2));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Block node 'f0' is read-only");
  EXPECT_FALSE(node->write_zeroes(0, 10).ok());
  EXPECT_FALSE(node->discard(0, 10).ok());
  EXPECT_OK(node->flush());  // nothing to flush
  EXPECT_EQ(node->stats().invalid_wr_operations, 2u);
  ASSERT_OK(node->reopen(AccessMode::kReadWrite));
  EXPECT_FALSE(node->read_only());
  ASSERT_OK(node->write(0, pattern(10, 2)));
  ASSERT_OK(node->reopen(AccessMode::kReadOnly));
  EXPECT_FALSE(node->write(0, pattern(10, 3)).ok());
  EXPECT_EQ(read_node(*node, 0, 10), pattern(10, 2));
}

TEST_F(BlockFileTest, OpenErrorsAreQemuLike) {
  auto r = graph_.blockdev_open(kv("driver=file,node-name=f0,filename=" + dir_.file("nope.img")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "Could not open '" + dir_.file("nope.img") + "': No such file or directory");
  r = graph_.blockdev_open(kv("driver=file,node-name=f0,filename=" + dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("Is a directory"), std::string::npos) << error_of(r);
  r = graph_.blockdev_open(kv("driver=file,node-name=f0"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "Parameter 'filename' is missing");
  std::string path = make_file("x.img", pattern(10, 0));
  r = graph_.blockdev_open(kv("driver=file,node-name=f0,aio=bogus,filename=" + path));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "Parameter 'aio' does not accept value 'bogus'");
  r = graph_.blockdev_open(kv("driver=host_device,node-name=f0,filename=" + path));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "'" + path + "' is not a block device");
  // Nothing half-opened stays registered.
  EXPECT_TRUE(graph_.nodes().empty());
}

TEST_F(BlockFileTest, RequestsOutOfRangeAndClosedNodesFail) {
  std::string path = make_file("c.img", pattern(10, 0));
  auto node = open_node(graph_, "driver=file,node-name=f0,filename=" + path);
  ASSERT_TRUE(node);
  std::vector<uint8_t> buf(16);
  EXPECT_FALSE(node->read(UINT64_MAX - 4, buf).ok());
  ASSERT_OK(node->close());
  Status st = node->read(0, buf);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Block node 'f0' is closed");
}

}  // namespace
}  // namespace colo::block
