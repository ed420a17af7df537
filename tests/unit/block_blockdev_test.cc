// SPDX-License-Identifier: GPL-2.0-or-later
//
// -blockdev and -drive option handling, the node registry, query-block / query-blockstats
// data, statistics, the raw driver, and registering a new driver.
#include "block/block-backend.h"
#include "block/block-driver.h"
#include "block/block.h"
#include "block/blockdev.h"
#include "block_test_util.h"

namespace colo::block {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

class BlockdevTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_QEMU_TOOLS();
    qcow2_ = dir_.file("a.qcow2");
    raw_ = dir_.file("a.img");
    qemu_img_create(qcow2_, "qcow2", "4M");
    write_host_file(raw_, pattern(1 << 20, 0x11));
  }

  std::string open_error(const std::string& opts) {
    auto r = graph_.blockdev_open(kv(opts));
    EXPECT_FALSE(r.ok()) << opts;
    return r.ok() ? "" : r.error().message();
  }
  std::string drive_error(const std::string& opts) {
    auto r = graph_.drive_open(kv(opts));
    EXPECT_FALSE(r.ok()) << opts;
    return r.ok() ? "" : r.error().message();
  }

  TempDir dir_;
  BlockGraph graph_;
  std::string qcow2_, raw_;
};

TEST_F(BlockdevTest, BlockdevInlineChildAndReference) {
  auto disk =
      open_node(graph_, "driver=qcow2,node-name=disk0,file.driver=file,file.filename=" + qcow2_);
  ASSERT_TRUE(disk);
  EXPECT_EQ(disk->node_name(), "disk0");
  EXPECT_EQ(disk->driver_name(), "qcow2");
  EXPECT_EQ(disk->size(), 4u << 20);
  EXPECT_FALSE(disk->read_only());
  ASSERT_TRUE(disk->file());
  EXPECT_EQ(disk->file()->driver_name(), "file");
  EXPECT_EQ(disk->file()->node_name()[0], '#');  // an implicit, generated name
  EXPECT_EQ(graph_.nodes().size(), 2u);
  EXPECT_EQ(graph_.find_node("disk0"), disk);
  EXPECT_EQ(graph_.find_node(disk->file()->node_name()), disk->file());

  auto proto = open_node(graph_, "driver=file,node-name=proto0,filename=" + raw_);
  auto d1 = open_node(graph_, "driver=raw,node-name=d1,file=proto0");
  ASSERT_TRUE(d1);
  EXPECT_EQ(d1->file(), proto);
  EXPECT_EQ(read_node(*d1, 0, 16), pattern(16, 0x11));
  auto lk = graph_.lookup("d1");
  ASSERT_OK(lk);
  EXPECT_EQ(*lk, d1);
  auto missing = graph_.lookup("zz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "Cannot find device='zz' nor node-name='zz'");
  EXPECT_EQ(missing.error().error_class(), ErrorClass::kDeviceNotFound);
}

TEST_F(BlockdevTest, BlockdevErrorsAreQemuLike) {
  std::string f = ",file.driver=file,file.filename=" + qcow2_;
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,foo=bar" + f), "Parameter 'foo' is unexpected");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,file.foo=bar" + f),
            "Parameter 'file.foo' is unexpected");
  EXPECT_EQ(open_error("node-name=a" + f), "Parameter 'driver' is missing");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,file.filename=" + qcow2_),
            "Parameter 'file.driver' is missing");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a"), "Parameter 'file' is missing");
  EXPECT_EQ(open_error("driver=vmdk,node-name=a" + f),
            "Parameter 'driver' does not accept value 'vmdk'");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,read-only=maybe" + f),
            "Parameter 'read-only' expects 'on' or 'off'");
  EXPECT_EQ(open_error("driver=raw,node-name=a,offset=x,file.driver=file,file.filename=" + raw_),
            "Parameter 'offset' expects an integer");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,discard=sometimes" + f),
            "Parameter 'discard' does not accept value 'sometimes'");
  EXPECT_EQ(open_error("driver=qcow2,node-name=1abc" + f), "Invalid node-name: '1abc'");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a234567890123456789012345678901234" + f),
            "Node name too long");
  EXPECT_EQ(open_error("driver=qcow2" + f), "'node-name' must be specified for the root node");
  EXPECT_EQ(open_error("driver=raw,node-name=a,file=nope"),
            "Cannot find device='nope' nor node-name='nope'");
  EXPECT_EQ(open_error("driver=raw,node-name=a,file=x,file.driver=file"),
            "Parameters 'file.*' used inconsistently");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,detect-zeroes=unmap" + f),
            "setting detect-zeroes to unmap is not allowed without setting discard operation "
            "to unmap");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,force-share=on" + f),
            "force-share=on can only be used with read-only images");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,lazy-refcounts=on" + f),
            "lazy-refcounts=on is not supported");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,file.driver=file,file.filename=" +
                       dir_.file("missing.qcow2")),
            "Could not open '" + dir_.file("missing.qcow2") + "': No such file or directory");
  EXPECT_EQ(open_error("driver=qcow2,node-name=a,file.driver=file,file.filename=" + raw_),
            "'" + raw_ + "': Image is not in qcow2 format");
  EXPECT_EQ(open_error("driver=raw,node-name=a,offset=1000,size=1048576,file.driver=file,"
                       "file.filename=" +
                       raw_),
            "The sum of offset (1000) and size (1048576) has to be smaller or equal to the actual "
            "size of the containing file (1048576)");
  EXPECT_TRUE(graph_.nodes().empty()) << "a failed open must not register anything";
  // Names are unique across nodes and devices.
  ASSERT_TRUE(open_node(graph_, "driver=qcow2,node-name=disk0" + f));
  EXPECT_EQ(open_error("driver=raw,node-name=disk0,file.driver=file,file.filename=" + raw_),
            "Duplicate nodes with node-name='disk0'");
  ASSERT_OK(graph_.drive_open(kv("file=" + raw_ + ",format=raw,id=drive0")));
  EXPECT_EQ(open_error("driver=raw,node-name=drive0,file.driver=file,file.filename=" + raw_),
            "node-name=drive0 is conflicting with a device id");
}

TEST_F(BlockdevTest, RawWindowAndDetectZeroes) {
  auto node = open_node(graph_,
                        "driver=raw,node-name=w,offset=4096,size=8192,detect-zeroes=on,"
                        "file.driver=file,file.filename=" +
                            raw_);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->size(), 8192u);
  ASSERT_OK(node->write(0, pattern(100, 0x22)));
  ASSERT_OK(node->write(100, pattern(100, 0)));  // detected: becomes write_zeroes
  Status st = node->write(8100, pattern(100, 0x33));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "Request beyond end of device 'w' (offset 8100, length 100, size 8192)");
  ASSERT_OK(graph_.blockdev_del("w"));
  auto data = read_host_file(raw_);
  EXPECT_EQ(std::vector<uint8_t>(data.begin() + 4090, data.begin() + 4096), pattern(6, 0x11));
  EXPECT_EQ(std::vector<uint8_t>(data.begin() + 4096, data.begin() + 4196), pattern(100, 0x22));
  EXPECT_EQ(std::vector<uint8_t>(data.begin() + 4196, data.begin() + 4296), pattern(100, 0));
}

TEST_F(BlockdevTest, DriveOpensAndProbes) {
  auto d0 = graph_.drive_open(kv("file=" + qcow2_ +
                                 ",format=qcow2,if=none,id=drive0,readonly=on,cache=writeback,"
                                 "discard=unmap"));
  ASSERT_OK(d0);
  BlockBackend& b0 = **d0;
  EXPECT_EQ(b0.name(), "drive0");
  EXPECT_EQ(b0.options().interface, "none");
  EXPECT_TRUE(b0.read_only());
  EXPECT_TRUE(b0.root()->read_only());
  EXPECT_EQ(b0.root()->driver_name(), "qcow2");
  EXPECT_EQ(b0.root()->options().discard, DiscardMode::kUnmap);
  EXPECT_TRUE(b0.write_cache_enabled());
  EXPECT_EQ(graph_.find_backend("drive0"), *d0);
  auto lk = graph_.lookup("drive0");
  ASSERT_OK(lk);
  EXPECT_EQ(*lk, b0.root());
  Status st = b0.write(0, pattern(512, 1));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Device 'drive0' is read-only");

  // No format: qcow2 is recognised.
  auto d1 = graph_.drive_open(kv("file=" + qcow2_ + ",id=d1,readonly=on"));
  ASSERT_OK(d1);
  EXPECT_EQ((*d1)->root()->driver_name(), "qcow2");
  EXPECT_EQ((*d1)->options().interface, "virtio");

  // Probed raw: sector 0 may not be turned into another format.
  auto d2 = graph_.drive_open(kv("file=" + raw_ + ",id=d2"));
  ASSERT_OK(d2);
  EXPECT_EQ((*d2)->root()->driver_name(), "raw");
  std::vector<uint8_t> magic = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 3};
  st = (*d2)->write(0, magic);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("look like 'qcow2'"), std::string::npos)
      << st.error().message();
  ASSERT_OK((*d2)->write(0, pattern(512, 0x44)));
  ASSERT_OK((*d2)->write(512, magic));  // not sector 0: fine
  ASSERT_OK(graph_.drive_del("d2"));
  // Named raw: anything goes.
  auto d3 = graph_.drive_open(kv("file=" + raw_ + ",format=raw,id=d3"));
  ASSERT_OK(d3);
  ASSERT_OK((*d3)->write(0, magic));
  ASSERT_OK(graph_.drive_del("d3"));
  // The raw file now looks like a qcow2 header, but a broken one.
  EXPECT_FALSE(graph_.drive_open(kv("file=" + raw_ + ",id=d4")).ok());
}

TEST_F(BlockdevTest, DriveCacheModesAndWriteThrough) {
  auto wt = graph_.drive_open(kv("file=" + qcow2_ + ",format=qcow2,id=wt,cache=writethrough"));
  ASSERT_OK(wt);
  EXPECT_FALSE((*wt)->write_cache_enabled());
  ASSERT_OK((*wt)->write(0, pattern(4096, 1)));
  ASSERT_OK((*wt)->write(4096, pattern(4096, 1)));
  EXPECT_EQ((*wt)->root()->stats().flush_operations, 2u);  // one per write
  ASSERT_OK(graph_.drive_del("wt"));

  auto un = graph_.drive_open(kv("file=" + qcow2_ + ",format=qcow2,id=un,cache=unsafe"));
  ASSERT_OK(un);
  EXPECT_TRUE((*un)->root()->options().cache_no_flush);
  EXPECT_TRUE((*un)->root()->file()->options().cache_no_flush);
  EXPECT_TRUE((*un)->write_cache_enabled());
  ASSERT_OK(graph_.drive_del("un"));

  auto none = graph_.drive_open(kv("file=" + qcow2_ + ",format=qcow2,id=none,cache=none"));
  ASSERT_OK(none);
  EXPECT_TRUE((*none)->root()->file()->options().cache_direct);
  ASSERT_OK((*none)->write(1, pattern(3, 7)));  // unaligned, through O_DIRECT
  EXPECT_EQ(read_node(*(*none)->root(), 0, 5), std::vector<uint8_t>({1, 7, 7, 7, 1}));
  ASSERT_OK(graph_.drive_del("none"));
  EXPECT_QCOW2_CLEAN(qcow2_);
}

TEST_F(BlockdevTest, DriveErrors) {
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",format=qcow2,id=x,foo=bar"),
            "Block format 'qcow2' does not support the option 'foo'");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",format=qcow2,id=x,file.foo=bar"),
            "Block protocol 'file' doesn't support the option 'file.foo'");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",format=vmdk,id=x"), "Unknown driver 'vmdk'");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",id=x,cache=sometimes"), "invalid cache option");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",id=x,discard=sometimes"), "Invalid discard option");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",id=x,if=ide"),
            "Drive interface 'ide' is not supported; use if=virtio or if=none");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",id=x,if=usb"),
            "Parameter 'if' does not accept value 'usb'");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",id=x,snapshot=on"), "snapshot=on is not supported");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",id=x,werror=never"),
            "'never' invalid write error action");
  EXPECT_EQ(drive_error("id=x,format=qcow2"), "Parameter 'file' is missing");
  EXPECT_EQ(drive_error("file=" + dir_.file("none.img") + ",id=x"),
            "Could not open '" + dir_.file("none.img") + "': No such file or directory");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",id=1x"), "Parameter 'id' expects an identifier");
  EXPECT_EQ(drive_error("file=" + qcow2_ + ",format=qcow2,driver=qcow2,id=x"),
            "Cannot specify both 'driver' and 'format'");
  EXPECT_TRUE(graph_.nodes().empty());
  EXPECT_TRUE(graph_.backends().empty());
  ASSERT_OK(graph_.drive_open(kv("file=" + raw_ + ",format=raw,id=x,readonly=on")));
  EXPECT_EQ(drive_error("file=" + raw_ + ",format=raw,id=x,readonly=on"),
            "Duplicate ID 'x' for drive");
  // Generated ids.
  auto a = graph_.drive_open(kv("file=" + raw_ + ",format=raw,readonly=on"));
  ASSERT_OK(a);
  EXPECT_EQ((*a)->name(), "virtio0");
  auto b = graph_.drive_open(kv("file=" + raw_ + ",format=raw,if=none,readonly=on"));
  ASSERT_OK(b);
  EXPECT_EQ((*b)->name(), "none1");
}

TEST_F(BlockdevTest, RegistryRemoval) {
  auto proto = open_node(graph_, "driver=file,node-name=proto0,filename=" + raw_);
  auto d1 = open_node(graph_, "driver=raw,node-name=d1,file=proto0");
  ASSERT_TRUE(d1);
  Status st = graph_.blockdev_del("proto0");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Node proto0 is in use by node 'd1' (as its file)");
  ASSERT_OK(graph_.blockdev_del("d1"));
  EXPECT_FALSE(graph_.find_node("d1"));
  EXPECT_TRUE(graph_.find_node("proto0")) << "a referenced node outlives its user";
  ASSERT_OK(graph_.blockdev_del("proto0"));
  st = graph_.blockdev_del("proto0");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Failed to find node with node-name='proto0'");

  auto disk =
      open_node(graph_, "driver=qcow2,node-name=disk0,file.driver=file,file.filename=" + qcow2_);
  ASSERT_TRUE(disk);
  std::string implicit = disk->file()->node_name();
  st = graph_.blockdev_del(implicit);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "Node " + implicit + " is not owned by the monitor");
  ASSERT_OK(graph_.blockdev_del("disk0"));
  EXPECT_TRUE(graph_.nodes().empty()) << "implicit children go with their parent";
  EXPECT_TRUE(disk->closed());

  auto drive = graph_.drive_open(kv("file=" + qcow2_ + ",id=drive0,node-name=root0"));
  ASSERT_OK(drive);
  st = graph_.blockdev_del("root0");
  ASSERT_FALSE(st.ok());
  ASSERT_OK(graph_.drive_del("drive0"));
  EXPECT_TRUE(graph_.nodes().empty());
  EXPECT_FALSE(graph_.drive_del("drive0").ok());
}

TEST_F(BlockdevTest, QueryBlockDescribesTheChain) {
  must_run("cd " + shell_quote(dir_.path()) +
           " && qemu-img create -q -f qcow2 -b a.img -F raw top.qcow2");
  auto drive = graph_.drive_open(kv("file=" + dir_.file("top.qcow2") +
                                    ",format=qcow2,id=drive0,node-name=top,cache=directsync,"
                                    "detect-zeroes=on"));
  ASSERT_OK(drive);
  auto blocks = graph_.query_block();
  ASSERT_EQ(blocks.size(), 1u);
  const BlockInfo& bi = blocks[0];
  EXPECT_EQ(bi.device, "drive0");
  ASSERT_TRUE(bi.inserted);
  const BlockDeviceInfo& in = *bi.inserted;
  EXPECT_EQ(in.node_name, "top");
  EXPECT_EQ(in.file, dir_.file("top.qcow2"));
  EXPECT_EQ(in.drv, "qcow2");
  EXPECT_FALSE(in.ro);
  EXPECT_EQ(in.backing_file, "a.img");
  EXPECT_EQ(in.backing_file_depth, 1);
  EXPECT_EQ(in.detect_zeroes, "on");
  EXPECT_FALSE(in.cache.writeback);
  EXPECT_TRUE(in.cache.direct);
  EXPECT_EQ(in.image.virtual_size, 1u << 20);
  EXPECT_EQ(in.image.format, "qcow2");
  EXPECT_EQ(in.image.cluster_size, 65536u);
  EXPECT_EQ(in.image.dirty_flag, false);
  EXPECT_TRUE(in.image.actual_size.has_value());
  EXPECT_EQ(in.image.backing_filename, "a.img");
  EXPECT_EQ(in.image.full_backing_filename, raw_);
  EXPECT_EQ(in.image.backing_filename_format, "raw");
  ASSERT_TRUE(in.image.backing_image);
  EXPECT_EQ(in.image.backing_image->format, "raw");
  EXPECT_EQ(in.image.backing_image->filename, raw_);
  EXPECT_EQ(in.image.backing_image->virtual_size, 1u << 20);
  auto named = graph_.query_named_block_nodes();
  EXPECT_EQ(named.size(), 4u);  // top, its file, the backing raw, its file
}

TEST_F(BlockdevTest, StatisticsCountOperations) {
  auto drive = graph_.drive_open(kv("file=" + qcow2_ + ",format=qcow2,id=drive0"));
  ASSERT_OK(drive);
  BlockBackend& b = **drive;
  std::vector<uint8_t> buf(4096);
  ASSERT_OK(b.write(0, pattern(4096, 1)));
  ASSERT_OK(b.write(8192, pattern(1000, 2)));
  ASSERT_OK(b.read(0, buf));
  ASSERT_OK(b.read(0, buf));
  ASSERT_OK(b.read(100, std::span<uint8_t>(buf.data(), 10)));
  ASSERT_OK(b.flush());
  ASSERT_OK(b.discard(0, 65536));
  EXPECT_FALSE(b.read(4 << 20, buf).ok());
  BlockDeviceStats s = b.stats();
  EXPECT_EQ(s.wr_operations, 2u);
  EXPECT_EQ(s.wr_bytes, 5096u);
  EXPECT_EQ(s.rd_operations, 3u);
  EXPECT_EQ(s.rd_bytes, 8202u);
  EXPECT_EQ(s.flush_operations, 1u);
  EXPECT_EQ(s.unmap_operations, 1u);
  EXPECT_EQ(s.invalid_rd_operations, 1u);
  EXPECT_EQ(s.wr_highest_offset, 9192u);
  EXPECT_GT(s.wr_total_time_ns, 0u);
  EXPECT_GT(s.rd_total_time_ns, 0u);

  auto stats = graph_.query_blockstats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].device, "drive0");
  EXPECT_EQ(stats[0].stats.wr_operations, 2u);
  ASSERT_TRUE(stats[0].parent);  // the file node below the qcow2 node
  EXPECT_GT(stats[0].parent->stats.wr_operations, 0u);
  EXPECT_EQ(stats[0].parent->node_name, b.root()->file()->node_name());
  auto per_node = graph_.query_blockstats(true);
  EXPECT_EQ(per_node.size(), 2u);
}

// A driver defined outside the block layer, as nbd/replication/quorum will be.
class NullNode final : public BlockNode {
 public:
  NullNode(const BlockDriver& d, NodeOptions o, uint64_t size)
      : BlockNode(d, std::move(o)), size_(size) {}
  ~NullNode() override { (void)close(); }
  uint64_t size() const override { return size_; }

 protected:
  Status do_read(uint64_t, std::span<uint8_t> buf) override {
    std::fill(buf.begin(), buf.end(), 0);
    return ok_status();
  }
  Status do_write(uint64_t, std::span<const uint8_t>) override { return ok_status(); }
  Status do_flush() override { return ok_status(); }

 private:
  uint64_t size_;
};

class NullDriver : public BlockDriver {
 public:
  std::string_view name() const override { return "test-null"; }
  DriverKind kind() const override { return DriverKind::kProtocol; }
  Result<std::shared_ptr<BlockNode>> open(OpenContext&, OptionReader& opts,
                                          const NodeOptions& n) const override {
    COLO_ASSIGN_OR_RETURN(auto size, opts.take_size("size"));
    return std::shared_ptr<BlockNode>(std::make_shared<NullNode>(*this, n, size.value_or(1 << 20)));
  }
};

TEST_F(BlockdevTest, NewDriversPlugIn) {
  ASSERT_OK(register_block_driver(std::make_unique<NullDriver>()));
  EXPECT_FALSE(register_block_driver(std::make_unique<NullDriver>()).ok());
  ASSERT_TRUE(find_block_driver("test-null"));
  EXPECT_EQ(find_block_driver("qcow2")->kind(), DriverKind::kFormat);
  EXPECT_EQ(find_block_driver("file")->kind(), DriverKind::kProtocol);
  auto node = open_node(graph_, "driver=raw,node-name=r,file.driver=test-null,file.size=64k");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->size(), 65536u);
  EXPECT_EQ(read_node(*node, 100, 10), pattern(10, 0));
  EXPECT_EQ(open_error("driver=test-null,node-name=n2,bogus=1"), "Parameter 'bogus' is unexpected");
}

}  // namespace
}  // namespace colo::block
