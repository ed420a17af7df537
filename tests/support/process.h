// SPDX-License-Identifier: GPL-2.0-or-later
//
// Test support: run real processes (colovm, qemu-system-x86_64, qemu-img) and watch their
// output. Output is collected by a reader thread; tests wait for a line (with a deadline), never
// sleep and hope.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace colo::test {

class Process {
 public:
  // Starts argv[0] (searched in PATH) with stdin from /dev/null, stdout and stderr captured.
  explicit Process(std::vector<std::string> argv) : Process(std::move(argv), false) {}
  // With pipe_stdin, the process reads its stdin from write_stdin() (an HMP monitor on stdio).
  Process(std::vector<std::string> argv, bool pipe_stdin);
  ~Process();  // kills the process if it still runs
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until the combined output contains `text`; false on timeout or if the process exits
  // without printing it.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);
  // Waits for exit; the exit status, or 128 + signal if killed by a signal, or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  void signal(int sig);

  // Writes to the process's stdin (pipe_stdin only); false if it is closed.
  bool write_stdin(const std::string& data);
  void close_stdin();

  std::string stdout_text();
  std::string stderr_text();

 private:
  void reader(int fd, std::string* out);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::optional<int> status_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string out_, err_;
  int open_streams_ = 0;
  std::thread out_thread_, err_thread_;
};

// Runs to completion (or kills after `timeout`), returns status and output.
struct RunResult {
  std::optional<int> status;
  std::string out;
  std::string err;
};
RunResult run_process(std::vector<std::string> argv,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Paths from the environment meson sets (tests/meson.build).
std::string colovm_binary();
std::string test_guest();
std::string source_dir();
std::string build_dir();

// Whether /dev/kvm can be opened read-write; tests that need it skip loudly when not.
bool have_kvm();
// Whether a program is in PATH.
bool have_program(const std::string& name);

// A temporary directory removed (recursively) at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_text_file(const std::string& path);
void write_file(const std::string& path, const std::string& data);

// Lines of `text` with '\r' removed.
std::vector<std::string> lines_of(const std::string& text);

}  // namespace colo::test

// Skips the current test with a loud message when KVM is absent.
#define COLO_REQUIRE_KVM()                                                       \
  do {                                                                           \
    if (!::colo::test::have_kvm()) {                                             \
      GTEST_SKIP() << "*** SKIPPED: /dev/kvm is not available on this machine; " \
                      "this test needs KVM and runs in CI ***";                  \
    }                                                                            \
  } while (0)
