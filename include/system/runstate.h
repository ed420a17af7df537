// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: system/runstate.h
//
// The VM's run state (QEMU's RunState) and why it shut down or reset (ShutdownCause), with the
// table of valid transitions. Every change goes through RunStateMachine::transition(), which
// rejects invalid ones and tells the listeners (monitors emit STOP/RESUME, COLO watches for
// failures). Main thread only, except RunStateMachine::state().
#pragma once

#include <atomic>
#include <functional>
#include <string_view>
#include <vector>

#include "qapi/qapi-types.h"
#include "util/error.h"

namespace colo {

// The enums are the schema's (qapi/run-state.json): one definition for the VMM and QMP. Their
// QAPI names come from the generated qapi::to_string() (found by argument-dependent lookup):
// to_string(RunState::kInternalError) is "internal-error".
using RunState = qapi::RunState;
using ShutdownCause = qapi::ShutdownCause;

// Whether the cause came from the guest (SHUTDOWN/RESET events carry it as "guest").
bool shutdown_cause_is_guest(ShutdownCause c);

bool run_state_transition_valid(RunState from, RunState to);

class RunStateMachine {
 public:
  using Listener = std::function<void(RunState from, RunState to)>;

  explicit RunStateMachine(RunState initial) : state_(initial) {}

  // Readable from any thread (an out-of-band QMP command checks the state); changed only by
  // the main thread.
  RunState state() const { return state_.load(std::memory_order_acquire); }
  bool running() const { return state() == RunState::kRunning; }
  Status transition(RunState to);
  void add_listener(Listener l) { listeners_.push_back(std::move(l)); }

 private:
  std::atomic<RunState> state_;
  std::vector<Listener> listeners_;
};

}  // namespace colo
