// SPDX-License-Identifier: GPL-2.0-or-later
//
// virtio-blk end to end: the test guest's blk= jobs (tests/guest/jobs/blk.c) write and read a
// disk through -drive / -blockdev and -device virtio-blk-pci; after colovm exits, the host
// checks the image byte for byte (raw) or with qemu-img check / compare (qcow2). Data flows the
// other way too: images written by qemu-io and qemu-img convert are read and checked by the
// guest. The same guest runs under qemu-system-x86_64 with KVM, and both must agree.
//
// The guest's disk pattern: the little-endian 64-bit word at disk offset o holds
// mix(o | P << 48) (blk=write/read:SECTOR:COUNT:P); blk=fill/check:SECTOR:COUNT:B is the byte B.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kSector = 512;
constexpr uint64_t kDiskBytes = 4 << 20;

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// What blk=write:S:N:P puts on the disk.
void put_pattern(std::string& disk, uint64_t sector, uint64_t count, uint64_t p) {
  for (uint64_t o = sector * kSector; o < (sector + count) * kSector; o += 8) {
    uint64_t w = mix(o | p << 48);
    for (int i = 0; i < 8; i++)
      disk[o + i] = static_cast<char>(w >> (8 * i));
  }
}

// What blk=fill:S:N:B puts on the disk.
void put_fill(std::string& disk, uint64_t sector, uint64_t count, uint8_t b) {
  memset(disk.data() + sector * kSector, b, count * kSector);
}

// Images live on tmpfs when there is one: the test is about the device, not about how long the
// host's disk takes to fdatasync (a qcow2 flush is several).
class ScratchDir {
 public:
  ScratchDir() {
    std::string parent = access("/dev/shm", W_OK) == 0
                             ? std::string("/dev/shm")
                             : std::filesystem::temp_directory_path().string();
    std::string tmpl = parent + "/colovm-blk-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr)
      abort();
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The guest's job lines, without the boot line, with what differs between machines taken out:
// the PCI address of the disk and the guest buffers' addresses (QEMU's memory map differs).
std::vector<std::string> job_lines(const std::string& out) {
  std::vector<std::string> lines;
  for (const std::string& l : lines_of(out)) {
    auto pos = l.find("testguest: ");
    if (pos == std::string::npos)
      continue;
    std::string line = l.substr(pos);
    if (line.rfind("testguest: boot ok", 0) == 0)
      continue;
    if (line.rfind("testguest: virtio-blk at ", 0) == 0) {
      line = "testguest: virtio-blk at (addr)" + line.substr(line.find(' ', 25));
    }
    if (auto b = line.find(" ok buffer 0x"); b != std::string::npos)
      line.resize(b + 3);
    lines.push_back(line);
  }
  return lines;
}

RunResult colovm(const std::vector<std::string>& disk_args, const std::string& append) {
  std::vector<std::string> args = {colovm_binary(), "-m",         "128",
                                   "-nographic",    "-no-reboot", "-kernel",
                                   test_guest(),    "-append",    append};
  args.insert(args.end(), disk_args.begin(), disk_args.end());
  return run_process(args, 60s);
}

// QEMU boots through qboot when it is there (~0.2 s instead of SeaBIOS's ~5 s here); the guest
// assigns the BARs itself then. QEMU's status for guest status N is (N << 1) | 1.
RunResult qemu(const std::vector<std::string>& disk_args, const std::string& append) {
  std::vector<std::string> args = {"qemu-system-x86_64",
                                   "-enable-kvm",
                                   "-m",
                                   "128",
                                   "-nographic",
                                   "-no-reboot",
                                   "-device",
                                   "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                   "-kernel",
                                   test_guest(),
                                   "-append",
                                   append};
  if (access("/usr/share/qemu/qboot.rom", R_OK) == 0) {
    args.insert(args.begin() + 1, {"-bios", "/usr/share/qemu/qboot.rom"});
  }
  args.insert(args.end(), disk_args.begin(), disk_args.end());
  return run_process(args, 180s);
}

RunResult qemu_img(std::vector<std::string> args) {
  args.insert(args.begin(), "qemu-img");
  return run_process(args, 60s);
}

void make_raw(const std::string& path, const std::string& content) {
  write_file(path, content);
}

std::vector<std::string> drive(const std::string& path, const std::string& format,
                               const std::string& extra = "") {
  return {"-drive", "file=" + path + ",format=" + format + ",if=none,id=d0" + extra, "-device",
          "virtio-blk-pci,drive=d0"};
}

// Expects a clean qemu-img check and that the image reads as `want` (qemu-img compare).
void expect_qcow2_holds(const ScratchDir& dir, const std::string& image, const std::string& want) {
  RunResult check = qemu_img({"check", "-f", "qcow2", image});
  ASSERT_TRUE(check.status.has_value());
  EXPECT_EQ(*check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("No errors were found on the image."), std::string::npos) << check.out;
  std::string expected = dir.file("expected.raw");
  make_raw(expected, want);
  RunResult cmp = qemu_img({"compare", "-f", "qcow2", "-F", "raw", image, expected});
  ASSERT_TRUE(cmp.status.has_value());
  EXPECT_EQ(*cmp.status, 0) << cmp.out << cmp.err;
}

class BlkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_kvm())
      return;  // each test skips loudly through COLO_REQUIRE_KVM
    if (!have_program("qemu-img") || !have_program("qemu-io")) {
      GTEST_FAIL() << "qemu-img/qemu-io are missing: scripts/install-deps.sh installs qemu-utils";
    }
  }
  ScratchDir dir;
};

// What the write jobs below leave on an empty disk.
const char* kWriteJobs = "blk=write:8:100:9 blk=fill:300:3:171 blk=flush blk=read:8:100:9 exit=0";
std::string after_write_jobs(std::string disk) {
  put_pattern(disk, 8, 100, 9);
  put_fill(disk, 300, 3, 171);
  return disk;
}

TEST_F(BlkTest, RawImageHoldsWhatTheGuestWrote) {
  COLO_REQUIRE_KVM();
  std::string image = dir.file("disk.raw");
  make_raw(image, std::string(kDiskBytes, '\0'));
  RunResult r = colovm(drive(image, "raw"), kWriteJobs);
  ASSERT_TRUE(r.status.has_value()) << "colovm did not exit";
  ASSERT_EQ(*r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("testguest: virtio-blk at 00:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("capacity 8192 sectors\r\n"), std::string::npos) << r.out;  // RW, flush
  EXPECT_NE(r.out.find("testguest: blk flush ok"), std::string::npos) << r.out;
  std::string got = read_text_file(image);
  ASSERT_EQ(got.size(), kDiskBytes);
  EXPECT_TRUE(got == after_write_jobs(std::string(kDiskBytes, '\0')))
      << "the raw image differs from what the guest wrote";
}

TEST_F(BlkTest, Qcow2FromQemuImgIsCleanAfterGuestWrites) {
  COLO_REQUIRE_KVM();
  std::string image = dir.file("disk.qcow2");
  RunResult mk = qemu_img({"create", "-q", "-f", "qcow2", image, "4M"});
  ASSERT_EQ(mk.status, 0) << mk.err;
  RunResult r = colovm(drive(image, "qcow2"), kWriteJobs);
  ASSERT_TRUE(r.status.has_value()) << "colovm did not exit";
  ASSERT_EQ(*r.status, 0) << r.out << r.err;
  expect_qcow2_holds(dir, image, after_write_jobs(std::string(kDiskBytes, '\0')));
}

// Data written by qemu-io into a qcow2, and a raw image converted by qemu-img convert, read and
// checked by the guest; -blockdev nodes instead of -drive.
TEST_F(BlkTest, GuestReadsImagesWrittenByQemuTools) {
  COLO_REQUIRE_KVM();
  std::string image = dir.file("io.qcow2");
  ASSERT_EQ(qemu_img({"create", "-q", "-f", "qcow2", image, "4M"}).status, 0);
  RunResult io = run_process({"qemu-io", "-f", "qcow2", "-c", "write -q -P 0x5a 0 64k", "-c",
                              "write -q -P 0xc3 1M 4k", image},
                             60s);
  ASSERT_EQ(io.status, 0) << io.out << io.err;
  RunResult r = colovm({"-blockdev", "driver=file,node-name=f0,filename=" + image, "-blockdev",
                        "driver=qcow2,node-name=q0,file=f0", "-device", "virtio-blk-pci,drive=q0"},
                       "blk=check:0:128:90 blk=check:2048:8:195 blk=check:128:1920:0 exit=0");
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("testguest: blk check 2048 8 ok"), std::string::npos) << r.out;

  std::string src = dir.file("src.raw");
  std::string content(kDiskBytes, '\0');
  put_pattern(content, 16, 2000, 77);
  make_raw(src, content);
  std::string converted = dir.file("converted.qcow2");
  RunResult cv = qemu_img({"convert", "-f", "raw", "-O", "qcow2", src, converted});
  ASSERT_EQ(cv.status, 0) << cv.err;
  r = colovm({"-blockdev", "driver=qcow2,node-name=q0,file.driver=file,file.filename=" + converted,
              "-device", "virtio-blk-pci,drive=q0"},
             "blk=read:16:2000:77 blk=check:0:16:0 exit=0");
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("testguest: blk read 16 2000 ok"), std::string::npos) << r.out;
}

// A qcow2 overlay over a raw base: reads fall through to the base, writes stay in the overlay.
TEST_F(BlkTest, BackingChain) {
  COLO_REQUIRE_KVM();
  std::string base = dir.file("base.raw");
  std::string base_content(kDiskBytes, '\0');
  put_pattern(base_content, 0, 256, 5);
  make_raw(base, base_content);
  std::string overlay = dir.file("overlay.qcow2");
  RunResult mk = qemu_img({"create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay});
  ASSERT_EQ(mk.status, 0) << mk.err;
  RunResult r =
      colovm({"-blockdev", "driver=qcow2,node-name=top,file.driver=file,file.filename=" + overlay,
              "-device", "virtio-blk-pci,drive=top"},
             "blk=read:0:256:5 blk=write:64:16:6 blk=flush blk=read:0:64:5 blk=read:64:16:6 "
             "blk=read:80:176:5 exit=0");
  ASSERT_TRUE(r.status.has_value());
  ASSERT_EQ(*r.status, 0) << r.out << r.err;
  EXPECT_TRUE(read_text_file(base) == base_content) << "the backing file changed";
  std::string want = base_content;
  put_pattern(want, 64, 16, 6);
  expect_qcow2_holds(dir, overlay, want);
}

TEST_F(BlkTest, ReadOnlyDriveRefusesWrites) {
  COLO_REQUIRE_KVM();
  std::string image = dir.file("ro.raw");
  std::string content(kDiskBytes, '\0');
  put_pattern(content, 0, 8, 3);
  make_raw(image, content);
  RunResult r = colovm(drive(image, "raw", ",readonly=on"), "blk=read:0:8:3 blk=fill:0:1:1 exit=0");
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 111) << r.out << r.err;  // a device error, reported to the guest
  EXPECT_NE(r.out.find("capacity 8192 sectors read-only"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("testguest: blk read 0 8 ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("testguest: error: blk: fill 0 1: I/O error"), std::string::npos) << r.out;
  EXPECT_TRUE(read_text_file(image) == content) << "a read-only image was written";
}

// The same jobs under QEMU with KVM: the same guest output and status, and the same images.
TEST_F(BlkTest, SameAsQemu) {
  COLO_REQUIRE_KVM();
  if (!have_program("qemu-system-x86_64")) {
    FAIL() << "qemu-system-x86_64 is missing: scripts/install-deps.sh installs it";
  }
  struct Case {
    const char* format;
    const char* extra;
    const char* append;
    int status;
  };
  const Case cases[] = {
      {"raw", "", kWriteJobs, 0},
      {"qcow2", "", kWriteJobs, 0},
      {"raw", ",readonly=on", "blk=check:0:8:0 blk=write:0:8:1 exit=0", 111},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.format) + c.extra + ": " + c.append);
    std::string images[2];
    RunResult runs[2];
    for (int i = 0; i < 2; i++) {
      images[i] = dir.file(std::string(i == 0 ? "colovm." : "qemu.") + c.format);
      if (std::string(c.format) == "raw") {
        make_raw(images[i], std::string(kDiskBytes, '\0'));
      } else {
        ASSERT_EQ(qemu_img({"create", "-q", "-f", "qcow2", images[i], "4M"}).status, 0);
      }
      auto args = drive(images[i], c.format, c.extra);
      runs[i] = i == 0 ? colovm(args, c.append) : qemu(args, c.append);
      ASSERT_TRUE(runs[i].status.has_value()) << (i == 0 ? "colovm" : "QEMU") << " did not exit";
    }
    EXPECT_EQ(*runs[0].status, c.status) << runs[0].out << runs[0].err;
    EXPECT_EQ(*runs[1].status, ((c.status << 1) | 1) & 0xff) << runs[1].out << runs[1].err;
    EXPECT_EQ(job_lines(runs[0].out), job_lines(runs[1].out)) << "--- colovm:\n"
                                                              << runs[0].out << "\n--- qemu:\n"
                                                              << runs[1].out;
    RunResult cmp = qemu_img({"compare", "-f", c.format, "-F", c.format, images[0], images[1]});
    ASSERT_TRUE(cmp.status.has_value());
    EXPECT_EQ(*cmp.status, 0) << cmp.out << cmp.err;
  }
}

}  // namespace
}  // namespace colo::test
