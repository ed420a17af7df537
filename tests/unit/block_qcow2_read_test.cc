// SPDX-License-Identifier: GPL-2.0-or-later
//
// qcow2 images made by qemu-img and written by qemu-io read back exactly as qemu-img sees them:
// all cluster sizes, v2 and v3, every refcount width, zero clusters, backing chains, and the
// features colovm refuses (with the reason).
#include <algorithm>

#include "block/block.h"
#include "block/blockdev.h"
#include "block_test_util.h"

namespace colo::block {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

class Qcow2ReadTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_QEMU_TOOLS(); }

  // Reads the whole node and compares it with `qemu-img convert` of the image.
  void expect_same_contents(BlockNode& node, const std::string& path) {
    std::vector<uint8_t> want = qemu_img_contents(path, "qcow2", dir_.file("scratch.raw"));
    ASSERT_EQ(want.size(), node.size());
    std::vector<uint8_t> got(node.size());
    ASSERT_OK(node.read(0, got));
    ASSERT_TRUE(got == want) << "contents differ from qemu-img's view of " << path;
    // And in odd-sized pieces.
    std::mt19937_64 rng(7);
    for (int i = 0; i < 50; i++) {
      uint64_t off = rng() % want.size();
      uint64_t len = std::min<uint64_t>(1 + rng() % 300000, want.size() - off);
      auto part = read_node(node, off, len);
      ASSERT_TRUE(std::equal(part.begin(), part.end(), want.begin() + static_cast<long>(off)))
          << "at " << off << "+" << len;
    }
  }

  // Compares block_status() with `qemu-img map` (present = allocated in this layer).
  void expect_same_map(BlockNode& node, const std::string& path) {
    std::string out = must_run("qemu-img map -f qcow2 --output=json " + shell_quote(path));
    auto map = nlohmann::json::parse(out);
    for (const auto& e : map) {
      uint64_t start = e["start"], length = e["length"];
      bool present = e["present"], zero = e["zero"], data = e["data"];
      if (e["depth"] != 0)
        present = false;
      uint64_t off = start;
      while (off < start + length) {
        auto st = node.block_status(off, start + length - off);
        ASSERT_OK(st);
        EXPECT_EQ(st->allocated, present) << "at " << off;
        if (present) {
          EXPECT_EQ(st->zero, zero) << "at " << off;
          EXPECT_EQ(st->data, data) << "at " << off;
        }
        off += st->bytes;
      }
    }
  }

  TempDir dir_;
  BlockGraph graph_;
};

struct Layout {
  int cluster_size;
  const char* compat;
};

class Qcow2ReadLayoutTest : public Qcow2ReadTest, public ::testing::WithParamInterface<Layout> {};

TEST_P(Qcow2ReadLayoutTest, ReadsWhatQemuIoWrote) {
  const Layout l = GetParam();
  std::string path = dir_.file("img.qcow2");
  qemu_img_create(path, "qcow2", "9M",
                  "cluster_size=" + std::to_string(l.cluster_size) + ",compat=" + l.compat);
  qemu_io(path, "qcow2", "write -P 0xab 0 64k");
  qemu_io(path, "qcow2", "write -P 0x11 1000 3000");
  qemu_io(path, "qcow2", "write -P 0x22 4000000 300000");  // across cluster boundaries
  qemu_io(path, "qcow2", "write -P 0x33 9437000 184");     // the last bytes
  qemu_io(path, "qcow2", "write -P 0x44 2M 1M");
  qemu_io(path, "qcow2", "write -z 2M 512k");  // v3: zero clusters (where whole)
  qemu_io(path, "qcow2", "discard 0 4096");
  auto node = open_qcow2(graph_, "disk", path, "read-only=on");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->size(), 9u << 20);
  expect_same_contents(*node, path);
  expect_same_map(*node, path);
  ImageInfo info = node->image_info();
  EXPECT_EQ(info.format, "qcow2");
  EXPECT_EQ(info.virtual_size, 9u << 20);
  EXPECT_EQ(info.cluster_size, static_cast<uint64_t>(l.cluster_size));
  ASSERT_TRUE(info.qcow2);
  EXPECT_EQ(info.qcow2->compat, l.compat);
  EXPECT_EQ(info.filename, path);
}

INSTANTIATE_TEST_SUITE_P(Layouts, Qcow2ReadLayoutTest,
                         ::testing::Values(Layout{512, "1.1"}, Layout{512, "0.10"},
                                           Layout{4096, "1.1"}, Layout{4096, "0.10"},
                                           Layout{65536, "1.1"}, Layout{65536, "0.10"},
                                           Layout{1 << 21, "1.1"}, Layout{1 << 21, "0.10"}),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param.cluster_size) + "_" +
                                  (std::string(param_info.param.compat) == "1.1" ? "v3" : "v2");
                         });

TEST_F(Qcow2ReadTest, EveryRefcountWidthReads) {
  for (int bits : {1, 2, 4, 8, 16, 32, 64}) {
    SCOPED_TRACE(bits);
    std::string path = dir_.file("rc" + std::to_string(bits) + ".qcow2");
    qemu_img_create(path, "qcow2", "4M", "cluster_size=4k,refcount_bits=" + std::to_string(bits));
    qemu_io(path, "qcow2", "write -P 0x5c 12345 100000");
    auto node = open_qcow2(graph_, "rc" + std::to_string(bits), path, "read-only=on");
    ASSERT_TRUE(node);
    expect_same_contents(*node, path);
    EXPECT_EQ(node->image_info().qcow2->refcount_bits, bits);
  }
}

TEST_F(Qcow2ReadTest, BackingChainRawQcow2Qcow2) {
  // base.raw <- mid.qcow2 (64k clusters) <- top.qcow2 (4k clusters), relative backing names.
  std::mt19937_64 rng(3);
  write_host_file(dir_.file("base.raw"), random_bytes(rng, 4 << 20));
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 && "
           "qemu-img create -q -f qcow2 -o cluster_size=4k -b mid.qcow2 -F qcow2 top.qcow2 6M");
  qemu_io(dir_.file("mid.qcow2"), "qcow2", "write -P 0x01 100000 200000");
  qemu_io(dir_.file("mid.qcow2"), "qcow2", "write -z 1M 128k");
  qemu_io(dir_.file("top.qcow2"), "qcow2", "write -P 0x02 150000 1000");
  qemu_io(dir_.file("top.qcow2"), "qcow2", "write -P 0x03 4194000 10000");  // past base's end
  qemu_io(dir_.file("top.qcow2"), "qcow2", "write -z 2M 8k");

  auto top = open_qcow2(graph_, "top", dir_.file("top.qcow2"), "read-only=on");
  ASSERT_TRUE(top);
  EXPECT_EQ(top->size(), 6u << 20);
  auto mid = top->backing();
  ASSERT_TRUE(mid);
  EXPECT_EQ(mid->driver_name(), "qcow2");
  EXPECT_TRUE(mid->read_only());
  auto base = mid->backing();
  ASSERT_TRUE(base);
  EXPECT_EQ(base->driver_name(), "raw");
  EXPECT_EQ(base->filename(), dir_.file("base.raw"));
  expect_same_contents(*top, dir_.file("top.qcow2"));
  expect_same_map(*top, dir_.file("top.qcow2"));

  ImageInfo info = top->image_info();
  EXPECT_EQ(info.backing_filename, "mid.qcow2");
  EXPECT_EQ(info.backing_filename_format, "qcow2");
  EXPECT_EQ(info.full_backing_filename, dir_.file("mid.qcow2"));
  ASSERT_TRUE(info.backing_image);
  EXPECT_EQ(info.backing_image->backing_filename, "base.raw");
  ASSERT_TRUE(info.backing_image->backing_image);
  EXPECT_EQ(info.backing_image->backing_image->format, "raw");
  EXPECT_FALSE(info.backing_image->backing_image->backing_image);

  // Allocation through the chain.
  uint64_t pnum = 0;
  auto a = is_allocated_above(*top, nullptr, 0, 100000, &pnum);
  ASSERT_OK(a);
  EXPECT_TRUE(*a);  // the raw base decides everything
  a = is_allocated_above(*top, base.get(), 0, 100000, &pnum);
  ASSERT_OK(a);
  EXPECT_FALSE(*a);
  EXPECT_EQ(pnum, 65536u);  // mid's first cluster is where its data starts
  a = is_allocated_above(*top, base.get(), 150000, 10, &pnum);
  ASSERT_OK(a);
  EXPECT_TRUE(*a);
}

TEST_F(Qcow2ReadTest, BackingOverridesAndMissingBacking) {
  write_host_file(dir_.file("base.raw"), pattern(1 << 20, 0x99));
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -b base.raw -F raw top.qcow2");
  // backing=null: unallocated clusters read as zeros.
  auto top = open_qcow2(graph_, "top", dir_.file("top.qcow2"), "read-only=on,backing=null");
  ASSERT_TRUE(top);
  EXPECT_FALSE(top->backing());
  EXPECT_EQ(read_node(*top, 0, 4096), pattern(4096, 0));
  // backing=<node>
  auto other = open_node(graph_, "driver=raw,node-name=other,file.driver=file,file.filename=" +
                                     dir_.file("base.raw") + ",read-only=on");
  write_host_file(dir_.file("other.raw"), pattern(1 << 20, 0x42));
  auto other2 = open_node(graph_,
                          "driver=raw,node-name=other2,read-only=on,file.driver=file,"
                          "file.filename=" +
                              dir_.file("other.raw"));
  auto top2 = open_qcow2(graph_, "top2", dir_.file("top.qcow2"), "read-only=on,backing=other2");
  ASSERT_TRUE(top2);
  EXPECT_EQ(top2->backing(), other2);
  EXPECT_EQ(read_node(*top2, 0, 16), pattern(16, 0x42));
  // A missing backing file is an error that names it.
  must_run("cd " + shell_quote(dir_.path()) + " && rm base.raw");
  auto r =
      graph_.blockdev_open(kv("driver=qcow2,node-name=t3,read-only=on,file.driver=file,"
                              "file.filename=" +
                              dir_.file("top.qcow2")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "Could not open backing file 'base.raw': Could not open '" +
                                     dir_.file("base.raw") + "': No such file or directory");
}

TEST_F(Qcow2ReadTest, BackingFileProtocols) {
  write_host_file(dir_.file("base.raw"), pattern(65536, 0x3c));
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -u -b file:base.raw -F raw f.qcow2 64k"
           " && qemu-img create -q -f qcow2 -u -b nbd:localhost:10809 -F raw n.qcow2 64k");
  auto f = open_qcow2(graph_, "f", dir_.file("f.qcow2"), "read-only=on");
  ASSERT_TRUE(f);
  EXPECT_EQ(read_node(*f, 0, 8), pattern(8, 0x3c));
  auto r =
      graph_.blockdev_open(kv("driver=qcow2,node-name=n,read-only=on,file.driver=file,"
                              "file.filename=" +
                              dir_.file("n.qcow2")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "Unknown protocol in backing file name 'nbd:localhost:10809'");
}

TEST_F(Qcow2ReadTest, BackingWithoutFormatIsProbed) {
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 base.qcow2 1M && "
           "qemu-io -f qcow2 -c 'write -P 0x61 0 4k' base.qcow2 >/dev/null && "
           "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2");
  // Turn the backing format extension into an unknown one (which must be ignored).
  std::string top_path = dir_.file("top.qcow2");
  std::vector<uint8_t> head = read_host_file(top_path);
  std::vector<uint8_t> magic = be32(0xe2792aca);
  auto it = std::search(head.begin() + 104, head.begin() + 4096, magic.begin(), magic.end());
  ASSERT_NE(it, head.begin() + 4096);
  patch_file(top_path, static_cast<uint64_t>(it - head.begin()), be32(0x0badf00d));
  auto top = open_qcow2(graph_, "top", top_path, "read-only=on");
  ASSERT_TRUE(top);
  EXPECT_EQ(top->backing_format(), "");
  ASSERT_TRUE(top->backing());
  EXPECT_EQ(top->backing()->driver_name(), "qcow2");
  EXPECT_EQ(read_node(*top, 0, 4096), pattern(4096, 0x61));
}

TEST_F(Qcow2ReadTest, InternalSnapshotsAreReadableButNotWritable) {
  std::string path = dir_.file("snap.qcow2");
  qemu_img_create(path, "qcow2", "1M");
  qemu_io(path, "qcow2", "write -P 0x01 0 64k");
  must_run("qemu-img snapshot -c s1 " + shell_quote(path));
  qemu_io(path, "qcow2", "write -P 0x02 0 4k");
  auto node = open_qcow2(graph_, "snap", path, "read-only=on");
  ASSERT_TRUE(node);
  EXPECT_EQ(read_node(*node, 0, 4096), pattern(4096, 0x02));
  EXPECT_EQ(read_node(*node, 4096, 4096), pattern(4096, 0x01));
  auto r =
      graph_.blockdev_open(kv("driver=qcow2,node-name=w,file.driver=file,file.filename=" + path));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("has internal snapshots; writing to it is not supported"),
            std::string::npos)
      << error_of(r);
  EXPECT_FALSE(r.error().hint().empty());
}

TEST_F(Qcow2ReadTest, CompressedClustersAreRefusedWhenRead) {
  write_host_file(dir_.file("src.raw"), pattern(256 << 10, 0x7e));
  must_run("qemu-img convert -c -f raw -O qcow2 " + shell_quote(dir_.file("src.raw")) + " " +
           shell_quote(dir_.file("c.qcow2")));
  auto node = open_qcow2(graph_, "c", dir_.file("c.qcow2"), "read-only=on");
  ASSERT_TRUE(node);
  std::vector<uint8_t> buf(4096);
  Status st = node->read(0, buf);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("compressed clusters are not supported"), std::string::npos)
      << st.error().message();
  // zstd as compression type (without compressed clusters) is fine.
  std::string z = dir_.file("z.qcow2");
  qemu_img_create(z, "qcow2", "1M", "compression_type=zstd");
  qemu_io(z, "qcow2", "write -P 0x5 0 4k");
  auto zn = open_qcow2(graph_, "z", z);
  ASSERT_TRUE(zn);
  EXPECT_EQ(read_node(*zn, 0, 4096), pattern(4096, 5));
  EXPECT_EQ(zn->image_info().qcow2->compression_type, "zstd");
}

TEST_F(Qcow2ReadTest, UnsupportedFeaturesAreRefusedWithReasons) {
  struct Case {
    std::string name;
    std::string create;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"luks.qcow2",
       "qemu-img create -q -f qcow2 --object secret,id=sec0,data=123456 -o "
       "encrypt.format=luks,encrypt.key-secret=sec0 luks.qcow2 1M",
       "qcow2 encryption (method 2) is not supported"},
      {"aes.qcow2",
       "qemu-img create -q -f qcow2 --object secret,id=sec0,data=123456 -o "
       "encrypt.format=aes,encrypt.key-secret=sec0,compat=0.10 aes.qcow2 1M",
       "qcow2 encryption (method 1) is not supported"},
      {"ext.qcow2", "qemu-img create -q -f qcow2 -o extended_l2=on ext.qcow2 1M",
       "Extended L2 entries (subclusters) are not supported"},
      {"df.qcow2", "qemu-img create -q -f qcow2 -o data_file=df.raw df.qcow2 1M",
       "External data files are not supported"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CommandResult made = run_command("cd " + shell_quote(dir_.path()) + " && " + c.create);
    ASSERT_EQ(made.status, 0) << made.output;
    auto r =
        graph_.blockdev_open(kv("driver=qcow2,node-name=n,read-only=on,file.driver=file,"
                                "file.filename=" +
                                dir_.file(c.name)));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "'" + dir_.file(c.name) + "': " + c.expect);
  }
  // An unknown incompatible feature bit is named from the feature table when it has a name.
  std::string path = dir_.file("feat.qcow2");
  qemu_img_create(path, "qcow2", "1M");
  patch_file(path, 72, be64(UINT64_C(1) << 40));
  auto r = graph_.blockdev_open(
      kv("driver=qcow2,node-name=n,read-only=on,file.driver=file,file.filename=" + path));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "'" + path + "': Unsupported qcow2 feature(s): unknown feature bit 40");
  patch_file(path, 72, be64(UINT64_C(1) << 4));  // "extended L2 entries" in the name table
  r = graph_.blockdev_open(
      kv("driver=qcow2,node-name=n,read-only=on,file.driver=file,file.filename=" + path));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "'" + path + "': Extended L2 entries (subclusters) are not supported");
  EXPECT_TRUE(graph_.nodes().empty());
}

TEST_F(Qcow2ReadTest, DirtyCorruptAndBitmapImagesOpenReadOnlyOnly) {
  std::string path = dir_.file("flags.qcow2");
  qemu_img_create(path, "qcow2", "1M");
  qemu_io(path, "qcow2", "write -P 0x0f 0 4k");
  std::string rw = "driver=qcow2,node-name=rw,file.driver=file,file.filename=" + path;
  std::string ro = rw + ",read-only=on";
  struct Flag {
    uint64_t bits;
    const char* expect;
  };
  for (Flag f : {Flag{1, "is dirty"}, Flag{2, "is corrupt; cannot be opened read/write"}}) {
    patch_file(path, 72, be64(f.bits));
    auto r = graph_.blockdev_open(kv(rw));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find(f.expect), std::string::npos) << error_of(r);
    auto n = graph_.blockdev_open(kv(ro));
    ASSERT_OK(n);
    EXPECT_EQ(read_node(**n, 0, 4096), pattern(4096, 0x0f));
    ASSERT_OK(graph_.blockdev_del("rw"));
  }
  patch_file(path, 72, be64(0));
  must_run("qemu-img bitmap --add " + shell_quote(path) + " b0");
  auto r = graph_.blockdev_open(kv(rw));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("persistent dirty bitmaps"), std::string::npos) << error_of(r);
  auto n = graph_.blockdev_open(kv(ro));
  ASSERT_OK(n);
  EXPECT_EQ(read_node(**n, 0, 4096), pattern(4096, 0x0f));
}

}  // namespace
}  // namespace colo::block
