// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: system/vm.h
//
// The virtual machine as the control plane sees it: a machine (hw/i386/pc.h), its run state, and
// what happens on reset, power-off, debug exit and internal errors. Requests may come from any
// thread (vCPUs, devices, signals); they are carried out on the main loop, in order.
//
//   -S                 start in "prelaunch", vCPUs parked until start()
//   guest reset        RESET; the machine resets (or, with -no-reboot, shuts down)
//   guest power-off    SHUTDOWN; colovm exits 0 (or, with -no-shutdown, stops in "shutdown")
//   debug-exit port    colovm exits with the status the guest wrote
//   KVM internal error the report goes to stderr; the VM stops in "internal-error"
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hw/i386/pc.h"
#include "hw/machine-events.h"
#include "system/runstate.h"

namespace colo {

struct VmConfig {
  PcConfig machine;
  std::string name;
  bool start_paused = false;  // -S
  bool no_reboot = false;     // -no-reboot
  bool no_shutdown = false;   // -no-shutdown
};

class VirtualMachine : public MachineEvents {
 public:
  // Listener hooks for the monitors (events) and other subsystems. Main thread.
  struct Listeners {
    std::vector<std::function<void(bool guest, ShutdownCause cause)>> shutdown;
    std::vector<std::function<void(bool guest, ShutdownCause cause)>> reset;
    std::vector<std::function<void()>> powerdown;
  };

  static Result<std::unique_ptr<VirtualMachine>> create(const VmConfig& cfg, KvmAccel& accel);
  ~VirtualMachine() override;

  const VmConfig& config() const { return cfg_; }
  PcMachine& machine() { return *machine_; }
  RunStateMachine& runstate() { return runstate_; }
  Listeners& listeners() { return listeners_; }

  // Main thread. start() runs the vCPUs from prelaunch or paused (QMP "cont"); after an
  // internal error or a power-off with -no-shutdown it needs system_reset() first, as in QEMU.
  Status start();
  // A running VM: parks the vCPUs and enters `state` (QMP "stop" uses kPaused). Otherwise a
  // no-op, as QEMU's vm_stop().
  Status stop(RunState state = RunState::kPaused);
  // System reset now (QMP "system_reset" uses kHostQmpSystemReset).
  Status system_reset(ShutdownCause cause);
  // Ends colovm with `exit_status` after emitting SHUTDOWN.
  void quit(ShutdownCause cause, int exit_status = 0);
  // True once quit() ran; the main loop is ending.
  bool quitting() const { return quitting_; }
  int exit_status() const { return exit_status_; }

  // MachineEvents (any thread).
  void request_reset(ShutdownCause cause) override;
  void request_shutdown(ShutdownCause cause) override;
  void request_exit(int status) override;
  void report_internal_error(int cpu_index, const std::string& report) override;

 private:
  explicit VirtualMachine(const VmConfig& cfg) : cfg_(cfg), runstate_(RunState::kPrelaunch) {}
  void handle_reset(ShutdownCause cause);
  void handle_shutdown(ShutdownCause cause);

  VmConfig cfg_;
  std::unique_ptr<PcMachine> machine_;
  RunStateMachine runstate_;
  Listeners listeners_;
  bool quitting_ = false;
  int exit_status_ = 0;
  std::mutex error_mutex_;
  bool internal_error_reported_ = false;
};

// Emits the QMP events of the VM's life (STOP, RESUME, RESET, SHUTDOWN; system/qmp-cmds.cc).
void vm_register_qapi_events(VirtualMachine& vm);

}  // namespace colo
