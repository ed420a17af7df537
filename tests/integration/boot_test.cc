// SPDX-License-Identifier: GPL-2.0-or-later
//
// colovm as a user runs it: boot the test guest on KVM and check what it prints on its serial
// console and the exit status it ends colovm with.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>

#include "tests/support/process.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> colovm_args(const std::string& append,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {colovm_binary(), "-kernel", test_guest(),
                                   "-append",       append,    "-nographic"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(BootTest, ExitStatusComesFromTheGuest) {
  COLO_REQUIRE_KVM();
  for (int n : {0, 1, 7, 42, 127, 200}) {
    RunResult r = run_process(colovm_args("exit=" + std::to_string(n)), 30s);
    ASSERT_TRUE(r.status.has_value()) << "colovm did not exit";
    EXPECT_EQ(*r.status, n) << r.err;
    EXPECT_NE(
        r.out.find("testguest: boot ok, 128 MiB RAM, cmdline 'exit=" + std::to_string(n) + "'"),
        std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("testguest: exit " + std::to_string(n)), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

TEST(BootTest, DirtyPagesAreWrittenAndVerified) {
  COLO_REQUIRE_KVM();
  RunResult r = run_process(colovm_args("dirty=4096 exit=0"), 60s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("testguest: dirty 4096 pages ok"), std::string::npos) << r.out;
}

TEST(BootTest, DirtyPagesAboveFourGiB) {
  COLO_REQUIRE_KVM();
  // 512 MiB with only 256 MiB below 4 GiB: 80,000 pages (312 MiB) reach above 4 GiB.
  RunResult r = run_process(
      colovm_args("meminfo dirty=80000 exit=0", {"-m", "512", "-machine", "max-ram-below-4g=256M"}),
      120s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("testguest: boot ok, 512 MiB RAM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("testguest: memmap 0x100000000 size 0x10000000 type 1"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("testguest: dirty 80000 pages ok"), std::string::npos) << r.out;
}

TEST(BootTest, TooManyDirtyPagesFailInTheGuest) {
  COLO_REQUIRE_KVM();
  RunResult r = run_process(colovm_args("dirty=100000000 exit=0"), 30s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 105);
  EXPECT_NE(r.out.find("testguest: error: dirty 100000000 pages: only "), std::string::npos)
      << r.out;
}

TEST(BootTest, JobsRunInCommandLineOrder) {
  COLO_REQUIRE_KVM();
  RunResult r = run_process(colovm_args("print=first dirty=16 print=second exit=3"), 30s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 3);
  size_t a = r.out.find("testguest: print first");
  size_t b = r.out.find("testguest: dirty 16 pages ok");
  size_t c = r.out.find("testguest: print second");
  size_t d = r.out.find("testguest: exit 3");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(d, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
}

TEST(BootTest, GuestWithoutExitKeepsRunningUntilStopped) {
  COLO_REQUIRE_KVM();
  Process p(colovm_args("print=hello"));
  ASSERT_TRUE(p.wait_for_output("testguest: idle", 30s)) << p.stdout_text() << p.stderr_text();
  // The guest is halted now; colovm must still be there, not exit on its own.
  EXPECT_TRUE(p.running());
  p.signal(SIGTERM);
  auto status = p.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
  EXPECT_NE(p.stderr_text().find("terminating on signal"), std::string::npos);
}

TEST(BootTest, SerialToFile) {
  COLO_REQUIRE_KVM();
  TempDir dir;
  std::string log = dir.file("serial.log");
  RunResult r = run_process({colovm_binary(), "-kernel", test_guest(), "-append",
                             "print=tofile exit=0", "-serial", "file:" + log, "-display", "none"},
                            30s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 0);
  EXPECT_EQ(r.out, "");
  std::string text = read_text_file(log);
  EXPECT_NE(text.find("testguest: print tofile"), std::string::npos) << text;
  EXPECT_NE(text.find("testguest: exit 0"), std::string::npos) << text;
}

TEST(BootTest, StartPausedRunsNothing) {
  COLO_REQUIRE_KVM();
  Process p(colovm_args("print=must-not-appear exit=5", {"-S"}));
  // Without a monitor nothing can start the vCPUs. A paused VM halts colovm's exit; it ends on
  // the signal, and the guest never printed anything.
  ASSERT_FALSE(p.wait_for_output("testguest", 300ms));
  EXPECT_TRUE(p.running());
  p.signal(SIGTERM);
  auto status = p.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(p.stdout_text().find("testguest"), std::string::npos);
}

TEST(BootTest, PidFileIsWrittenAndRemoved) {
  COLO_REQUIRE_KVM();
  TempDir dir;
  std::string pidfile = dir.file("colovm.pid");
  Process p(colovm_args("print=x", {"-pidfile", pidfile}));
  ASSERT_TRUE(p.wait_for_output("testguest: idle", 30s));
  EXPECT_EQ(read_text_file(pidfile), std::to_string(p.pid()) + "\n");
  p.signal(SIGTERM);
  ASSERT_TRUE(p.wait(10s).has_value());
  struct stat st;
  EXPECT_NE(stat(pidfile.c_str(), &st), 0) << "pid file left behind";
}

TEST(BootTest, GuestResetRebootsTheMachine) {
  COLO_REQUIRE_KVM();
  for (const char* kind : {"cf9", "kbd"}) {
    Process p(colovm_args(std::string("print=boot reset=") + kind));
    // The reset reboots the guest from the same kernel, which resets again, and so on.
    std::string marker = std::string("testguest: reset ") + kind;
    ASSERT_TRUE(p.wait_for_output(marker, 30s)) << p.stdout_text();
    auto count = [&] {
      std::string out = p.stdout_text();
      size_t n = 0;
      for (size_t pos = 0; (pos = out.find("testguest: boot ok", pos)) != std::string::npos; pos++)
        n++;
      return n;
    };
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (count() < 3 && std::chrono::steady_clock::now() < deadline) {
      p.wait_for_output("\n", 10ms);
    }
    EXPECT_GE(count(), 3u) << p.stdout_text();
    EXPECT_TRUE(p.running());
    p.signal(SIGTERM);
    ASSERT_TRUE(p.wait(10s).has_value());
  }
}

TEST(BootTest, NoRebootTurnsResetIntoExit) {
  COLO_REQUIRE_KVM();
  RunResult r = run_process(colovm_args("reset=cf9", {"-no-reboot"}), 30s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 0);
  EXPECT_NE(r.out.find("testguest: reset cf9"), std::string::npos);
  // Exactly one boot.
  EXPECT_EQ(r.out.find("testguest: boot ok"), r.out.rfind("testguest: boot ok"));
}

TEST(BootTest, GuestExceptionsAreReportedByTheGuest) {
  COLO_REQUIRE_KVM();
  RunResult r = run_process(colovm_args("crash=ud"), 30s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 102);
  EXPECT_NE(r.out.find("testguest: exception 6 "), std::string::npos) << r.out;
}

TEST(BootTest, KvmInternalErrorStopsTheVmAndReportsState) {
  COLO_REQUIRE_KVM();
  Process p(colovm_args("crash=exec-mmio"));
  ASSERT_TRUE(p.wait_for_output("Code=", 30s)) << p.stderr_text();
  std::string err = p.stderr_text();
  EXPECT_NE(err.find("colovm: vCPU 0 stopped: KVM internal error. Suberror: 1"), std::string::npos)
      << err;
  EXPECT_NE(err.find("RIP=00000000fed00000"), std::string::npos) << err;
  EXPECT_NE(err.find("CR0="), std::string::npos) << err;
  EXPECT_NE(err.find("Code="), std::string::npos) << err;
  // Paused in internal-error, not crashed and not spinning: still there until told to go.
  EXPECT_TRUE(p.running());
  p.signal(SIGTERM);
  auto status = p.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
}

TEST(BootTest, SmpMachineBoots) {
  COLO_REQUIRE_KVM();
  RunResult r = run_process(colovm_args("dirty=256 exit=9", {"-smp", "2", "-m", "256"}), 30s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 9) << r.err;
  EXPECT_NE(r.out.find("testguest: boot ok, 256 MiB RAM"), std::string::npos) << r.out;
}

TEST(BootTest, CpuModels) {
  COLO_REQUIRE_KVM();
  for (const char* cpu : {"host", "max", "qemu64", "kvm64", "qemu64,-cx16,-xsave", "host,-xsave"}) {
    RunResult r = run_process(colovm_args("dirty=64 exit=0", {"-cpu", cpu}), 30s);
    ASSERT_TRUE(r.status.has_value()) << cpu;
    EXPECT_EQ(*r.status, 0) << cpu << ": " << r.err;
  }
}

// --- ACPI ------------------------------------------------------------------------------------

TEST(BootTest, AcpiTablesAreFound) {
  COLO_REQUIRE_KVM();
  for (const char* smp : {"1", "3"}) {
    RunResult r = run_process(colovm_args("acpi exit=0", {"-smp", smp}), 30s);
    ASSERT_TRUE(r.status.has_value());
    EXPECT_EQ(*r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("testguest: acpi rsdp 0xf2000 revision 2 oem 'COLOVM'"), std::string::npos)
        << r.out;
    for (const char* sig : {"XSDT", "FACP", "FACS", "DSDT", "APIC"}) {
      EXPECT_NE(r.out.find(std::string("testguest: acpi table ") + sig + " at 0x"),
                std::string::npos)
          << sig << "\n"
          << r.out;
    }
    EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
  }
}

TEST(BootTest, AcpiPowerOffExitsZero) {
  COLO_REQUIRE_KVM();
  RunResult r = run_process(colovm_args("print=before poweroff print=after"), 30s);
  ASSERT_TRUE(r.status.has_value()) << "colovm did not exit";
  EXPECT_EQ(*r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("testguest: poweroff via port 0x604"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("testguest: print after"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("testguest: error"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(BootTest, AcpiPowerOffWithNoShutdownStops) {
  COLO_REQUIRE_KVM();
  Process p(colovm_args("poweroff", {"-no-shutdown"}));
  ASSERT_TRUE(p.wait_for_output("testguest: poweroff via port 0x604", 30s)) << p.stdout_text();
  // Stopped in "shutdown", not exited. The guest reports a failed power-off after 2 s of
  // running on; waiting longer than that shows the vCPU is parked too.
  EXPECT_FALSE(p.wait(3s).has_value()) << p.stdout_text() << p.stderr_text();
  EXPECT_EQ(p.stdout_text().find("did not power off"), std::string::npos) << p.stdout_text();
  p.signal(SIGTERM);
  auto status = p.wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
}

TEST(BootTest, AcpiOffMeansNoTables) {
  COLO_REQUIRE_KVM();
  RunResult r = run_process(colovm_args("poweroff", {"-machine", "acpi=off"}), 30s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 107) << r.out << r.err;
  EXPECT_NE(r.out.find("testguest: error: poweroff: no ACPI tables"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace colo::test
