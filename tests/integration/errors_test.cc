// SPDX-License-Identifier: GPL-2.0-or-later
//
// Bad options and bad kernel files: a one-line error, exit status 1, never a crash.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "tests/support/process.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;

// Runs colovm and expects exit status 1 with exactly one line on stderr containing `expect`.
void expect_one_line_error(std::vector<std::string> args, const std::string& expect) {
  args.insert(args.begin(), colovm_binary());
  RunResult r = run_process(args, 30s);
  std::string cmd;
  for (const auto& a : args)
    cmd += a + " ";
  ASSERT_TRUE(r.status.has_value()) << cmd << ": did not exit";
  EXPECT_EQ(*r.status, 1) << cmd << "\n" << r.err;
  auto lines = lines_of(r.err);
  EXPECT_EQ(lines.size(), 1u) << cmd << "\n" << r.err;
  EXPECT_EQ(r.err.rfind("colovm: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(expect), std::string::npos) << cmd << "\n" << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(OptionErrorsTest, BadOptions) {
  std::string g = test_guest();
  expect_one_line_error({"-frobnicate"}, "-frobnicate: invalid option");
  expect_one_line_error({"-m"}, "-m: requires an argument");
  expect_one_line_error({"-m", "lots", "-kernel", g}, "-m lots: Parameter 'size' expects a size");
  expect_one_line_error({"-m", "1M", "-kernel", g}, "at least 8 MiB of RAM is needed");
  expect_one_line_error({"-smp", "0", "-kernel", g}, "-smp 0:");
  expect_one_line_error({"-machine", "q35", "-kernel", g}, "unsupported machine type 'q35'");
  expect_one_line_error({"-accel", "tcg", "-kernel", g}, "colovm runs only on KVM");
  expect_one_line_error({"-machine", "pc,frob=1", "-kernel", g}, "Invalid parameter 'frob'");
  expect_one_line_error({"-serial", "bogus", "-kernel", g}, "'bogus' is not a valid char driver");
  expect_one_line_error({"-display", "gtk", "-kernel", g}, "Display 'gtk' is not available");
  expect_one_line_error({"disk.img"}, "disk.img: unexpected argument");
  expect_one_line_error({"-nographic"}, "no kernel given");
}

TEST(OptionErrorsTest, BadCpu) {
  COLO_REQUIRE_KVM();
  expect_one_line_error({"-cpu", "pentium9", "-kernel", test_guest()},
                        "unable to find CPU model 'pentium9'");
  expect_one_line_error({"-cpu", "host,+frob", "-kernel", test_guest()},
                        "unknown CPU feature 'frob'");
}

TEST(OptionErrorsTest, HelpAndVersion) {
  RunResult h = run_process({colovm_binary(), "-help"}, 10s);
  ASSERT_TRUE(h.status.has_value());
  EXPECT_EQ(*h.status, 0);
  EXPECT_NE(h.out.find("-kernel"), std::string::npos);
  EXPECT_NE(h.out.find("-append"), std::string::npos);
  RunResult v = run_process({colovm_binary(), "-version"}, 10s);
  ASSERT_TRUE(v.status.has_value());
  EXPECT_EQ(*v.status, 0);
  EXPECT_EQ(v.out.rfind("colovm version ", 0), 0u) << v.out;
}

class KernelErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_kvm())
      GTEST_SKIP() << "*** SKIPPED: /dev/kvm is not available; runs in CI ***";
  }
  std::string make_kernel(const std::string& name, const std::string& bytes) {
    std::string path = dir_.file(name);
    write_file(path, bytes);
    return path;
  }
  TempDir dir_;
};

TEST_F(KernelErrorsTest, MissingEmptyAndGarbageKernels) {
  expect_one_line_error({"-kernel", "/nonexistent/vmlinuz"},
                        "could not open '/nonexistent/vmlinuz': No such file or directory");
  expect_one_line_error({"-kernel", make_kernel("empty", "")}, "the kernel file is empty");
  expect_one_line_error({"-kernel", make_kernel("garbage", std::string(4096, 'x'))},
                        "not a Linux bzImage or a PVH ELF kernel");
  expect_one_line_error({"-kernel", dir_.path()}, "is not a regular file");
}

TEST_F(KernelErrorsTest, TruncatedAndCorruptElf) {
  std::string elf = read_text_file(test_guest());
  ASSERT_GT(elf.size(), 4096u);
  // Where the loadable data ends: cutting the file anywhere before that breaks the kernel
  // (cutting after it only drops symbols, which a loader does not need).
  auto le = [&](size_t off, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
      v = (v << 8) | static_cast<uint8_t>(elf[off + i]);
    return v;
  };
  uint64_t phoff = le(32, 8), phentsize = le(54, 2), phnum = le(56, 2);
  uint64_t needed = 0;
  for (uint64_t i = 0; i < phnum; i++) {
    size_t ph = phoff + i * phentsize;
    if (le(ph, 4) == 1 || le(ph, 4) == 4)
      needed = std::max(needed, le(ph + 8, 8) + le(ph + 32, 8));
  }
  ASSERT_GT(needed, 4096u);
  ASSERT_LE(needed, elf.size());
  // Cut the real test guest at several places: each is a clean error, never a crash.
  for (size_t len :
       {size_t{4}, size_t{16}, size_t{52}, size_t{64}, size_t{100}, size_t{300}, size_t{4096},
        static_cast<size_t>(needed / 2), static_cast<size_t>(needed - 1)}) {
    std::string path = make_kernel("cut" + std::to_string(len), elf.substr(0, len));
    RunResult r = run_process({colovm_binary(), "-kernel", path, "-nographic"}, 30s);
    ASSERT_TRUE(r.status.has_value()) << len;
    EXPECT_EQ(*r.status, 1) << "cut at " << len << ": " << r.err << r.out;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  }
  // Program headers pointing far outside the file.
  std::string bad = elf;
  for (int i = 0; i < 8; i++)
    bad[32 + i] = static_cast<char>(0x7f);  // e_phoff
  expect_one_line_error({"-kernel", make_kernel("phoff", bad)},
                        "ELF program headers lie outside the file");
}

TEST_F(KernelErrorsTest, CorruptBzImage) {
  std::string img(0x1000, '\0');
  img[0x1f1] = 1;                 // setup_sects
  img.replace(0x202, 4, "HdrS");  // magic
  img[0x206] = 0x0f;              // protocol 2.15
  img[0x207] = 0x02;
  img[0x211] = 0x01;  // LOADED_HIGH
  // No XLF_KERNEL_64.
  expect_one_line_error({"-kernel", make_kernel("no64", img)}, "no 64-bit entry point");
  img[0x236] = 0x01;
  img[0x206] = 0x00;  // protocol 2.00
  expect_one_line_error({"-kernel", make_kernel("old", img)}, "is too old");
  img[0x206] = 0x0f;
  img[0x1f1] = 100;  // setup larger than the file
  expect_one_line_error({"-kernel", make_kernel("short", img)}, "bzImage truncated");
}

TEST_F(KernelErrorsTest, TooLittleMemoryForTheInitrd) {
  std::string initrd = make_kernel("initrd", std::string(16 << 20, 'i'));
  expect_one_line_error({"-m", "12", "-kernel", test_guest(), "-initrd", initrd}, "is too large");
}

}  // namespace
}  // namespace colo::test
