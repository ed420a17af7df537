// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/iothread.h"

#include <glib-unix.h>

#include <condition_variable>
#include <mutex>

#include "util/main-loop.h"
#include "util/thread.h"

namespace colo {

IoThread::IoThread(std::string name)
    : name_(std::move(name)),
      context_(g_main_context_new()),
      loop_(g_main_loop_new(context_, FALSE)) {}

Result<std::unique_ptr<IoThread>> IoThread::start(std::string name) {
  std::unique_ptr<IoThread> t(new IoThread(std::move(name)));
  std::mutex mu;
  std::condition_variable cv;
  bool running = false;
  t->thread_ = std::thread([&, self = t.get()] {
    set_thread_name(self->name_);
    g_main_context_push_thread_default(self->context_);
    // Signal from inside the loop, so run() from here on is never early.
    run_in_context(self->context_, [&] {
      std::lock_guard<std::mutex> lock(mu);
      running = true;
      cv.notify_one();
    });
    g_main_loop_run(self->loop_);
    g_main_context_pop_thread_default(self->context_);
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return running; });
  return t;
}

IoThread::~IoThread() {
  if (thread_.joinable()) {
    run([this] { g_main_loop_quit(loop_); });
    thread_.join();
  }
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);
}

void IoThread::run(std::function<void()> fn) {
  run_in_context(context_, std::move(fn));
}

void IoThread::run_sync(const std::function<void()>& fn) {
  if (in_thread()) {
    fn();
    return;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  run([&] {
    fn();
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
}

GSource* attach_fd_source(GMainContext* ctx, int fd, GIOCondition cond,
                          gboolean (*fn)(gint, GIOCondition, gpointer), void* data) {
  GSource* src = g_unix_fd_source_new(fd, cond);
  g_source_set_callback(src, reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(fn)), data,
                        nullptr);
  g_source_attach(src, ctx != nullptr ? ctx : g_main_context_default());
  return src;
}

void detach_source(GSource** src) {
  if (*src == nullptr)
    return;
  g_source_destroy(*src);
  g_source_unref(*src);
  *src = nullptr;
}

}  // namespace colo
