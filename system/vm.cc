// SPDX-License-Identifier: GPL-2.0-or-later
#include "system/vm.h"

#include "util/log.h"
#include "util/main-loop.h"

namespace colo {

Result<std::unique_ptr<VirtualMachine>> VirtualMachine::create(const VmConfig& cfg,
                                                               KvmAccel& accel) {
  std::unique_ptr<VirtualMachine> vm(new VirtualMachine(cfg));
  COLO_ASSIGN_OR_RETURN(vm->machine_, PcMachine::create(cfg.machine, accel, vm.get()));
  return vm;
}

VirtualMachine::~VirtualMachine() {
  if (machine_)
    machine_->vm().finish_all();
}

Status VirtualMachine::start() {
  if (runstate_.running())
    return ok_status();
  RunState from = runstate_.state();
  if (from == RunState::kInmigrate || from == RunState::kPostmigrate ||
      from == RunState::kFinishMigrate) {
    return make_error("Migration is not finalized yet");
  }
  if (from == RunState::kInternalError || from == RunState::kShutdown ||
      from == RunState::kGuestPanicked) {
    // As QEMU: a VM stopped by an error or a power-off needs system_reset before it can run.
    return make_error("Resetting the Virtual Machine is required");
  }
  COLO_TRY(runstate_.transition(RunState::kRunning));
  machine_->vm().resume_all();
  return ok_status();
}

Status VirtualMachine::stop(RunState state) {
  // As QEMU's vm_stop(): only a running VM stops (and emits STOP); otherwise nothing happens.
  if (!runstate_.running())
    return ok_status();
  machine_->vm().pause_all();
  return runstate_.transition(state);
}

Status VirtualMachine::system_reset(ShutdownCause cause) {
  bool was_running = runstate_.running();
  machine_->vm().pause_all();
  Status st = machine_->reset();
  for (auto& l : listeners_.reset)
    l(shutdown_cause_is_guest(cause), cause);
  if (!st.ok()) {
    error_report("system reset failed: %s", st.error().message().c_str());
    (void)runstate_.transition(RunState::kInternalError);
    return st;
  }
  {
    std::lock_guard<std::mutex> lock(error_mutex_);
    internal_error_reported_ = false;
  }
  if (runstate_.state() == RunState::kShutdown || runstate_.state() == RunState::kInternalError) {
    // Reset brings a stopped-on-error or powered-off VM back to paused.
    (void)runstate_.transition(RunState::kPaused);
  }
  if (was_running)
    machine_->vm().resume_all();
  return ok_status();
}

void VirtualMachine::quit(ShutdownCause cause, int exit_status) {
  if (quitting_)
    return;
  quitting_ = true;
  exit_status_ = exit_status;
  machine_->vm().pause_all();
  (void)runstate_.transition(RunState::kShutdown);
  for (auto& l : listeners_.shutdown)
    l(shutdown_cause_is_guest(cause), cause);
  main_loop_quit();
}

void VirtualMachine::handle_reset(ShutdownCause cause) {
  if (quitting_)
    return;
  if (cfg_.no_reboot) {
    handle_shutdown(cause);
    return;
  }
  (void)system_reset(cause);
}

void VirtualMachine::handle_shutdown(ShutdownCause cause) {
  if (quitting_)
    return;
  if (cfg_.no_shutdown) {
    machine_->vm().pause_all();
    for (auto& l : listeners_.shutdown)
      l(shutdown_cause_is_guest(cause), cause);
    (void)runstate_.transition(RunState::kShutdown);
    return;
  }
  quit(cause, 0);
}

void VirtualMachine::request_reset(ShutdownCause cause) {
  // The requesting vCPU must not run on into a half-reset machine: park them all first.
  machine_->vm().pause_all();
  run_on_main_loop([this, cause] { handle_reset(cause); });
}

void VirtualMachine::request_shutdown(ShutdownCause cause) {
  machine_->vm().pause_all();
  run_on_main_loop([this, cause] { handle_shutdown(cause); });
}

void VirtualMachine::request_exit(int status) {
  machine_->vm().pause_all();
  run_on_main_loop([this, status] { quit(ShutdownCause::kGuestShutdown, status); });
}

void VirtualMachine::report_internal_error(int cpu_index, const std::string& report) {
  {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (internal_error_reported_)
      return;
    internal_error_reported_ = true;
  }
  error_report("vCPU %d stopped: %s", cpu_index, report.c_str());
  machine_->vm().pause_all();
  run_on_main_loop([this] {
    if (quitting_)
      return;
    Status st = runstate_.transition(RunState::kInternalError);
    if (!st.ok())
      warn_report("%s", st.error().message().c_str());
  });
}

}  // namespace colo
