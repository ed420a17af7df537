// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/main-loop.h
//
// The control loop: GLib's default main context, run by the main thread. It owns the control
// plane (run state, monitors, chardevs, timers). Other threads (vCPUs, workers) never touch
// control-plane state directly; they hand work to the loop with run_on_main_loop().
#pragma once

#include <glib.h>

#include <functional>

namespace colo {

// Must be called once by the main thread before anything else uses the loop.
void main_loop_init();
// Runs the loop until main_loop_quit() is called (from any thread).
void main_loop_run();
void main_loop_quit();
bool main_loop_should_quit();
// True on the thread that called main_loop_init().
bool in_main_thread();

// Queues fn to run on the thread of GLib context ctx (nullptr: the main loop), at high priority.
// Thread-safe; never runs fn inline.
void run_in_context(GMainContext* ctx, std::function<void()> fn);
// Queues fn to run on the main thread. Thread-safe; never runs fn inline.
void run_on_main_loop(std::function<void()> fn);
// Runs fn on the main thread and waits for it to finish. Runs inline on the main thread.
void run_on_main_loop_sync(const std::function<void()>& fn);

}  // namespace colo
