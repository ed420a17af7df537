// SPDX-License-Identifier: GPL-2.0-or-later
//
// Broken qcow2 images fail cleanly: truncated files, flipped header fields, tables pointing
// at garbage or past the end, metadata overlaps, and random byte flips. Every case ends in an
// error (or, for harmless damage, in reads that still work), never in a crash.
#include "block/block.h"
#include "block/blockdev.h"
#include "block_test_util.h"

namespace colo::block {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

class Qcow2CorruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_QEMU_TOOLS();
    good_ = dir_.file("good.qcow2");
    qemu_img_create(good_, "qcow2", "1M", "cluster_size=4k");
    qemu_io(good_, "qcow2", "write -P 0xa1 0 12k");
    qemu_io(good_, "qcow2", "write -P 0xa2 600k 5000");
    image_ = read_host_file(good_);
  }

  std::string variant(const std::string& name, const std::vector<uint8_t>& data) {
    std::string path = dir_.file(name);
    write_host_file(path, data);
    return path;
  }

  Result<std::shared_ptr<BlockNode>> open(const std::string& path, bool writable,
                                          const std::string& node = "n") {
    std::string opts = "driver=qcow2,node-name=" + node + ",file.driver=file,file.filename=" + path;
    if (!writable)
      opts += ",read-only=on";
    return graph_.blockdev_open(kv(opts));
  }

  // Opening must fail with `expect` in the message.
  void expect_open_error(const std::vector<uint8_t>& data, const std::string& expect) {
    std::string path = variant("bad.qcow2", data);
    auto r = open(path, false);
    ASSERT_FALSE(r.ok()) << "expected: " << expect;
    EXPECT_NE(r.error().message().find(expect), std::string::npos) << r.error().message();
    EXPECT_TRUE(graph_.nodes().empty());
  }

  // Exercises an image that may be broken: opening, reading everything, and writing, each of
  // which may fail but must not crash.
  void exercise(const std::string& path) {
    for (bool writable : {false, true}) {
      auto r = open(path, writable, "x");
      if (!r.ok())
        continue;
      BlockNode& node = **r;
      std::vector<uint8_t> buf(node.size() < (4u << 20) ? node.size() : (4u << 20));
      (void)node.read(0, buf);
      uint64_t pnum;
      if (node.size() > 0)
        (void)node.is_allocated(0, node.size(), &pnum);
      if (writable && node.size() > 70000) {
        (void)node.write(1000, pattern(70000, 0x5e));
        (void)node.write_zeroes(0, 8192);
        (void)node.discard(0, 8192);
        (void)node.flush();
        (void)node.make_empty();
      }
      (void)graph_.blockdev_del("x");
    }
  }

  uint64_t field64(uint64_t off) const {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
      v = v << 8 | image_[off + i];
    return v;
  }
  std::vector<uint8_t> with(uint64_t off, const std::vector<uint8_t>& bytes) const {
    std::vector<uint8_t> d = image_;
    if (d.size() < off + bytes.size())
      d.resize(off + bytes.size());
    std::copy(bytes.begin(), bytes.end(), d.begin() + static_cast<long>(off));
    return d;
  }

  TempDir dir_;
  BlockGraph graph_;
  std::string good_;
  std::vector<uint8_t> image_;
};

TEST_F(Qcow2CorruptTest, TheGoodImageIsGood) {
  auto r = open(good_, true);
  ASSERT_OK(r);
  EXPECT_EQ(read_node(**r, 0, 12288), pattern(12288, 0xa1));
}

TEST_F(Qcow2CorruptTest, HeaderFieldsAreValidated) {
  expect_open_error(with(0, be32(0x12345678)), "Image is not in qcow2 format");
  expect_open_error(with(4, be32(1)), "Unsupported qcow2 version 1");
  expect_open_error(with(4, be32(4)), "Unsupported qcow2 version 4");
  expect_open_error(with(20, be32(8)), "Unsupported cluster size: 2^8");
  expect_open_error(with(20, be32(22)), "Unsupported cluster size: 2^22");
  expect_open_error(with(20, be32(0xffffffff)), "Unsupported cluster size");
  expect_open_error(with(24, be64(UINT64_C(1) << 63)), "Image size is too large");
  expect_open_error(with(24, be64(UINT64_C(1) << 50)), "Image is too big");
  expect_open_error(with(24, be64(UINT64_C(1) << 40)), "L1 table is too small");
  expect_open_error(with(32, be32(1)), "qcow2 encryption (method 1) is not supported");
  expect_open_error(with(36, be32(0xffffffff)), "Active L1 table too large");
  expect_open_error(with(36, be32(100000)), "L1 table is past the end of the image file");
  expect_open_error(with(40, be64(field64(40) + 8)), "Invalid L1 table offset");
  expect_open_error(with(40, be64(0)), "Invalid L1 table offset");
  expect_open_error(with(40, be64(UINT64_C(1) << 60)), "L1 table is past the end");
  expect_open_error(with(48, be64(field64(48) + 512)), "Invalid reference count table offset");
  expect_open_error(with(48, be64(UINT64_C(1) << 40)),
                    "Reference count table is past the end of the image file");
  expect_open_error(with(56, be32(0)), "Image does not contain a reference count table");
  expect_open_error(with(56, be32(0xffffffff)), "Reference count table too large");
  expect_open_error(with(56, be32(100)), "Reference count table is past the end");
  expect_open_error(with(60, be32(1000000)), "Too many snapshots");
  expect_open_error(with(60, be32(1)), "Invalid snapshot table offset");  // offset 0
  expect_open_error(with(96, be32(7)), "Reference count entry width too large");
  expect_open_error(with(100, be32(100)), "qcow2 header length 100 is invalid");
  expect_open_error(with(100, be32(105)), "qcow2 header length 105 is invalid");
  expect_open_error(with(100, be32(8192)), "qcow2 header exceeds cluster size");
  // A backing file name crossing the end of the first cluster, or longer than 1023 bytes.
  std::vector<uint8_t> d = with(8, be64(4000));
  std::copy_n(be32(200).begin(), 4, d.begin() + 16);
  expect_open_error(d, "Backing file name too long");
  d = with(8, be64(1024));
  std::copy_n(be32(2000).begin(), 4, d.begin() + 16);
  expect_open_error(d, "Backing file name too long");
}

TEST_F(Qcow2CorruptTest, TruncatedHeadersAndExtensions) {
  for (size_t len : {0, 3, 4, 50, 71, 72, 100, 103, 104, 111}) {
    SCOPED_TRACE(len);
    std::vector<uint8_t> d(image_.begin(), image_.begin() + static_cast<long>(len));
    std::string path = variant("short.qcow2", d);
    auto r = open(path, false);
    ASSERT_FALSE(r.ok());
  }
  // A header extension whose length runs past the cluster.
  uint32_t hdr_len = static_cast<uint32_t>(field64(96) & 0xffffffff);
  std::vector<uint8_t> ext = be32(0x12345678);
  std::vector<uint8_t> len = be32(0x7fffffff);
  ext.insert(ext.end(), len.begin(), len.end());
  expect_open_error(with(hdr_len, ext), "Invalid qcow2 header extension 0x12345678");
  // A backing format name that does not fit.
  ext = be32(0xe2792aca);
  len = be32(40);
  ext.insert(ext.end(), len.begin(), len.end());
  expect_open_error(with(hdr_len, ext), "Backing format name in the header is too long");
  // Compression type without the incompatible bit.
  std::vector<uint8_t> d = image_;
  d[104] = 1;
  expect_open_error(d, "Invalid compression type 1");
}

TEST_F(Qcow2CorruptTest, TruncatedAtEveryClusterBoundary) {
  for (size_t len = 0; len <= image_.size(); len += 512) {
    SCOPED_TRACE(len);
    std::vector<uint8_t> d(image_.begin(), image_.begin() + static_cast<long>(len));
    exercise(variant("trunc.qcow2", d));
  }
}

TEST_F(Qcow2CorruptTest, BadL1EntriesAreCorruptionNotCrashes) {
  uint64_t l1 = field64(40);
  // Unaligned L2 offset.
  std::string path = variant("l1.qcow2", with(l1, be64((UINT64_C(1) << 63) | 0x4200)));
  {
    auto r = open(path, false);
    ASSERT_OK(r);
    std::vector<uint8_t> buf(512);
    Status st = (*r)->read(0, buf);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("is corrupt: L2 table offset 0x4200 unaligned"),
              std::string::npos)
        << st.error().message();
    ASSERT_OK(graph_.blockdev_del("n"));
  }
  // Written to, a writable node marks the image corrupt on disk and refuses further writes.
  {
    auto r = open(path, true);
    ASSERT_OK(r);
    Status st = (*r)->write(0, pattern(512, 1));
    ASSERT_FALSE(st.ok());
    st = (*r)->write(900000, pattern(512, 1));  // elsewhere: refused as well
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("marked corrupt"), std::string::npos)
        << st.error().message();
    EXPECT_TRUE((*r)->image_info().qcow2->corrupt);
    ASSERT_OK(graph_.blockdev_del("n"));
  }
  std::string info = must_run("qemu-img info " + shell_quote(path));
  EXPECT_NE(info.find("corrupt: true"), std::string::npos) << info;
  auto r = open(path, true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("is corrupt; cannot be opened read/write"), std::string::npos);
  // An L2 table past the end of the file.
  path = variant("l1b.qcow2", with(l1, be64((UINT64_C(1) << 63) | (UINT64_C(1) << 40))));
  r = open(path, false);
  ASSERT_OK(r);
  std::vector<uint8_t> buf(512);
  Status st = (*r)->read(0, buf);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("past the end of the image file"), std::string::npos)
      << st.error().message();
}

TEST_F(Qcow2CorruptTest, BadL2EntriesAndMetadataOverlaps) {
  uint64_t l1 = field64(40);
  uint64_t l2 = field64(l1) & UINT64_C(0x00fffffffffffe00);
  uint64_t rt = field64(48);
  // An unaligned data cluster.
  {
    std::string path = variant("l2a.qcow2", with(l2, be64((UINT64_C(1) << 63) | 0x10200)));
    auto r = open(path, false);
    ASSERT_OK(r);
    std::vector<uint8_t> buf(512);
    Status st = (*r)->read(0, buf);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("unaligned"), std::string::npos);
    ASSERT_OK(graph_.blockdev_del("n"));
  }
  // A data cluster that is the L1 table: writing guest data there would destroy metadata.
  {
    std::string path = variant("l2b.qcow2", with(l2, be64((UINT64_C(1) << 63) | l1)));
    auto r = open(path, true);
    ASSERT_OK(r);
    Status st = (*r)->write(0, pattern(4096, 0x66));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("would overwrite metadata"), std::string::npos)
        << st.error().message();
    ASSERT_OK(graph_.blockdev_del("n"));
    EXPECT_EQ(read_be64_at(path, l1), field64(l1)) << "the L1 table was overwritten";
  }
  // Refcounts that call the L1 table free: the allocator must not hand it out.
  {
    uint64_t rb = field64(rt);
    uint64_t l1_cluster = l1 / 4096;
    std::string path = variant("rc.qcow2", with(rb + l1_cluster * 2, {0, 0}));
    auto r = open(path, true);
    ASSERT_OK(r);
    Status st = ok_status();
    for (int i = 0; i < 20 && st.ok(); i++)
      st = (*r)->write(200000 + i * 4096, pattern(4096, 1));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("overlaps metadata"), std::string::npos)
        << st.error().message();
    ASSERT_OK(graph_.blockdev_del("n"));
    EXPECT_EQ(read_be64_at(path, l1), field64(l1));
  }
  // A refcount block past the end of the file: reading works, allocating fails cleanly.
  {
    std::string path = variant("rt.qcow2", with(rt, be64(UINT64_C(1) << 40)));
    auto r = open(path, true);
    ASSERT_OK(r);
    EXPECT_EQ(read_node(**r, 0, 4096), pattern(4096, 0xa1));
    Status st = (*r)->write(300000, pattern(4096, 1));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("refcount block offset"), std::string::npos)
        << st.error().message();
    ASSERT_OK(graph_.blockdev_del("n"));
  }
}

TEST_F(Qcow2CorruptTest, BackingFileLoopsAreCut) {
  // An image naming itself as its backing file.
  // a.qcow2 -> b.qcow2 -> a.qcow2 -> ...
  std::string path = dir_.file("a.qcow2");
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -u -b a.qcow2 -F qcow2 b.qcow2 1M"
           " && qemu-img create -q -f qcow2 -u -b b.qcow2 -F qcow2 a.qcow2 1M");
  auto r = open(path, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("too deep"), std::string::npos) << r.error().message();
  EXPECT_TRUE(graph_.nodes().empty());
}

TEST_F(Qcow2CorruptTest, RandomByteFlipsNeverCrash) {
  std::mt19937_64 rng(43);
  // The interesting bytes: header and extensions, refcount table and block, L1, L2.
  uint64_t l1 = field64(40);
  uint64_t l2 = field64(l1) & UINT64_C(0x00fffffffffffe00);
  std::vector<std::pair<uint64_t, uint64_t>> areas = {
      {0, 512}, {field64(48), 64}, {field64(field64(48)), 64}, {l1, 16}, {l2, 64}};
  for (int i = 0; i < 150; i++) {
    std::vector<uint8_t> d = image_;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; f++) {
      const auto& [start, len] = areas[rng() % areas.size()];
      uint64_t pos = start + rng() % len;
      if (pos < d.size())
        d[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    exercise(variant("flip.qcow2", d));
  }
}

}  // namespace
}  // namespace colo::block
