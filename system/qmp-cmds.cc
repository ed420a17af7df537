// SPDX-License-Identifier: GPL-2.0-or-later
//
// QMP commands of the VM and its run state (QEMU's qmp-cmds.c, cpus.c, runstate.c), and the
// events the run state emits.
#include <fcntl.h>
#include <glib.h>
#include <unistd.h>

#include "hw/qdev.h"
#include "monitor/monitor.h"
#include "qapi/qapi-commands.h"
#include "qapi/qapi-events.h"
#include "system/vm.h"

namespace colo {

void vm_register_qapi_events(VirtualMachine& vm) {
  vm.runstate().add_listener([](RunState from, RunState to) {
    // As QEMU: STOP when a running VM stops (for whatever reason), RESUME when it runs again.
    if (from == RunState::kRunning && to != RunState::kRunning)
      qapi_event_send_stop();
    if (from != RunState::kRunning && to == RunState::kRunning)
      qapi_event_send_resume();
  });
  vm.listeners().reset.push_back(
      [](bool guest, ShutdownCause cause) { qapi_event_send_reset(guest, cause); });
  vm.listeners().shutdown.push_back(
      [](bool guest, ShutdownCause cause) { qapi_event_send_shutdown(guest, cause); });
}

Result<qapi::StatusInfo> qmp_query_status(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  qapi::StatusInfo info;
  info.status = vm->runstate().state();
  info.running = info.status == RunState::kRunning;
  info.singlestep = false;
  return info;
}

Status qmp_stop(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  return vm->stop(RunState::kPaused);
}

Status qmp_cont(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  return vm->start();
}

Status qmp_system_reset(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  return vm->system_reset(ShutdownCause::kHostQmpSystemReset);
}

// QEMU emits POWERDOWN whether or not anything listens; with ACPI (the default) the power
// button raises an SCI and an ACPI-aware guest shuts down (SHUTDOWN, reason guest-shutdown);
// with -machine acpi=off there is no button and nothing else happens.
Status qmp_system_powerdown(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  qapi_event_send_powerdown();
  for (auto& l : vm->listeners().powerdown)
    l();
  (void)vm->machine().powerdown();
  return ok_status();
}

Status qmp_quit(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  vm->quit(ShutdownCause::kHostQmpQuit, 0);
  return ok_status();
}

Result<qapi::NameInfo> qmp_query_name(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  qapi::NameInfo info;
  if (!vm->config().name.empty())
    info.name = vm->config().name;
  return info;
}

Result<qapi::KvmInfo> qmp_query_kvm(QmpContext& ctx) {
  qapi::KvmInfo info;
  // colovm runs only on KVM: it is enabled whenever a machine exists.
  info.present = true;
  info.enabled = monitor_vm() != nullptr;
  return info;
}

Result<std::vector<qapi::CpuInfoFast>> qmp_query_cpus_fast(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  std::vector<qapi::CpuInfoFast> out;
  for (const auto& vcpu : vm->machine().vm().vcpus()) {
    qapi::CpuInfoFast info;
    info.cpu_index = vcpu->index();
    info.qom_path = string_printf("/machine/unattached/device[%d]", vcpu->index());
    info.thread_id = vcpu->thread_id();
    // -smp N is N sockets of one core with one thread, as QEMU's default topology.
    qapi::CpuInstanceProperties props;
    props.socket_id = vcpu->index();
    props.core_id = 0;
    props.thread_id = 0;
    info.props = props;
    info.target = qapi::SysEmuTarget::kX86_64;
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<qapi::QtreeLiteDevice>> qmp_query_qtree_lite(QmpContext& ctx) {
  COLO_ASSIGN_OR_RETURN(VirtualMachine * vm, ctx.vm());
  std::vector<qapi::QtreeLiteDevice> out;
  for (const auto& dev : vm->machine().devices()) {
    qapi::QtreeLiteDevice d;
    d.type = std::string(dev->type_name());
    if (!dev->id().empty())
      d.id = dev->id();
    for (auto& [name, value] : dev->properties()) {
      d.properties.push_back(qapi::QtreeLiteProperty{name, value});
    }
    out.push_back(std::move(d));
  }
  return out;
}

Status qmp_debug_sleep(uint32_t milliseconds, QmpContext& ctx) {
  if (milliseconds > 60000) {
    return make_error("Parameter 'milliseconds' expects a value of at most 60000");
  }
  g_usleep(static_cast<gulong>(milliseconds) * 1000);
  return ok_status();
}

}  // namespace colo
