// SPDX-License-Identifier: GPL-2.0-or-later
//
// HMP on stdio, as a person (or an expect script) uses it: the same bytes as QEMU's
// `-monitor stdio` for a session of info status / stop / c / quit (readline echo included), and
// the serial console and the monitor muxed on stdio with -nographic (C-a c switches).
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/process.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
    n++;
  }
  return n;
}

// Waits until stdout holds `n` copies of `what` (the process's real output, polled).
bool wait_count(Process& p, const std::string& what, size_t n,
                std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (count_of(p.stdout_text(), what) >= n)
      return true;
    if (!p.running())
      return count_of(p.stdout_text(), what) >= n;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// Runs an HMP session on stdio; returns stdout with the banner line dropped.
std::string hmp_session(const std::string& binary, const std::vector<std::string>& commands,
                        int* status) {
  Process p({binary, "-enable-kvm", "-display", "none", "-nodefaults", "-kernel", test_guest(),
             "-serial", "null", "-monitor", "stdio"},
            true);
  size_t prompts = 1;
  EXPECT_TRUE(wait_count(p, "(qemu) ", prompts)) << p.stdout_text() << p.stderr_text();
  for (const std::string& cmd : commands) {
    EXPECT_TRUE(p.write_stdin(cmd + "\n"));
    if (cmd == "quit")
      break;
    EXPECT_TRUE(wait_count(p, "(qemu) ", ++prompts)) << cmd << ":\n" << p.stdout_text();
  }
  auto st = p.wait(30s);
  *status = st.value_or(-1);
  std::string out = p.stdout_text();
  auto nl = out.find('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

TEST(HmpTest, StdioSessionMatchesQemu) {
  COLO_REQUIRE_KVM();
  const std::vector<std::string> commands = {"info status", "stop",  "info status", "c",
                                             "info status", "bogus", "quit"};
  int colo_status = -1;
  std::string colo = hmp_session(colovm_binary(), commands, &colo_status);
  EXPECT_EQ(colo_status, 0);
  // What a user sees (echo and cursor movements aside).
  EXPECT_NE(colo.find("VM status: running\r\n(qemu) "), std::string::npos) << colo;
  EXPECT_NE(colo.find("VM status: paused\r\n(qemu) "), std::string::npos) << colo;
  EXPECT_NE(colo.find("unknown command: 'bogus'\r\n"), std::string::npos) << colo;
  if (!have_program("qemu-system-x86_64")) {
    GTEST_SKIP() << "*** SKIPPED: qemu-system-x86_64 is not installed; no comparison ***";
  }
  int qemu_status = -1;
  std::string qemu = hmp_session("qemu-system-x86_64", commands, &qemu_status);
  EXPECT_EQ(qemu_status, 0);
  EXPECT_EQ(colo, qemu) << "colovm and QEMU printed different bytes";
}

TEST(HmpTest, BannerAndHelp) {
  COLO_REQUIRE_KVM();
  Process p({colovm_binary(), "-display", "none", "-nodefaults", "-S", "-name", "hmpvm", "-kernel",
             test_guest(), "-serial", "null", "-monitor", "stdio"},
            true);
  ASSERT_TRUE(wait_count(p, "(qemu) ", 1));
  EXPECT_EQ(p.stdout_text().rfind("colovm 0.1.0 monitor - type 'help' for more information\r\n"
                                  "(qemu) ",
                                  0),
            0u)
      << p.stdout_text();
  for (const char* cmd :
       {"help", "info", "info name", "info version", "info chardev", "info kvm", "info cpus",
        "info qtree-lite", "info status", "cont", "info status", "system_reset", "info nope"}) {
    ASSERT_TRUE(p.write_stdin(std::string(cmd) + "\n"));
  }
  ASSERT_TRUE(wait_count(p, "(qemu) ", 14)) << p.stdout_text();
  std::string out = p.stdout_text();
  for (const char* want :
       {"c|cont  -- resume emulation\r\n", "info [subcommand] -- show various information",
        "info status  -- show the current VM status (running|paused)\r\n", "\r\nhmpvm\r\n",
        "\r\n7.2.0 (colovm 0.1.0)\r\n", "\r\nserial0: filename=null\r\n",
        "compat_monitor0: filename=stdio\r\n", "kvm support: enabled\r\n", "* CPU #0: thread_id=",
        "no devices created with -device\r\n", "VM status: paused (prelaunch)\r\n",
        "VM status: running\r\n", "unknown command: 'info nope'\r\n"}) {
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
  }
  ASSERT_TRUE(p.write_stdin("quit\n"));
  auto st = p.wait(30s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0);
}

TEST(HmpTest, NographicMuxesConsoleAndMonitor) {
  COLO_REQUIRE_KVM();
  Process p({colovm_binary(), "-kernel", test_guest(), "-nographic"}, true);
  ASSERT_TRUE(p.wait_for_output("testguest: boot ok", 30s)) << p.stdout_text() << p.stderr_text();
  EXPECT_EQ(p.stdout_text().find("(qemu)"), std::string::npos) << "the console has the focus";
  ASSERT_TRUE(
      p.write_stdin("\x01"
                    "c"));
  ASSERT_TRUE(wait_count(p, "(qemu) ", 1)) << p.stdout_text();
  EXPECT_NE(p.stdout_text().find("monitor - type 'help' for more information"), std::string::npos);
  ASSERT_TRUE(p.write_stdin("info status\n"));
  ASSERT_TRUE(wait_count(p, "(qemu) ", 2));
  EXPECT_NE(p.stdout_text().find("VM status: running\r\n"), std::string::npos);
  // Back to the console and to the monitor again: a fresh prompt.
  ASSERT_TRUE(
      p.write_stdin("\x01"
                    "c"
                    "\x01"
                    "c"));
  ASSERT_TRUE(wait_count(p, "(qemu) ", 3)) << p.stdout_text();
  ASSERT_TRUE(p.write_stdin("quit\n"));
  auto st = p.wait(30s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0);
}

}  // namespace
}  // namespace colo::test
