// SPDX-License-Identifier: GPL-2.0-or-later
#include "system/runstate.h"

#include <string>
#include <utility>

namespace colo {

namespace {

using RS = RunState;

// QEMU's table (runstate.c) plus the COLO states.
constexpr std::pair<RS, RS> kTransitions[] = {
    {RS::kPrelaunch, RS::kInmigrate},
    {RS::kPrelaunch, RS::kRunning},
    {RS::kPrelaunch, RS::kFinishMigrate},
    {RS::kPrelaunch, RS::kPostmigrate},
    {RS::kPrelaunch, RS::kShutdown},
    {RS::kPrelaunch, RS::kInternalError},
    {RS::kDebug, RS::kRunning},
    {RS::kDebug, RS::kFinishMigrate},
    {RS::kDebug, RS::kPrelaunch},
    {RS::kInmigrate, RS::kInternalError},
    {RS::kInmigrate, RS::kIoError},
    {RS::kInmigrate, RS::kPaused},
    {RS::kInmigrate, RS::kRunning},
    {RS::kInmigrate, RS::kShutdown},
    {RS::kInmigrate, RS::kSuspended},
    {RS::kInmigrate, RS::kWatchdog},
    {RS::kInmigrate, RS::kGuestPanicked},
    {RS::kInmigrate, RS::kPrelaunch},
    {RS::kInmigrate, RS::kPostmigrate},
    {RS::kInmigrate, RS::kColo},
    {RS::kInternalError, RS::kPaused},
    {RS::kInternalError, RS::kRunning},
    {RS::kInternalError, RS::kFinishMigrate},
    {RS::kInternalError, RS::kPrelaunch},
    {RS::kInternalError, RS::kShutdown},
    {RS::kIoError, RS::kRunning},
    {RS::kIoError, RS::kFinishMigrate},
    {RS::kIoError, RS::kPrelaunch},
    {RS::kIoError, RS::kShutdown},
    {RS::kPaused, RS::kRunning},
    {RS::kPaused, RS::kFinishMigrate},
    {RS::kPaused, RS::kPostmigrate},
    {RS::kPaused, RS::kPrelaunch},
    {RS::kPaused, RS::kColo},
    {RS::kPaused, RS::kShutdown},
    {RS::kPaused, RS::kInternalError},
    {RS::kPostmigrate, RS::kRunning},
    {RS::kPostmigrate, RS::kFinishMigrate},
    {RS::kPostmigrate, RS::kPrelaunch},
    {RS::kPostmigrate, RS::kShutdown},
    {RS::kFinishMigrate, RS::kRunning},
    {RS::kFinishMigrate, RS::kPaused},
    {RS::kFinishMigrate, RS::kPostmigrate},
    {RS::kFinishMigrate, RS::kColo},
    {RS::kFinishMigrate, RS::kInternalError},
    {RS::kFinishMigrate, RS::kIoError},
    {RS::kFinishMigrate, RS::kShutdown},
    {RS::kRestoreVm, RS::kRunning},
    {RS::kRestoreVm, RS::kPrelaunch},
    {RS::kColo, RS::kRunning},
    {RS::kColo, RS::kPaused},
    {RS::kColo, RS::kShutdown},
    {RS::kColo, RS::kInternalError},
    {RS::kRunning, RS::kDebug},
    {RS::kRunning, RS::kInternalError},
    {RS::kRunning, RS::kIoError},
    {RS::kRunning, RS::kPaused},
    {RS::kRunning, RS::kFinishMigrate},
    {RS::kRunning, RS::kRestoreVm},
    {RS::kRunning, RS::kSaveVm},
    {RS::kRunning, RS::kShutdown},
    {RS::kRunning, RS::kWatchdog},
    {RS::kRunning, RS::kGuestPanicked},
    {RS::kRunning, RS::kColo},
    {RS::kRunning, RS::kSuspended},
    {RS::kSaveVm, RS::kRunning},
    {RS::kShutdown, RS::kPaused},
    {RS::kShutdown, RS::kFinishMigrate},
    {RS::kShutdown, RS::kPrelaunch},
    {RS::kShutdown, RS::kRunning},
    {RS::kSuspended, RS::kRunning},
    {RS::kSuspended, RS::kFinishMigrate},
    {RS::kSuspended, RS::kPrelaunch},
    {RS::kSuspended, RS::kColo},
    {RS::kSuspended, RS::kPaused},
    {RS::kSuspended, RS::kShutdown},
    {RS::kWatchdog, RS::kRunning},
    {RS::kWatchdog, RS::kFinishMigrate},
    {RS::kWatchdog, RS::kPrelaunch},
    {RS::kWatchdog, RS::kColo},
    {RS::kGuestPanicked, RS::kRunning},
    {RS::kGuestPanicked, RS::kFinishMigrate},
    {RS::kGuestPanicked, RS::kPrelaunch},
    {RS::kGuestPanicked, RS::kShutdown},
};

}  // namespace

bool shutdown_cause_is_guest(ShutdownCause c) {
  return c == ShutdownCause::kGuestShutdown || c == ShutdownCause::kGuestReset ||
         c == ShutdownCause::kGuestPanic;
}

bool run_state_transition_valid(RunState from, RunState to) {
  for (const auto& [f, t] : kTransitions) {
    if (f == from && t == to)
      return true;
  }
  return false;
}

Status RunStateMachine::transition(RunState to) {
  RunState from = state();
  if (to == from)
    return ok_status();
  if (!run_state_transition_valid(from, to)) {
    return make_error("invalid runstate transition: '%s' -> '%s'",
                      std::string(to_string(from)).c_str(), std::string(to_string(to)).c_str());
  }
  state_.store(to, std::memory_order_release);
  for (auto& l : listeners_)
    l(from, to);
  return ok_status();
}

}  // namespace colo
