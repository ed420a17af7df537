// SPDX-License-Identifier: GPL-2.0-or-later
//
// Backends over plain file descriptors: stdio, file (output only, with optional input file) and
// null.
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "chardev/char.h"
#include "util/log.h"

namespace colo {

namespace {

std::atomic<bool> stdio_termios_saved{false};
struct termios saved_termios;

class FdChardev : public Chardev {
 public:
  FdChardev(std::string id, std::string type, int in_fd, int out_fd, bool owns_fds)
      : Chardev(std::move(id), std::move(type)), in_fd_(in_fd), out_fd_(out_fd), owns_(owns_fds) {}

  ~FdChardev() override {
    remove_source(&watch_);
    if (owns_) {
      if (in_fd_ >= 0)
        close(in_fd_);
      if (out_fd_ >= 0 && out_fd_ != in_fd_)
        close(out_fd_);
    }
  }

  Status write_all(std::span<const uint8_t> data) override {
    if (out_fd_ < 0)
      return ok_status();
    std::lock_guard<std::mutex> lock(write_mutex_);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = write(out_fd_, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        if (errno == EAGAIN) {
          // stdout may be non-blocking if a parent set it so: wait until writable.
          fd_set wfds;
          FD_ZERO(&wfds);
          FD_SET(out_fd_, &wfds);
          select(out_fd_ + 1, nullptr, &wfds, nullptr, nullptr);
          continue;
        }
        return errno_error(errno, "chardev '%s': write", id().c_str());
      }
      done += static_cast<size_t>(n);
    }
    return ok_status();
  }

 protected:
  void update_input_watch() override {
    if (in_fd_ < 0 || input_eof_)
      return;
    bool want = frontend_can_receive() > 0;
    if (want && watch_ == nullptr) {
      watch_ = add_fd_watch(in_fd_, G_IO_IN, &FdChardev::on_readable, this);
    } else if (!want && watch_ != nullptr) {
      remove_source(&watch_);
    }
  }

 private:
  static gboolean on_readable(gint fd, GIOCondition cond, gpointer data) {
    auto* self = static_cast<FdChardev*>(data);
    size_t room = self->frontend_can_receive();
    if (room == 0) {
      remove_source(&self->watch_);
      return G_SOURCE_REMOVE;
    }
    uint8_t buf[4096];
    ssize_t n = read(fd, buf, std::min(room, sizeof(buf)));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      return G_SOURCE_CONTINUE;
    if (n <= 0) {
      // End of input (stdin closed): stop watching for good.
      self->input_eof_ = true;
      remove_source(&self->watch_);
      return G_SOURCE_REMOVE;
    }
    self->deliver({buf, static_cast<size_t>(n)});
    if (self->frontend_can_receive() == 0) {
      remove_source(&self->watch_);
      return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
  }

  int in_fd_;
  int out_fd_;
  bool owns_;
  bool input_eof_ = false;
  GSource* watch_ = nullptr;
  std::mutex write_mutex_;
};

class StdioChardev : public FdChardev {
 public:
  StdioChardev(std::string id, bool signal) : FdChardev(std::move(id), "stdio", 0, 1, false) {
    if (isatty(0)) {
      struct termios tty;
      if (tcgetattr(0, &tty) == 0) {
        if (!stdio_termios_saved.exchange(true))
          saved_termios = tty;
        // Raw input so the guest sees every key; output processing stays as it is.
        tty.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        tty.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN);
        if (!signal)
          tty.c_lflag &= ~ISIG;
        tty.c_cflag &= ~(CSIZE | PARENB);
        tty.c_cflag |= CS8;
        tty.c_cc[VMIN] = 1;
        tty.c_cc[VTIME] = 0;
        tcsetattr(0, TCSANOW, &tty);
      }
    }
  }
  ~StdioChardev() override { chardev_restore_terminal(); }
  std::string filename() const override { return "stdio"; }
};

class FileChardev : public FdChardev {
 public:
  FileChardev(std::string id, int in_fd, int out_fd, std::string path)
      : FdChardev(std::move(id), "file", in_fd, out_fd, true), path_(std::move(path)) {}
  std::string filename() const override { return "file"; }

 private:
  std::string path_;
};

class NullChardev : public Chardev {
 public:
  explicit NullChardev(std::string id) : Chardev(std::move(id), "null") {}
  std::string filename() const override { return "null"; }
  Status write_all(std::span<const uint8_t>) override { return ok_status(); }
};

Result<std::unique_ptr<Chardev>> new_stdio(const std::string& id, OptionReader& r) {
  static bool used = false;
  COLO_ASSIGN_OR_RETURN(bool signal, r.take_bool("signal", true));
  r.take("logfile");
  if (used)
    return make_error("cannot use stdio by multiple character devices");
  used = true;
  return std::unique_ptr<Chardev>(new StdioChardev(id, signal));
}

Result<std::unique_ptr<Chardev>> new_file(const std::string& id, OptionReader& r) {
  auto path = r.take("path");
  if (!path)
    return make_error("chardev: file: no filename given");
  COLO_ASSIGN_OR_RETURN(bool append, r.take_bool("append", false));
  auto input = r.take("input-path");
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  int out = open(path->c_str(), flags, 0666);
  if (out < 0)
    return errno_error(errno, "Could not open '%s'", path->c_str());
  int in = -1;
  if (input) {
    in = open(input->c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
      int err = errno;
      close(out);
      return errno_error(err, "Could not open '%s'", input->c_str());
    }
  }
  return std::unique_ptr<Chardev>(new FileChardev(id, in, out, *path));
}

Result<std::unique_ptr<Chardev>> new_null(const std::string& id, OptionReader&) {
  return std::unique_ptr<Chardev>(new NullChardev(id));
}

}  // namespace

void chardev_restore_terminal() {
  if (stdio_termios_saved.load())
    tcsetattr(0, TCSANOW, &saved_termios);
}

void chardev_register_fd_backends() {
  chardev_register_backend("stdio", new_stdio);
  chardev_register_backend("file", new_file);
  chardev_register_backend("null", new_null);
}

}  // namespace colo
