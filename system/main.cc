// SPDX-License-Identifier: GPL-2.0-or-later
//
// colovm: parse the command line, open KVM, build the machine, run the control loop.
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "block/blockdev.h"
#include "chardev/char.h"
#include "colovm-config.h"
#include "hw/qdev.h"
#include "monitor/monitor.h"
#include "net/net.h"
#include "system/options.h"
#include "system/vm.h"
#include "util/log.h"
#include "util/main-loop.h"
#include "util/thread.h"

namespace colo {
namespace {

// Writes and locks the pid file; it is removed at exit.
class PidFile {
 public:
  ~PidFile() {
    if (fd_ >= 0) {
      unlink(path_.c_str());
      close(fd_);
    }
  }
  Status create(const std::string& path) {
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return errno_error(errno, "cannot create PID file '%s'", path.c_str());
    if (lockf(fd, F_TLOCK, 0) < 0) {
      int err = errno;
      close(fd);
      return errno_error(err, "cannot lock PID file '%s'", path.c_str());
    }
    std::string pid = string_printf("%d\n", getpid());
    if (ftruncate(fd, 0) < 0 ||
        write(fd, pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) {
      int err = errno;
      close(fd);
      return errno_error(err, "cannot write PID file '%s'", path.c_str());
    }
    fd_ = fd;
    path_ = path;
    return ok_status();
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// The serial ports' backends: -serial options, or COM1 on stdio by default (colovm has no
// display, so the console goes where the user is). "mon:DEV" muxes the port with an HMP
// monitor (C-a c switches), as -nographic does by default; those muxes go to *monitors.
Status create_serial_chardevs(const CommandLine& cl, PcConfig& pc,
                              std::vector<Chardev*>* monitors) {
  std::vector<std::string> specs = cl.serial;
  bool default_monitor = cl.monitors.empty() && cl.qmps.empty() && cl.mons.empty();
  if (specs.empty() && !cl.nodefaults) {
    if (cl.nographic && default_monitor) {
      specs.push_back("mon:stdio");
    } else {
      // A monitor on stdio takes the terminal; the console then goes nowhere, as in QEMU.
      bool stdio_taken = false;
      for (const auto* list : {&cl.monitors, &cl.qmps}) {
        for (const std::string& m : *list)
          stdio_taken = stdio_taken || m == "stdio";
      }
      specs.push_back(stdio_taken ? "null" : "stdio");
    }
  }
  if (specs.size() > 4)
    return make_error("-serial: at most 4 serial ports are supported");
  for (size_t i = 0; i < specs.size(); i++) {
    const std::string& spec = specs[i];
    if (spec == "none")
      continue;
    std::string id = string_printf("serial%zu", i);
    if (spec.rfind("chardev:", 0) == 0) {
      Chardev* chr = chardev_registry().find(spec.substr(8));
      if (chr == nullptr) {
        return make_error("-serial %s: chardev '%s' not found", spec.c_str(), spec.c_str() + 8);
      }
      pc.serial[i] = chr;
      continue;
    }
    if (spec.rfind("mon:", 0) == 0) {
      COLO_ASSIGN_OR_RETURN(
          auto base,
          chardev_new_from_option(spec.substr(4), id + "-base").prepend("-serial " + spec));
      COLO_ASSIGN_OR_RETURN(auto mux, chardev_new_mux(id, base.get()).prepend("-serial " + spec));
      pc.serial[i] = mux.get();
      monitors->push_back(mux.get());
      COLO_TRY(chardev_registry().add(std::move(base)));
      COLO_TRY(chardev_registry().add(std::move(mux)));
      continue;
    }
    COLO_ASSIGN_OR_RETURN(auto chr, chardev_new_from_option(spec, id).prepend("-serial " + spec));
    pc.serial[i] = chr.get();
    COLO_TRY(chardev_registry().add(std::move(chr)));
  }
  return ok_status();
}

// -blockdev '{"driver": "qcow2", "file": {"driver": "file", ...}}': QEMU's JSON form,
// flattened into the dotted keys of the keyval form.
Status flatten_json(const nlohmann::json& j, const std::string& prefix, KeyvalDict& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      COLO_TRY(flatten_json(v, prefix.empty() ? k : prefix + "." + k, out));
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); i++) {
      COLO_TRY(flatten_json(j[i], prefix + "." + std::to_string(i), out));
    }
  } else if (j.is_string()) {
    out[prefix] = j.get<std::string>();
  } else if (j.is_boolean()) {
    out[prefix] = j.get<bool>() ? "on" : "off";
  } else if (j.is_number()) {
    out[prefix] = j.dump();
  } else if (j.is_null()) {
    out[prefix] = "null";  // backing: null
  }
  return ok_status();
}

Result<KeyvalDict> parse_blockdev_option(const std::string& spec) {
  if (!spec.empty() && spec[0] == '{') {
    nlohmann::json j = nlohmann::json::parse(spec, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
      return make_error("JSON syntax error");
    KeyvalDict out;
    COLO_TRY(flatten_json(j, "", out));
    return out;
  }
  return keyval_parse(spec, "driver");
}

// -blockdev and -drive, in that order as QEMU does, into the process's block graph; a -drive
// with if=virtio (the default) also gets its virtio-blk-pci device. Block devices exist
// before any -device that refers to them.
Status create_block_devices(const CommandLine& cl, PcConfig& pc) {
  block::BlockGraph& graph = block::default_block_graph();
  pc.blocks = &graph;
  for (const std::string& spec : cl.blockdevs) {
    COLO_ASSIGN_OR_RETURN(KeyvalDict opts,
                          parse_blockdev_option(spec).prepend("-blockdev " + spec));
    COLO_TRY(graph.blockdev_open(opts).prepend("-blockdev " + spec));
  }
  for (const std::string& spec : cl.drives) {
    COLO_ASSIGN_OR_RETURN(KeyvalDict opts, keyval_parse(spec, "").prepend("-drive " + spec));
    COLO_ASSIGN_OR_RETURN(auto blk, graph.drive_open(opts).prepend("-drive " + spec));
    if (blk->options().interface == "virtio") {
      pc.devices.push_back({{"driver", "virtio-blk-pci"}, {"drive", blk->name()}});
    }
  }
  return ok_status();
}

// -netdev and -nic: the backends exist (tap devices open, sockets listening) before the
// machine; a -nic also gets its virtio-net-pci, ahead of the -device NICs as in QEMU.
Status create_netdevs(const CommandLine& cl, PcConfig& pc) {
  NetdevRegistry& nets = netdev_registry();
  pc.netdevs = &nets;
  for (const std::string& spec : cl.netdevs) {
    COLO_TRY(nets.add_from_option(spec).prepend("-netdev " + spec));
  }
  std::vector<KeyvalDict> nic_devices;
  for (size_t i = 0; i < cl.nics.size(); i++) {
    COLO_ASSIGN_OR_RETURN(
        KeyvalDict dev,
        nic_option_split(nets, cl.nics[i], static_cast<int>(i)).prepend("-nic " + cl.nics[i]));
    if (!dev.empty())
      nic_devices.push_back(std::move(dev));
  }
  pc.devices.insert(pc.devices.begin(), nic_devices.begin(), nic_devices.end());
  return ok_status();
}

// -device: parsed here so that syntax errors come before anything starts; created by the
// machine. Returns false after printing the list for "-device help".
Result<bool> collect_devices(const CommandLine& cl, PcConfig& pc) {
  device_register_builtin_types();
  for (const std::string& spec : cl.devices) {
    COLO_ASSIGN_OR_RETURN(KeyvalDict opts, keyval_parse(spec, "driver").prepend("-device " + spec));
    const std::string& driver = opts["driver"];
    if (driver == "help" || driver == "?") {
      printf("Devices:\n");
      for (const DeviceType& t : device_types()) {
        printf("name \"%s\", desc \"%s\"\n", t.name.c_str(), t.description.c_str());
      }
      return false;
    }
    bool known = false;
    for (const DeviceType& t : device_types())
      known = known || t.name == driver;
    if (!known) {
      return make_error("-device %s: '%s' is not a valid device model name", spec.c_str(),
                        driver.c_str())
          .set_hint("use -device help to list the device types");
    }
    pc.devices.push_back(std::move(opts));
  }
  return true;
}

gboolean on_terminate_signal(gpointer data) {
  auto* vm = static_cast<VirtualMachine*>(data);
  // glib does not tell which signal; SIGINT, SIGTERM and SIGHUP all end the VM the same way.
  info_report("terminating on signal");
  vm->quit(ShutdownCause::kHostSignal, 0);
  return G_SOURCE_CONTINUE;
}

int run(int argc, char** argv) {
  set_log_program_name("colovm");
  set_thread_name("main");
  Result<CommandLine> parsed = parse_command_line(argc, argv);
  if (!parsed.ok()) {
    error_report_err(parsed.error());
    return 1;
  }
  CommandLine& cl = *parsed;
  if (cl.show_help) {
    fputs(command_line_help().c_str(), stdout);
    return 0;
  }
  if (cl.show_version) {
    printf("colovm version %s (QEMU 7.2 compatible command line and QMP)\n", COLOVM_VERSION);
    printf("Copyright (c) 2026 the colovm authors; GPL-2.0-or-later\n");
    return 0;
  }
  if (cl.debug)
    set_debug_enabled(true);
  signal(SIGPIPE, SIG_IGN);
  main_loop_init();

  VmConfig cfg;
  cfg.name = cl.name;
  cfg.start_paused = cl.start_paused;
  cfg.no_reboot = cl.no_reboot;
  cfg.no_shutdown = cl.no_shutdown;
  cfg.machine.ram_size = cl.ram_size;
  if (cl.max_ram_below_4g != 0)
    cfg.machine.max_ram_below_4g = cl.max_ram_below_4g;
  cfg.machine.smp = cl.smp;
  cfg.machine.cpu_model = cl.cpu;
  cfg.machine.kernel = cl.kernel;
  cfg.machine.initrd = cl.initrd;
  cfg.machine.cmdline = cl.append;
  cfg.machine.debug_exit = cl.debug_exit;
  cfg.machine.acpi = cl.acpi;
  Result<bool> devices = collect_devices(cl, cfg.machine);
  if (!devices.ok()) {
    error_report_err(devices.error());
    return 1;
  }
  if (!*devices)
    return 0;  // -device help
  if (cl.kernel.empty()) {
    error_report("no kernel given: use -kernel FILE (a Linux bzImage or a PVH ELF)");
    return 1;
  }
  for (const auto* list : {&cl.objects}) {
    if (!list->empty()) {
      error_report("%s: not supported yet", list->front().c_str());
      return 1;
    }
  }
  if (!cl.incoming.empty()) {
    error_report("-incoming %s: not supported yet", cl.incoming.c_str());
    return 1;
  }
  for (const std::string& spec : cl.chardevs) {
    Status cst = chardev_add_from_option(spec).prepend("-chardev " + spec);
    if (!cst.ok()) {
      error_report_err(cst.error());
      return 1;
    }
  }
  std::vector<Chardev*> serial_monitors;
  Status st = create_serial_chardevs(cl, cfg.machine, &serial_monitors);
  if (!st.ok()) {
    error_report_err(st.error());
    return 1;
  }
  st = create_block_devices(cl, cfg.machine);
  if (!st.ok()) {
    error_report_err(st.error());
    return 1;
  }
  st = create_netdevs(cl, cfg.machine);
  if (!st.ok()) {
    error_report_err(st.error());
    return 1;
  }

  auto accel = KvmAccel::open();
  if (!accel.ok()) {
    error_report_err(accel.error());
    return 1;
  }
  auto vm = VirtualMachine::create(cfg, **accel);
  if (!vm.ok()) {
    error_report_err(vm.error());
    return 1;
  }
  st = netdev_registry().start_unattached();  // "netdev n0 has no peer", as QEMU warns
  if (!st.ok()) {
    error_report_err(st.error());
    return 1;
  }
  PidFile pidfile;
  if (!cl.pidfile.empty()) {
    Status pst = pidfile.create(cl.pidfile);
    if (!pst.ok()) {
      error_report_err(pst.error());
      return 1;
    }
  }
  // The monitors come after the machine, so that a mux gives the serial console the focus.
  monitor_set_vm(vm->get());
  vm_register_qapi_events(**vm);
  VirtualMachine* vmp = vm->get();
  chardev_set_quit_handler([vmp] { vmp->quit(ShutdownCause::kHostUi, 0); });
  Status mst = monitor_create_from_options(cl.monitors, cl.qmps, cl.mons);
  for (Chardev* chr : serial_monitors) {
    if (mst.ok())
      mst = monitor_new(chr, MonitorMode::kReadline);
  }
  if (!mst.ok()) {
    error_report_err(mst.error());
    monitor_cleanup();
    return 1;
  }
  g_unix_signal_add(SIGINT, on_terminate_signal, vm->get());
  g_unix_signal_add(SIGTERM, on_terminate_signal, vm->get());
  g_unix_signal_add(SIGHUP, on_terminate_signal, vm->get());

  if (!cfg.start_paused) {
    Status sst = (*vm)->start();
    if (!sst.ok()) {
      error_report_err(sst.error());
      monitor_cleanup();
      return 1;
    }
  }
  main_loop_run();
  monitor_cleanup();
  int status = (*vm)->exit_status();
  vm->reset();                // stops the vCPU threads before the accelerator goes away
  netdev_registry().clear();  // after the NICs: closes taps and sockets
  // The devices are gone; write back what the disks cache (qcow2 metadata) and close them.
  Status cst = block::default_block_graph().close_all();
  if (!cst.ok())
    error_report_err(cst.error());
  chardev_restore_terminal();
  return status;
}

}  // namespace
}  // namespace colo

int main(int argc, char** argv) {
  return colo::run(argc, argv);
}
