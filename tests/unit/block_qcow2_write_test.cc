// SPDX-License-Identifier: GPL-2.0-or-later
//
// Images colovm writes pass `qemu-img check` with no errors or leaks and `qemu-img compare`
// equal to a raw file holding the same data: random unaligned writes in every layout, refcount
// widths, refcount table growth, tiny caches, write_zeroes, discard and cluster reuse,
// copy-on-write from a backing file, flush durability, and concurrent writers.
#include <set>
#include <thread>

#include "block/block.h"
#include "block/blockdev.h"
#include "block_test_util.h"

namespace colo::block {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

class Qcow2WriteTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_QEMU_TOOLS(); }

  // Random writes (and, if asked, zeroes and discards) applied to the node and to `model`.
  void random_io(BlockNode& node, std::vector<uint8_t>& model, std::mt19937_64& rng, int ops,
                 size_t max_len, bool zeroes_and_discards) {
    for (int i = 0; i < ops; i++) {
      uint64_t off = rng() % model.size();
      uint64_t len = std::min<uint64_t>(1 + rng() % max_len, model.size() - off);
      int kind = zeroes_and_discards ? static_cast<int>(rng() % 10) : 0;
      if (kind == 8) {
        ASSERT_OK(
            node.write_zeroes(off, len, rng() % 2 ? ZeroMode::kMayUnmap : ZeroMode::kAllocate));
        std::fill(model.begin() + static_cast<long>(off),
                  model.begin() + static_cast<long>(off + len), 0);
      } else if (kind == 9) {
        // Discard leaves undefined data: read it back into the model.
        ASSERT_OK(node.discard(off, len));
        std::vector<uint8_t> now(len);
        ASSERT_OK(node.read(off, now));
        std::copy(now.begin(), now.end(), model.begin() + static_cast<long>(off));
      } else {
        auto data = random_bytes(rng, len);
        ASSERT_OK(node.write(off, data));
        std::copy(data.begin(), data.end(), model.begin() + static_cast<long>(off));
      }
      if (i % 16 == 0) {
        uint64_t roff = rng() % model.size();
        uint64_t rlen = std::min<uint64_t>(1 + rng() % max_len, model.size() - roff);
        auto got = read_node(node, roff, rlen);
        ASSERT_TRUE(std::equal(got.begin(), got.end(), model.begin() + static_cast<long>(roff)))
            << "read at " << roff << "+" << rlen << " after op " << i;
      }
    }
  }

  // The image passes qemu-img check and equals `model`.
  void expect_image_equals(const std::string& path, const std::vector<uint8_t>& model) {
    EXPECT_QCOW2_CLEAN(path);
    std::string raw = dir_.file("model.raw");
    write_host_file(raw, model);
    std::string out;
    EXPECT_TRUE(qemu_img_compare(path, "qcow2", raw, "raw", &out)) << out;
  }

  TempDir dir_;
  BlockGraph graph_;
};

struct Layout {
  int cluster_size;
  const char* compat;
  int refcount_bits;
};

class Qcow2WriteLayoutTest : public Qcow2WriteTest, public ::testing::WithParamInterface<Layout> {};

TEST_P(Qcow2WriteLayoutTest, RandomIoPassesQemuImgCheckAndCompare) {
  const Layout l = GetParam();
  std::string path = dir_.file("w.qcow2");
  uint64_t size = l.cluster_size >= (1 << 20) ? (24u << 20) : (6u << 20) + 1234;
  std::string opts = "cluster_size=" + std::to_string(l.cluster_size) + ",compat=" + l.compat;
  if (std::string(l.compat) == "1.1")
    opts += ",refcount_bits=" + std::to_string(l.refcount_bits);
  qemu_img_create(path, "qcow2", std::to_string(size), opts);
  qemu_io(path, "qcow2", "write -P 0x5a 10000 200000");  // data colovm overwrites in place
  std::vector<uint8_t> model(size, 0);
  std::fill(model.begin() + 10000, model.begin() + 210000, 0x5a);
  std::mt19937_64 rng(l.cluster_size + l.refcount_bits);
  {
    auto node = open_qcow2(graph_, "w", path, "discard=unmap");
    ASSERT_TRUE(node);
    int ops = l.cluster_size >= (1 << 20) ? 80 : 300;
    random_io(*node, model, rng, ops, 3 * static_cast<size_t>(l.cluster_size) + 5000, true);
    // The whole disk, the last byte, and a write covering the partial last cluster.
    ASSERT_OK(node->write(size - 1, pattern(1, 0xee)));
    model[size - 1] = 0xee;
    auto all = read_node(*node, 0, size);
    ASSERT_TRUE(all == model);
    ASSERT_OK(graph_.blockdev_del("w"));
  }
  expect_image_equals(path, model);
  // Written again after reopening (allocation resumes in the existing refcount structures).
  {
    auto node = open_qcow2(graph_, "w2", path);
    ASSERT_TRUE(node);
    random_io(*node, model, rng, 100, 2 * static_cast<size_t>(l.cluster_size) + 777, false);
    ASSERT_OK(graph_.blockdev_del("w2"));
  }
  expect_image_equals(path, model);
}

INSTANTIATE_TEST_SUITE_P(Layouts, Qcow2WriteLayoutTest,
                         ::testing::Values(Layout{512, "1.1", 16}, Layout{512, "0.10", 16},
                                           Layout{4096, "1.1", 16}, Layout{4096, "0.10", 16},
                                           Layout{65536, "1.1", 16}, Layout{65536, "0.10", 16},
                                           Layout{1 << 21, "1.1", 16}, Layout{1 << 21, "0.10", 16},
                                           Layout{512, "1.1", 1}, Layout{512, "1.1", 2},
                                           Layout{512, "1.1", 4}, Layout{512, "1.1", 8},
                                           Layout{512, "1.1", 32}, Layout{512, "1.1", 64},
                                           Layout{4096, "1.1", 1}, Layout{4096, "1.1", 64}),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param.cluster_size) + "_" +
                                  (std::string(param_info.param.compat) == "1.1" ? "v3" : "v2") +
                                  "_rc" + std::to_string(param_info.param.refcount_bits);
                         });

TEST_F(Qcow2WriteTest, GrowsRefcountTableAndBlocks) {
  // 512-byte clusters with 64-bit refcounts: a refcount block covers 64 clusters (32 KiB) and
  // the initial one-cluster table 64 blocks (2 MiB of file), so writing 6 MiB needs many new
  // blocks and a bigger table, twice.
  std::string path = dir_.file("grow.qcow2");
  qemu_img_create(path, "qcow2", "8M", "cluster_size=512,refcount_bits=64");
  uint64_t rt_before = read_be64_at(path, 48);
  std::vector<uint8_t> model(8 << 20, 0);
  std::mt19937_64 rng(11);
  {
    auto node = open_qcow2(graph_, "g", path);
    ASSERT_TRUE(node);
    for (uint64_t off = 0; off < (6u << 20); off += 65536 + 333) {
      auto data = random_bytes(rng, 40000);
      ASSERT_OK(node->write(off, data));
      std::copy(data.begin(), data.end(), model.begin() + static_cast<long>(off));
    }
    ASSERT_OK(graph_.blockdev_del("g"));
  }
  EXPECT_NE(read_be64_at(path, 48), rt_before) << "the refcount table should have moved";
  EXPECT_GT(host_file_size(path), 3u << 20);
  expect_image_equals(path, model);
}

TEST_F(Qcow2WriteTest, TinyCachesEvictDirtyTablesInOrder) {
  std::string path = dir_.file("tiny.qcow2");
  qemu_img_create(path, "qcow2", "4M", "cluster_size=512");
  std::vector<uint8_t> model(4 << 20, 0);
  std::mt19937_64 rng(5);
  {
    auto node = open_qcow2(graph_, "t", path, "l2-cache-size=1k,refcount-cache-size=1k");
    ASSERT_TRUE(node);
    random_io(*node, model, rng, 400, 4000, false);
    ASSERT_OK(graph_.blockdev_del("t"));
  }
  expect_image_equals(path, model);
}

TEST_F(Qcow2WriteTest, FlushPutsEverythingOnDisk) {
  // After flush() a copy of the file (as after a crash) is a complete, consistent image.
  std::string path = dir_.file("f.qcow2");
  qemu_img_create(path, "qcow2", "8M", "cluster_size=4k");
  std::vector<uint8_t> model(8 << 20, 0);
  std::mt19937_64 rng(9);
  auto node = open_qcow2(graph_, "f", path, "discard=unmap");
  ASSERT_TRUE(node);
  for (int round = 0; round < 3; round++) {
    random_io(*node, model, rng, 100, 20000, true);
    ASSERT_OK(node->flush());
    std::string copy = dir_.file("copy" + std::to_string(round) + ".qcow2");
    must_run("cp --sparse=always " + shell_quote(path) + " " + shell_quote(copy));
    expect_image_equals(copy, model);
  }
  EXPECT_GE(node->stats().flush_operations, 3u);
}

TEST_F(Qcow2WriteTest, WriteZeroesMakesZeroClustersOverABacking) {
  write_host_file(dir_.file("base.raw"), pattern(2 << 20, 0xbb));
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -o cluster_size=4k -b base.raw -F raw top.qcow2 && "
           "qemu-img create -q -f qcow2 -o cluster_size=4k,compat=0.10 -b base.raw -F raw "
           "top2.qcow2");
  for (const char* name : {"top.qcow2", "top2.qcow2"}) {
    SCOPED_TRACE(name);
    std::string path = dir_.file(name);
    std::vector<uint8_t> model(2 << 20, 0xbb);
    {
      auto node = open_qcow2(graph_, "z", path);
      ASSERT_TRUE(node);
      ASSERT_OK(node->write(4096, pattern(8192, 0x01)));
      ASSERT_OK(node->write_zeroes(1000, 100000));  // partial clusters at both ends
      std::fill(model.begin() + 4096, model.begin() + 4096 + 8192, 0x01);
      std::fill(model.begin() + 1000, model.begin() + 101000, 0);
      ASSERT_OK(node->write_zeroes(1 << 20, 1 << 20));  // to the end
      std::fill(model.begin() + (1 << 20), model.end(), 0);
      EXPECT_TRUE(read_node(*node, 0, 2 << 20) == model);
      auto st = node->block_status(8192, 4096);
      ASSERT_OK(st);
      EXPECT_TRUE(st->allocated);
      // v3 has zero clusters; v2 stores zeros as data.
      EXPECT_EQ(st->zero, std::string(name) == "top.qcow2");
      ASSERT_OK(graph_.blockdev_del("z"));
    }
    expect_image_equals(path, model);
    std::string map = must_run("qemu-img map -f qcow2 --output=json " + shell_quote(path));
    if (std::string(name) == "top.qcow2") {
      // v3: whole zero clusters are zero-flagged, not written.
      EXPECT_LT(host_file_size(path), 400u << 10) << map;
    }
  }
}

TEST_F(Qcow2WriteTest, DiscardFreesClustersForReuse) {
  std::string path = dir_.file("d.qcow2");
  qemu_img_create(path, "qcow2", "16M", "cluster_size=64k");
  std::vector<uint8_t> model(16 << 20, 0);
  std::mt19937_64 rng(13);
  auto node = open_qcow2(graph_, "d", path, "discard=unmap");
  ASSERT_TRUE(node);
  auto data = random_bytes(rng, 8 << 20);
  ASSERT_OK(node->write(0, data));
  ASSERT_OK(node->flush());
  uint64_t full = host_file_size(path);
  ASSERT_OK(node->discard(0, 8 << 20));
  EXPECT_EQ(read_node(*node, 0, 65536), pattern(65536, 0));
  uint64_t pnum = 0;
  auto alloc = node->is_allocated(0, 8 << 20, &pnum);
  ASSERT_OK(alloc);
  EXPECT_FALSE(*alloc);
  EXPECT_EQ(pnum, 8u << 20);
  ASSERT_OK(node->flush());
  EXPECT_QCOW2_CLEAN(path);
  // New data reuses the freed clusters: the file does not grow.
  ASSERT_OK(node->write(8 << 20, data));
  std::copy(data.begin(), data.end(), model.begin() + (8 << 20));
  ASSERT_OK(graph_.blockdev_del("d"));
  EXPECT_LE(host_file_size(path), full);
  expect_image_equals(path, model);
  // Punched holes: the file holds roughly the 8 MiB of live data.
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 10u << 20);
}

TEST_F(Qcow2WriteTest, CopyOnWriteFromBackingKeepsTheBaseIntact) {
  std::mt19937_64 rng(17);
  std::vector<uint8_t> base = random_bytes(rng, 3 << 20);
  write_host_file(dir_.file("base.raw"), base);
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -o cluster_size=64k -b base.raw -F raw top.qcow2 4M");
  std::vector<uint8_t> model = base;
  model.resize(4 << 20, 0);  // the top is bigger than its base
  {
    auto node = open_qcow2(graph_, "top", dir_.file("top.qcow2"));
    ASSERT_TRUE(node);
    random_io(*node, model, rng, 200, 100000, true);
    ASSERT_OK(graph_.blockdev_del("top"));
  }
  EXPECT_EQ(read_host_file(dir_.file("base.raw")), base);
  expect_image_equals(dir_.file("top.qcow2"), model);
}

TEST_F(Qcow2WriteTest, ManyL2TablesInALargeSparseDisk) {
  // 200 GiB virtual, 64 KiB clusters: an L2 table per 512 MiB, so scattered writes create
  // hundreds of L2 tables. Checked with qemu-io reads rather than a full-size raw file.
  std::string path = dir_.file("big.qcow2");
  qemu_img_create(path, "qcow2", "200G");
  std::mt19937_64 rng(19);
  std::vector<std::pair<uint64_t, uint8_t>> writes;
  {
    auto node = open_qcow2(graph_, "big", path);
    ASSERT_TRUE(node);
    std::set<uint64_t> slots;
    while (slots.size() < 300)
      slots.insert(rng() % (200ull << 10));  // distinct MiBs
    int i = 0;
    for (uint64_t slot : slots) {
      uint64_t off = (slot << 20) + rng() % 1000;
      uint8_t byte = static_cast<uint8_t>(1 + i++ % 250);
      ASSERT_OK(node->write(off, pattern(70000, byte)));
      writes.emplace_back(off, byte);
    }
    for (const auto& [off, byte] : writes) {
      ASSERT_EQ(read_node(*node, off, 70000), pattern(70000, byte)) << "at " << off;
    }
    ASSERT_OK(graph_.blockdev_del("big"));
  }
  EXPECT_QCOW2_CLEAN(path);
  // The last 20 writes, verified by qemu-io.
  for (size_t i = writes.size() - 20; i < writes.size(); i++) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "read -P %u %llu 70000", writes[i].second,
             static_cast<unsigned long long>(writes[i].first));
    std::string out = qemu_io(path, "qcow2", cmd);
    EXPECT_EQ(out.find("Pattern verification failed"), std::string::npos) << out;
  }
}

TEST_F(Qcow2WriteTest, ReadOnlyNodesRefuseWrites) {
  std::string path = dir_.file("ro.qcow2");
  qemu_img_create(path, "qcow2", "1M");
  auto before = read_host_file(path);
  auto node = open_qcow2(graph_, "ro", path, "read-only=on");
  ASSERT_TRUE(node);
  Status st = node->write(0, pattern(10, 1));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Block node 'ro' is read-only");
  EXPECT_FALSE(node->write_zeroes(0, 4096).ok());
  EXPECT_FALSE(node->discard(0, 4096).ok());
  EXPECT_FALSE(node->make_empty().ok());
  ASSERT_OK(graph_.blockdev_del("ro"));
  EXPECT_EQ(read_host_file(path), before);
  // Opening the format read-write over a read-only file is refused.
  auto f = open_node(graph_, "driver=file,node-name=rofile,read-only=on,filename=" + path);
  ASSERT_TRUE(f);
  auto r = graph_.blockdev_open(kv("driver=qcow2,node-name=q,file=rofile"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "Cannot open 'q' read-write: its file 'rofile' is read-only");
}

TEST_F(Qcow2WriteTest, HeaderAndExtensionsArePreserved) {
  write_host_file(dir_.file("base.raw"), pattern(1 << 20, 1));
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -b base.raw -F raw top.qcow2");
  std::string path = dir_.file("top.qcow2");
  // An unknown auto-clear bit must be cleared before writing; everything else stays.
  patch_file(path, 88, be64(UINT64_C(1) << 5));
  auto before = read_host_file(path);
  before.resize(65536);
  {
    auto node = open_qcow2(graph_, "top", path);
    ASSERT_TRUE(node);
    std::mt19937_64 rng(23);
    std::vector<uint8_t> model(1 << 20, 1);
    random_io(*node, model, rng, 50, 50000, true);
    ASSERT_OK(graph_.blockdev_del("top"));
  }
  auto after = read_host_file(path);
  after.resize(65536);
  EXPECT_EQ(read_be64_at(path, 88), 0u);
  for (size_t i = 88; i < 96; i++)
    before[i] = 0;
  EXPECT_TRUE(before == after) << "the first cluster changed";
  EXPECT_QCOW2_CLEAN(path);
}

TEST_F(Qcow2WriteTest, ConcurrentWritersOnOneNode) {
  std::string path = dir_.file("mt.qcow2");
  qemu_img_create(path, "qcow2", "16M", "cluster_size=4k");
  std::vector<uint8_t> model(16 << 20, 0);
  {
    auto node = open_qcow2(graph_, "mt", path);
    ASSERT_TRUE(node);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(100 + t);
        uint64_t region = static_cast<uint64_t>(t) * (4 << 20);
        for (int i = 0; i < 100; i++) {
          uint64_t off = region + rng() % ((4 << 20) - 20000);
          auto data = random_bytes(rng, 1 + rng() % 20000);
          if (!node->write(off, data).ok())
            return;
          std::copy(data.begin(), data.end(), model.begin() + static_cast<long>(off));
          std::vector<uint8_t> back(data.size());
          if (!node->read(off, back).ok() || back != data)
            return;
        }
      });
    }
    for (auto& th : threads)
      th.join();
    EXPECT_EQ(node->stats().wr_operations, 400u);
    EXPECT_EQ(node->stats().failed_wr_operations, 0u);
    ASSERT_OK(graph_.blockdev_del("mt"));
  }
  expect_image_equals(path, model);
}

}  // namespace
}  // namespace colo::block
