// SPDX-License-Identifier: GPL-2.0-or-later
//
// The same test guest under qemu-system-x86_64 7.2 and under colovm gives the same results:
// the same job output and the same exit status (QEMU encodes status N as (N << 1) | 1).
#include <gtest/gtest.h>

#include <chrono>

#include "tests/support/process.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;

// The guest's own lines, without the boot line (QEMU's firmware keeps some RAM for itself, so
// the RAM size there is a MiB less) and without firmware chatter.
std::vector<std::string> job_lines(const std::string& out) {
  std::vector<std::string> lines;
  for (const std::string& l : lines_of(out)) {
    auto pos = l.find("testguest: ");
    if (pos == std::string::npos)
      continue;
    std::string line = l.substr(pos);
    if (line.rfind("testguest: boot ok", 0) == 0)
      continue;
    // "only N pages free" depends on how much RAM the firmware kept.
    auto only = line.find(" pages: only ");
    if (only != std::string::npos)
      line = line.substr(0, only) + " pages: only (n) pages free";
    lines.push_back(line);
  }
  return lines;
}

struct Case {
  const char* append;
  int status;  // as colovm reports it
};

TEST(QemuCompareTest, SameGuestSameResults) {
  COLO_REQUIRE_KVM();
  if (!have_program("qemu-system-x86_64")) {
    FAIL() << "qemu-system-x86_64 is missing: scripts/install-deps.sh installs it";
  }
  const Case cases[] = {
      {"exit=7", 7},
      {"print=same dirty=4096 exit=0", 0},
      {"dirty=100000000 exit=0", 105},
  };
  for (const Case& c : cases) {
    RunResult colovm = run_process({colovm_binary(), "-m", "128", "-nographic", "-no-reboot",
                                    "-kernel", test_guest(), "-append", c.append},
                                   60s);
    RunResult qemu = run_process(
        {"qemu-system-x86_64", "-enable-kvm", "-m", "128", "-nographic", "-no-reboot", "-device",
         "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", test_guest(), "-append", c.append},
        180s);
    ASSERT_TRUE(colovm.status.has_value()) << c.append;
    ASSERT_TRUE(qemu.status.has_value()) << c.append << ": QEMU did not finish";
    EXPECT_EQ(*colovm.status, c.status) << c.append << "\n" << colovm.err;
    EXPECT_EQ(*qemu.status, ((c.status << 1) | 1) & 0xff) << c.append << "\n" << qemu.err;
    auto a = job_lines(colovm.out);
    auto b = job_lines(qemu.out);
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, b) << c.append << "\n--- colovm:\n" << colovm.out << "\n--- qemu:\n" << qemu.out;
  }
}

// ACPI soft-off: both find the FADT's PM1a control block at 0x604 (QEMU's through SeaBIOS's
// tables, PIIX4 PM at 0x600) and exit 0. The debug-exit encoding does not apply: a guest
// power-off is exit status 0 for both.
TEST(QemuCompareTest, AcpiPowerOff) {
  COLO_REQUIRE_KVM();
  if (!have_program("qemu-system-x86_64")) {
    FAIL() << "qemu-system-x86_64 is missing: scripts/install-deps.sh installs it";
  }
  const char* append = "print=off poweroff";
  RunResult colovm = run_process({colovm_binary(), "-m", "128", "-nographic", "-no-reboot",
                                  "-kernel", test_guest(), "-append", append},
                                 60s);
  RunResult qemu = run_process(
      {"qemu-system-x86_64", "-enable-kvm", "-m", "128", "-nographic", "-no-reboot", "-device",
       "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", test_guest(), "-append", append},
      180s);
  ASSERT_TRUE(colovm.status.has_value());
  ASSERT_TRUE(qemu.status.has_value()) << "QEMU did not finish";
  EXPECT_EQ(*colovm.status, 0) << colovm.out << colovm.err;
  EXPECT_EQ(*qemu.status, 0) << qemu.out << qemu.err;
  auto a = job_lines(colovm.out);
  auto b = job_lines(qemu.out);
  EXPECT_EQ(
      a, (std::vector<std::string>{"testguest: print off", "testguest: poweroff via port 0x604"}))
      << colovm.out;
  EXPECT_EQ(a, b) << "--- colovm:\n" << colovm.out << "\n--- qemu:\n" << qemu.out;
}

}  // namespace
}  // namespace colo::test
