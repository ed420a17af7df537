// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/iothread.h
//
// A named thread running its own GLib main context: where device workers (virtio queues, tap
// and socket backends), QMP out-of-band I/O and the COLO compare proxy do their work away from
// the main loop (QEMU's IOThread). Sources are attached to context(); work is handed over with
// run() / run_sync().
//
//   COLO_ASSIGN_OR_RETURN(auto io, IoThread::start("virtio-net0"));
//   GSource* src = g_unix_fd_source_new(fd, G_IO_IN);
//   g_source_attach(src, io->context());
//   io->run_sync([&] { ...touch state owned by the thread... });
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "util/error.h"

namespace colo {

class IoThread {
 public:
  static Result<std::unique_ptr<IoThread>> start(std::string name);
  ~IoThread();  // stops the loop and joins the thread; pending work is dropped
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  const std::string& name() const { return name_; }
  GMainContext* context() const { return context_; }
  bool in_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // Queues fn on the thread. Thread-safe.
  void run(std::function<void()> fn);
  // Runs fn on the thread and waits; inline when called on the thread itself.
  void run_sync(const std::function<void()>& fn);

 private:
  explicit IoThread(std::string name);
  std::string name_;
  GMainContext* context_;
  GMainLoop* loop_;
  std::thread thread_;
};

// Attaches a GSource for fd to ctx (nullptr: the main loop) and returns it (owned: destroy with
// g_source_destroy + g_source_unref, or detach_source()).
GSource* attach_fd_source(GMainContext* ctx, int fd, GIOCondition cond,
                          gboolean (*fn)(gint, GIOCondition, gpointer), void* data);
void detach_source(GSource** src);

}  // namespace colo
