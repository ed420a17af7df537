// SPDX-License-Identifier: GPL-2.0-or-later
#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace colo::test {

Process::Process(std::vector<std::string> argv, bool pipe_stdin) {
  int out[2], err[2], in[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
    abort();
  if (pipe_stdin && pipe2(in, O_CLOEXEC) < 0)
    abort();
  if (pipe_stdin)
    ::signal(SIGPIPE, SIG_IGN);  // a write to an exited process fails instead
  pid_ = fork();
  if (pid_ == 0) {
    int stdin_fd = pipe_stdin ? in[0] : open("/dev/null", O_RDONLY);
    dup2(stdin_fd, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  if (pipe_stdin) {
    close(in[0]);
    stdin_fd_ = in[1];
  }
  open_streams_ = 2;
  out_thread_ = std::thread(&Process::reader, this, out[0], &out_);
  err_thread_ = std::thread(&Process::reader, this, err[0], &err_);
}

bool Process::write_stdin(const std::string& data) {
  size_t done = 0;
  while (stdin_fd_ >= 0 && done < data.size()) {
    ssize_t n = ::write(stdin_fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return stdin_fd_ >= 0;
}

void Process::close_stdin() {
  if (stdin_fd_ >= 0)
    close(stdin_fd_);
  stdin_fd_ = -1;
}

Process::~Process() {
  close_stdin();
  if (running()) {
    kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  if (out_thread_.joinable())
    out_thread_.join();
  if (err_thread_.joinable())
    err_thread_.join();
}

void Process::reader(int fd, std::string* out) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    std::lock_guard<std::mutex> lock(mutex_);
    out->append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  open_streams_--;
  cv_.notify_all();
}

bool Process::wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] {
    return out_.find(text) != std::string::npos || err_.find(text) != std::string::npos ||
           open_streams_ == 0;
  }) && (out_.find(text) != std::string::npos || err_.find(text) != std::string::npos);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_)
    return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      // Let the readers drain the pipes.
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait_for(lock, std::chrono::seconds(5), [&] { return open_streams_ == 0; });
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    // Wake on output or every few milliseconds to poll for exit.
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(5));
  }
}

bool Process::running() {
  if (status_)
    return false;
  return !wait(std::chrono::milliseconds(0)).has_value();
}

void Process::signal(int sig) {
  if (!status_)
    kill(pid_, sig);
}

std::string Process::stdout_text() {
  std::lock_guard<std::mutex> lock(mutex_);
  return out_;
}

std::string Process::stderr_text() {
  std::lock_guard<std::mutex> lock(mutex_);
  return err_;
}

RunResult run_process(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  Process p(std::move(argv));
  RunResult r;
  r.status = p.wait(timeout);
  if (!r.status) {
    p.signal(SIGKILL);
    p.wait(std::chrono::seconds(10));
  }
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

namespace {

std::string env_or(const char* name, const std::string& dflt) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : dflt;
}

}  // namespace

std::string build_dir() {
  return env_or("COLOVM_BUILD_DIR", "build");
}
std::string source_dir() {
  return env_or("COLOVM_SOURCE_DIR", ".");
}
std::string colovm_binary() {
  return env_or("COLOVM_BINARY", build_dir() + "/colovm");
}
std::string test_guest() {
  return env_or("COLOVM_TESTGUEST", build_dir() + "/tests/guest/testguest.elf");
}

bool have_kvm() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return false;
  close(fd);
  return true;
}

bool have_program(const std::string& name) {
  const char* path = getenv("PATH");
  if (path == nullptr)
    return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (access((dir + "/" + name).c_str(), X_OK) == 0)
      return true;
  }
  return false;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "colovm-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  if (p == nullptr)
    abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : text) {
    if (c == '\r')
      continue;
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty())
    lines.push_back(cur);
  return lines;
}

}  // namespace colo::test
