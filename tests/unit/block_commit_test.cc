// SPDX-License-Identifier: GPL-2.0-or-later
//
// make_empty(), allocation status and block_commit() on the COLO secondary's layout:
//
//   active.qcow2 --backing--> hidden.qcow2 --backing--> secondary.raw
//
// A checkpoint empties the overlays (fast, and the file does not keep growing); failover
// commits them into the secondary disk so that it holds exactly what the guest saw.
#include "block/block.h"
#include "block/blockdev.h"
#include "block_test_util.h"

namespace colo::block {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

constexpr uint64_t kDiskSize = 8 << 20;

class CommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_QEMU_TOOLS();
    std::mt19937_64 rng(31);
    base_data_ = random_bytes(rng, kDiskSize);
    write_host_file(dir_.file("secondary.raw"), base_data_);
    must_run("cd " + shell_quote(dir_.path()) +
             " && qemu-img create -q -f qcow2 -o cluster_size=4k -b secondary.raw -F raw "
             "hidden.qcow2 && qemu-img create -q -f qcow2 -b hidden.qcow2 -F qcow2 "
             "active.qcow2");
  }

  // Opens the chain as COLO does: the secondary disk writable, the overlays on top.
  void open_chain() {
    secondary_ = open_node(graph_,
                           "driver=raw,node-name=secondary,file.driver=file,"
                           "file.filename=" +
                               dir_.file("secondary.raw"));
    ASSERT_TRUE(secondary_);
    hidden_ = open_node(graph_,
                        "driver=qcow2,node-name=hidden,backing=secondary,file.driver=file,"
                        "file.filename=" +
                            dir_.file("hidden.qcow2"));
    ASSERT_TRUE(hidden_);
    active_ = open_node(graph_,
                        "driver=qcow2,node-name=active,backing=hidden,file.driver=file,"
                        "file.filename=" +
                            dir_.file("active.qcow2"));
    ASSERT_TRUE(active_);
  }

  void close_chain() {
    active_.reset();
    hidden_.reset();
    secondary_.reset();
    ASSERT_OK(graph_.blockdev_del("active"));
    ASSERT_OK(graph_.blockdev_del("hidden"));
    ASSERT_OK(graph_.blockdev_del("secondary"));
  }

  bool allocated_anywhere(BlockNode& node) {
    uint64_t off = 0;
    while (off < node.size()) {
      uint64_t pnum = 0;
      auto a = node.is_allocated(off, node.size() - off, &pnum);
      EXPECT_TRUE(a.ok());
      if (!a.ok() || *a)
        return true;
      off += pnum;
    }
    return false;
  }

  TempDir dir_;
  BlockGraph graph_;
  std::vector<uint8_t> base_data_;
  std::shared_ptr<BlockNode> secondary_, hidden_, active_;
};

TEST_F(CommitTest, MakeEmptyDropsEverythingAndReadsFallThrough) {
  open_chain();
  ASSERT_OK(hidden_->write(100000, pattern(50000, 0x01)));
  ASSERT_OK(active_->write(120000, pattern(70000, 0x02)));
  ASSERT_OK(active_->write_zeroes(1 << 20, 256 << 10));
  std::vector<uint8_t> view = base_data_;
  std::fill(view.begin() + 100000, view.begin() + 150000, 0x01);
  std::fill(view.begin() + 120000, view.begin() + 190000, 0x02);
  std::fill(view.begin() + (1 << 20), view.begin() + (1 << 20) + (256 << 10), 0);
  EXPECT_TRUE(read_node(*active_, 0, kDiskSize) == view);
  EXPECT_TRUE(allocated_anywhere(*active_));

  ASSERT_OK(active_->make_empty());
  EXPECT_FALSE(allocated_anywhere(*active_));
  std::vector<uint8_t> hidden_view = base_data_;
  std::fill(hidden_view.begin() + 100000, hidden_view.begin() + 150000, 0x01);
  EXPECT_TRUE(read_node(*active_, 0, kDiskSize) == hidden_view);
  ASSERT_OK(hidden_->make_empty());
  EXPECT_TRUE(read_node(*active_, 0, kDiskSize) == base_data_);
  // Emptying an empty image is fine.
  ASSERT_OK(active_->make_empty());
  close_chain();
  EXPECT_QCOW2_CLEAN(dir_.file("active.qcow2"));
  EXPECT_QCOW2_CLEAN(dir_.file("hidden.qcow2"));
  EXPECT_EQ(read_host_file(dir_.file("secondary.raw")), base_data_);
}

TEST_F(CommitTest, RepeatedCheckpointsDoNotGrowTheOverlay) {
  open_chain();
  std::mt19937_64 rng(37);
  uint64_t size_after_first = 0;
  for (int checkpoint = 0; checkpoint < 25; checkpoint++) {
    for (int i = 0; i < 40; i++) {
      uint64_t off = rng() % (kDiskSize - 70000);
      ASSERT_OK(active_->write(off, random_bytes(rng, 1 + rng() % 70000)));
    }
    ASSERT_OK(active_->flush());
    ASSERT_OK(active_->make_empty());
    ASSERT_OK(active_->flush());
    if (checkpoint == 0)
      size_after_first = host_file_size(dir_.file("active.qcow2"));
    if (checkpoint % 8 == 0)
      EXPECT_QCOW2_CLEAN(dir_.file("active.qcow2"));
  }
  // Freed clusters are reused: the file stays near the size one checkpoint needs.
  EXPECT_LE(host_file_size(dir_.file("active.qcow2")), size_after_first * 3 / 2);
  EXPECT_TRUE(read_node(*active_, 0, kDiskSize) == base_data_);
  close_chain();
  EXPECT_QCOW2_CLEAN(dir_.file("active.qcow2"));
}

TEST_F(CommitTest, CommitThroughTheHiddenDiskIntoTheSecondary) {
  open_chain();
  std::mt19937_64 rng(41);
  for (int i = 0; i < 60; i++) {
    BlockNode& layer = i % 3 == 0 ? *hidden_ : *active_;
    uint64_t off = rng() % (kDiskSize - 100000);
    if (i % 10 == 9) {
      ASSERT_OK(layer.write_zeroes(off, 1 + rng() % 100000));
    } else {
      ASSERT_OK(layer.write(off, random_bytes(rng, 1 + rng() % 100000)));
    }
  }
  std::vector<uint8_t> view = read_node(*active_, 0, kDiskSize);
  ASSERT_OK(block_commit(*active_, secondary_.get()));
  // The guest's view did not change; the overlays are empty; the secondary holds the view.
  EXPECT_TRUE(read_node(*active_, 0, kDiskSize) == view);
  EXPECT_FALSE(allocated_anywhere(*active_));
  EXPECT_FALSE(allocated_anywhere(*hidden_));
  EXPECT_TRUE(read_node(*secondary_, 0, kDiskSize) == view);
  close_chain();
  EXPECT_EQ(read_host_file(dir_.file("secondary.raw")), view);
  EXPECT_QCOW2_CLEAN(dir_.file("active.qcow2"));
  EXPECT_QCOW2_CLEAN(dir_.file("hidden.qcow2"));
}

TEST_F(CommitTest, CommitIntoAReadOnlyBackingReopensIt) {
  // Opened from the header, the backing files are read-only; commit reopens them read-write
  // for the copy and restores read-only afterwards.
  auto top = open_qcow2(graph_, "top", dir_.file("active.qcow2"));
  ASSERT_TRUE(top);
  auto hidden = top->backing();
  ASSERT_TRUE(hidden);
  EXPECT_TRUE(hidden->read_only());
  ASSERT_OK(top->write(5000, pattern(10000, 0x42)));
  ASSERT_OK(block_commit(*top));  // into hidden, top's backing
  EXPECT_TRUE(hidden->read_only());
  EXPECT_FALSE(allocated_anywhere(*top));
  EXPECT_EQ(read_node(*hidden, 5000, 10000), pattern(10000, 0x42));
  ASSERT_OK(graph_.blockdev_del("top"));
  EXPECT_QCOW2_CLEAN(dir_.file("hidden.qcow2"));
  EXPECT_QCOW2_CLEAN(dir_.file("active.qcow2"));
  std::string out = must_run("qemu-io -f qcow2 -c 'read -P 0x42 5000 10000' " +
                             shell_quote(dir_.file("hidden.qcow2")));
  EXPECT_EQ(out.find("verification failed"), std::string::npos) << out;
}

TEST_F(CommitTest, CommitErrors) {
  open_chain();
  Status st = block_commit(*secondary_);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Cannot commit 'secondary': it has no backing file");
  st = block_commit(*hidden_, active_.get());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "'active' is not in the backing chain of 'hidden'");
  st = block_commit(*active_, active_.get());
  ASSERT_FALSE(st.ok());
  st = secondary_->make_empty();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Driver 'raw' does not support emptying the image");
  // A top bigger than its base cannot be committed (resize is not supported).
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -b secondary.raw -F raw big.qcow2 16M");
  auto big = open_qcow2(graph_, "big", dir_.file("big.qcow2"));
  ASSERT_TRUE(big);
  st = block_commit(*big);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("into the smaller"), std::string::npos) << error_of(st);
}

TEST_F(CommitTest, AllocationStatusFollowsWrites) {
  open_chain();
  ASSERT_OK(active_->write(65536 + 10, pattern(5, 1)));  // allocates cluster 1 (64k)
  uint64_t pnum = 0;
  auto a = active_->is_allocated(0, kDiskSize, &pnum);
  ASSERT_OK(a);
  EXPECT_FALSE(*a);
  EXPECT_EQ(pnum, 65536u);
  a = active_->is_allocated(65536, kDiskSize - 65536, &pnum);
  ASSERT_OK(a);
  EXPECT_TRUE(*a);
  EXPECT_EQ(pnum, 65536u);
  auto st = active_->block_status(65536, 100);
  ASSERT_OK(st);
  EXPECT_TRUE(st->data);
  EXPECT_EQ(st->bytes, 100u);
  // Unallocated over a backing: neither zero nor data.
  st = active_->block_status(0, 100);
  ASSERT_OK(st);
  EXPECT_FALSE(st->zero);
  EXPECT_FALSE(st->data);
  // The whole chain decides everything (the raw bottom is always allocated).
  a = is_allocated_above(*active_, nullptr, 0, kDiskSize, &pnum);
  ASSERT_OK(a);
  EXPECT_TRUE(*a);
  a = is_allocated_above(*active_, secondary_.get(), 0, kDiskSize, &pnum);
  ASSERT_OK(a);
  EXPECT_FALSE(*a);
  EXPECT_EQ(pnum, 65536u);
  EXPECT_FALSE(active_->block_status(kDiskSize, 1).ok());
}

}  // namespace
}  // namespace colo::block
