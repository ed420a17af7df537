// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/machine-events.h
//
// What devices and vCPUs ask of the VM's owner (system/vm.cc): reset, power off, exit with a
// status, stop on an internal error. Callable from any thread; the owner acts on the main loop.
#pragma once

#include <string>

#include "system/runstate.h"

namespace colo {

class MachineEvents {
 public:
  virtual ~MachineEvents() = default;
  virtual void request_reset(ShutdownCause cause) = 0;
  virtual void request_shutdown(ShutdownCause cause) = 0;
  // The guest ended the VM through the debug-exit port with this exit status.
  virtual void request_exit(int status) = 0;
  virtual void report_internal_error(int cpu_index, const std::string& report) = 0;
};

}  // namespace colo
