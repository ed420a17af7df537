// SPDX-License-Identifier: GPL-2.0-or-later
#include "system/runstate.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace colo {
namespace {

using RS = RunState;

const RS kAllStates[] = {
    RS::kDebug,     RS::kInmigrate,   RS::kInternalError, RS::kIoError,
    RS::kPaused,    RS::kPostmigrate, RS::kPrelaunch,     RS::kFinishMigrate,
    RS::kRestoreVm, RS::kRunning,     RS::kSaveVm,        RS::kShutdown,
    RS::kSuspended, RS::kWatchdog,    RS::kGuestPanicked, RS::kColo,
};

TEST(RunStateTest, Names) {
  EXPECT_EQ(to_string(RS::kDebug), "debug");
  EXPECT_EQ(to_string(RS::kInmigrate), "inmigrate");
  EXPECT_EQ(to_string(RS::kInternalError), "internal-error");
  EXPECT_EQ(to_string(RS::kIoError), "io-error");
  EXPECT_EQ(to_string(RS::kPaused), "paused");
  EXPECT_EQ(to_string(RS::kPostmigrate), "postmigrate");
  EXPECT_EQ(to_string(RS::kPrelaunch), "prelaunch");
  EXPECT_EQ(to_string(RS::kFinishMigrate), "finish-migrate");
  EXPECT_EQ(to_string(RS::kRestoreVm), "restore-vm");
  EXPECT_EQ(to_string(RS::kRunning), "running");
  EXPECT_EQ(to_string(RS::kSaveVm), "save-vm");
  EXPECT_EQ(to_string(RS::kShutdown), "shutdown");
  EXPECT_EQ(to_string(RS::kSuspended), "suspended");
  EXPECT_EQ(to_string(RS::kWatchdog), "watchdog");
  EXPECT_EQ(to_string(RS::kGuestPanicked), "guest-panicked");
  EXPECT_EQ(to_string(RS::kColo), "colo");
  std::set<std::string_view> unique;
  for (RS s : kAllStates)
    unique.insert(to_string(s));
  EXPECT_EQ(unique.size(), std::size(kAllStates));
}

TEST(RunStateTest, ShutdownCauses) {
  const std::pair<ShutdownCause, const char*> names[] = {
      {ShutdownCause::kNone, "none"},
      {ShutdownCause::kHostError, "host-error"},
      {ShutdownCause::kHostQmpQuit, "host-qmp-quit"},
      {ShutdownCause::kHostQmpSystemReset, "host-qmp-system-reset"},
      {ShutdownCause::kHostSignal, "host-signal"},
      {ShutdownCause::kHostUi, "host-ui"},
      {ShutdownCause::kGuestShutdown, "guest-shutdown"},
      {ShutdownCause::kGuestReset, "guest-reset"},
      {ShutdownCause::kGuestPanic, "guest-panic"},
      {ShutdownCause::kSubsystemReset, "subsystem-reset"},
      {ShutdownCause::kSnapshotLoad, "snapshot-load"},
  };
  for (const auto& [cause, name] : names) {
    EXPECT_EQ(to_string(cause), name);
    bool guest = cause == ShutdownCause::kGuestShutdown || cause == ShutdownCause::kGuestReset ||
                 cause == ShutdownCause::kGuestPanic;
    EXPECT_EQ(shutdown_cause_is_guest(cause), guest) << name;
  }
}

TEST(RunStateTest, ValidTransitions) {
  const std::pair<RS, RS> valid[] = {
      {RS::kPrelaunch, RS::kRunning},
      {RS::kPrelaunch, RS::kInmigrate},
      {RS::kRunning, RS::kPaused},
      {RS::kPaused, RS::kRunning},
      {RS::kRunning, RS::kShutdown},
      {RS::kShutdown, RS::kRunning},
      {RS::kShutdown, RS::kPaused},
      {RS::kRunning, RS::kInternalError},
      {RS::kInternalError, RS::kPaused},
      {RS::kRunning, RS::kGuestPanicked},
      {RS::kGuestPanicked, RS::kShutdown},
      {RS::kRunning, RS::kFinishMigrate},
      {RS::kFinishMigrate, RS::kPostmigrate},
      {RS::kFinishMigrate, RS::kColo},
      {RS::kInmigrate, RS::kColo},
      {RS::kInmigrate, RS::kRunning},
      {RS::kInmigrate, RS::kPaused},
      {RS::kRunning, RS::kColo},
      {RS::kColo, RS::kRunning},
      {RS::kColo, RS::kShutdown},
      {RS::kRunning, RS::kSuspended},
      {RS::kSuspended, RS::kRunning},
      {RS::kRunning, RS::kIoError},
      {RS::kIoError, RS::kRunning},
      {RS::kPaused, RS::kPrelaunch},
      {RS::kShutdown, RS::kPrelaunch},
  };
  for (const auto& [from, to] : valid) {
    EXPECT_TRUE(run_state_transition_valid(from, to)) << to_string(from) << " -> " << to_string(to);
  }
}

TEST(RunStateTest, InvalidTransitions) {
  const std::pair<RS, RS> invalid[] = {
      {RS::kPrelaunch, RS::kPaused},     {RS::kRunning, RS::kInmigrate},
      {RS::kRunning, RS::kPrelaunch},    {RS::kShutdown, RS::kSuspended},
      {RS::kShutdown, RS::kColo},        {RS::kPostmigrate, RS::kPaused},
      {RS::kColo, RS::kInmigrate},       {RS::kSaveVm, RS::kPaused},
      {RS::kGuestPanicked, RS::kPaused}, {RS::kDebug, RS::kPaused},
  };
  for (const auto& [from, to] : invalid) {
    EXPECT_FALSE(run_state_transition_valid(from, to))
        << to_string(from) << " -> " << to_string(to);
  }
  // No state lists itself as a transition (staying put is not a change).
  for (RS s : kAllStates)
    EXPECT_FALSE(run_state_transition_valid(s, s)) << to_string(s);
  // No state is a dead end.
  for (RS s : kAllStates) {
    bool leaves = false;
    for (RS t : kAllStates)
      leaves = leaves || run_state_transition_valid(s, t);
    EXPECT_TRUE(leaves) << to_string(s);
  }
}

TEST(RunStateTest, MachineAndListeners) {
  RunStateMachine m(RS::kPrelaunch);
  EXPECT_EQ(m.state(), RS::kPrelaunch);
  EXPECT_FALSE(m.running());
  std::vector<std::pair<RS, RS>> seen1, seen2;
  m.add_listener([&](RS from, RS to) { seen1.push_back({from, to}); });
  m.add_listener([&](RS from, RS to) {
    // Listeners see the new state already in place.
    EXPECT_EQ(m.state(), to);
    seen2.push_back({from, to});
  });

  ASSERT_TRUE(m.transition(RS::kRunning).ok());
  EXPECT_TRUE(m.running());
  ASSERT_TRUE(m.transition(RS::kPaused).ok());
  EXPECT_FALSE(m.running());
  // Staying in the same state is fine and tells nobody.
  ASSERT_TRUE(m.transition(RS::kPaused).ok());
  // An invalid transition changes nothing and tells nobody.
  Status st = m.transition(RS::kInmigrate);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "invalid runstate transition: 'paused' -> 'inmigrate'");
  EXPECT_EQ(m.state(), RS::kPaused);
  ASSERT_TRUE(m.transition(RS::kRunning).ok());
  ASSERT_TRUE(m.transition(RS::kColo).ok());
  ASSERT_TRUE(m.transition(RS::kShutdown).ok());

  const std::vector<std::pair<RS, RS>> want = {
      {RS::kPrelaunch, RS::kRunning}, {RS::kRunning, RS::kPaused}, {RS::kPaused, RS::kRunning},
      {RS::kRunning, RS::kColo},      {RS::kColo, RS::kShutdown},
  };
  EXPECT_EQ(seen1, want);
  EXPECT_EQ(seen2, want);
}

TEST(RunStateTest, ErrorNamesBothStates) {
  RunStateMachine m(RS::kShutdown);
  Status st = m.transition(RS::kGuestPanicked);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "invalid runstate transition: 'shutdown' -> 'guest-panicked'");
  EXPECT_EQ(st.error().message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace colo
