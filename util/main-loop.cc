// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/main-loop.h"

#include <glib.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace colo {

namespace {

GMainLoop* main_loop = nullptr;
std::thread::id main_thread_id;
std::atomic<bool> quit_requested{false};

gboolean run_callback(gpointer data) {
  auto* fn = static_cast<std::function<void()>*>(data);
  (*fn)();
  return G_SOURCE_REMOVE;
}

void destroy_callback(gpointer data) {
  delete static_cast<std::function<void()>*>(data);
}

}  // namespace

void main_loop_init() {
  main_thread_id = std::this_thread::get_id();
  if (main_loop == nullptr)
    main_loop = g_main_loop_new(nullptr, FALSE);
}

void main_loop_run() {
  if (quit_requested.load())
    return;
  g_main_loop_run(main_loop);
}

void main_loop_quit() {
  quit_requested.store(true);
  run_on_main_loop([] { g_main_loop_quit(main_loop); });
}

bool main_loop_should_quit() {
  return quit_requested.load();
}

bool in_main_thread() {
  return std::this_thread::get_id() == main_thread_id;
}

void run_in_context(GMainContext* ctx, std::function<void()> fn) {
  auto* heap_fn = new std::function<void()>(std::move(fn));
  GSource* source = g_idle_source_new();
  g_source_set_priority(source, G_PRIORITY_HIGH);
  g_source_set_callback(source, run_callback, heap_fn, destroy_callback);
  g_source_attach(source, ctx != nullptr ? ctx : g_main_context_default());
  g_source_unref(source);
}

void run_on_main_loop(std::function<void()> fn) {
  run_in_context(nullptr, std::move(fn));
}

void run_on_main_loop_sync(const std::function<void()>& fn) {
  if (in_main_thread()) {
    fn();
    return;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  run_on_main_loop([&] {
    fn();
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
}

}  // namespace colo
