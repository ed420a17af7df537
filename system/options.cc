// SPDX-License-Identifier: GPL-2.0-or-later
#include "system/options.h"

#include <functional>
#include <map>

#include "colovm-config.h"
#include "util/keyval.h"

namespace colo {

namespace {

struct OptionDef {
  const char* name;
  bool has_arg;
  const char* help;  // nullptr: hidden
  std::function<Status(CommandLine&, const std::string&)> apply;
};

Status parse_memory(CommandLine& cl, const std::string& arg) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict d, keyval_parse(arg, "size"));
  OptionReader r(std::move(d));
  COLO_ASSIGN_OR_RETURN(uint64_t size, r.take_size("size", cl.ram_size, 1ULL << 20));
  if (r.has("slots") || r.has("maxmem")) {
    return make_error("memory hotplug (slots, maxmem) is not supported");
  }
  COLO_TRY(r.finish());
  if (size < (8ULL << 20)) {
    return make_error("at least 8 MiB of RAM is needed, %s given", format_size(size).c_str());
  }
  if (size % 4096 != 0)
    return make_error("the RAM size must be a multiple of 4 KiB");
  cl.ram_size = size;
  return ok_status();
}

Status parse_smp(CommandLine& cl, const std::string& arg) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict d, keyval_parse(arg, "cpus"));
  OptionReader r(std::move(d));
  COLO_ASSIGN_OR_RETURN(uint64_t sockets, r.take_uint("sockets", 0));
  COLO_ASSIGN_OR_RETURN(uint64_t dies, r.take_uint("dies", 1));
  COLO_ASSIGN_OR_RETURN(uint64_t cores, r.take_uint("cores", 0));
  COLO_ASSIGN_OR_RETURN(uint64_t threads, r.take_uint("threads", 0));
  uint64_t topo = (sockets ? sockets : 1) * dies * (cores ? cores : 1) * (threads ? threads : 1);
  COLO_ASSIGN_OR_RETURN(uint64_t cpus, r.take_uint("cpus", topo));
  COLO_ASSIGN_OR_RETURN(uint64_t maxcpus, r.take_uint("maxcpus", cpus));
  COLO_TRY(r.finish());
  if (cpus == 0)
    return make_error("Invalid CPU topology: CPU count must be greater than 0");
  if (maxcpus != cpus)
    return make_error("CPU hotplug (maxcpus > cpus) is not supported");
  if (cpus > 255)
    return make_error("Invalid SMP CPUs %llu. The max CPUs supported is 255",
                      static_cast<unsigned long long>(cpus));
  cl.smp = static_cast<int>(cpus);
  return ok_status();
}

Status parse_accel(CommandLine&, const std::string& accel) {
  // "kvm" and QEMU's fallback lists ("kvm:tcg") are fine as long as kvm is the first choice.
  std::string first = accel.substr(0, accel.find(':'));
  if (first != "kvm") {
    return make_error("accelerator '%s' is not supported: colovm runs only on KVM", accel.c_str());
  }
  return ok_status();
}

Status parse_machine(CommandLine& cl, const std::string& arg) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict d, keyval_parse(arg, "type"));
  OptionReader r(std::move(d));
  if (auto type = r.take("type")) {
    if (*type == "help" || *type == "?") {
      return make_error("Supported machines: pc (x86 PC with direct kernel boot, default)");
    }
    if (*type != "pc" && type->rfind("pc-i440fx", 0) != 0) {
      return make_error("unsupported machine type '%s'", type->c_str())
          .set_hint("use -machine help to list supported machines");
    }
    cl.machine_type = "pc";
  }
  if (auto accel = r.take("accel"))
    COLO_TRY(parse_accel(cl, *accel));
  COLO_ASSIGN_OR_RETURN(cl.debug_exit, r.take_bool("debug-exit", cl.debug_exit));
  if (auto acpi = r.take("acpi")) {
    // QEMU's OnOffAuto: auto means on for the pc machine.
    if (*acpi == "auto") {
      cl.acpi = true;
    } else {
      COLO_ASSIGN_OR_RETURN(cl.acpi, parse_bool("acpi", *acpi));
    }
  }
  COLO_ASSIGN_OR_RETURN(cl.max_ram_below_4g, r.take_size("max-ram-below-4g", cl.max_ram_below_4g));
  if (cl.max_ram_below_4g != 0 &&
      (cl.max_ram_below_4g < (16ULL << 20) || cl.max_ram_below_4g > (3ULL << 30) ||
       cl.max_ram_below_4g % (1ULL << 20) != 0)) {
    return make_error("max-ram-below-4g must be a multiple of 1 MiB from 16 MiB to 3 GiB");
  }
  COLO_TRY(r.finish());
  return ok_status();
}

Status parse_device(CommandLine& cl, const std::string& arg) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict d, keyval_parse(arg, "driver"));
  if (d["driver"] != "isa-debug-exit") {
    cl.devices.push_back(arg);
    return ok_status();
  }
  // QEMU's debug-exit device: colovm always has it at its default place.
  OptionReader r(std::move(d));
  r.take("driver");
  r.take("id");
  COLO_ASSIGN_OR_RETURN(uint64_t iobase, r.take_uint("iobase", 0x501));
  COLO_ASSIGN_OR_RETURN(uint64_t iosize, r.take_uint("iosize", 2));
  COLO_TRY(r.finish());
  if (iobase != 0xf4 || (iosize != 1 && iosize != 2 && iosize != 4)) {
    return make_error("isa-debug-exit is available only at iobase=0xf4");
  }
  cl.debug_exit = true;
  return ok_status();
}

Status parse_name(CommandLine& cl, const std::string& arg) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict d, keyval_parse(arg, "guest"));
  OptionReader r(std::move(d));
  cl.name = r.take_or("guest", "");
  r.take("process");
  COLO_ASSIGN_OR_RETURN(bool debug_threads, r.take_bool("debug-threads", false));
  (void)debug_threads;  // threads always carry their role's name
  return r.finish();
}

Status parse_display(CommandLine&, const std::string& arg) {
  std::string type = arg.substr(0, arg.find(','));
  if (type != "none") {
    return make_error("Display '%s' is not available: colovm has no graphical display",
                      type.c_str());
  }
  return ok_status();
}

Status parse_vga(CommandLine&, const std::string& arg) {
  if (arg != "none")
    return make_error("VGA '%s' is not available: colovm has no display", arg.c_str());
  return ok_status();
}

const std::vector<OptionDef>& option_table() {
  auto push = [](std::vector<std::string> CommandLine::*field) {
    return [field](CommandLine& cl, const std::string& a) {
      (cl.*field).push_back(a);
      return ok_status();
    };
  };
  auto set_str = [](std::string CommandLine::*field) {
    return [field](CommandLine& cl, const std::string& a) {
      cl.*field = a;
      return ok_status();
    };
  };
  auto set_true = [](bool CommandLine::*field) {
    return [field](CommandLine& cl, const std::string&) {
      cl.*field = true;
      return ok_status();
    };
  };
  static const std::vector<OptionDef> table = {
      {"h", false, nullptr, set_true(&CommandLine::show_help)},
      {"help", false, "display this help and exit", set_true(&CommandLine::show_help)},
      {"version", false, "display version information and exit",
       set_true(&CommandLine::show_version)},
      {"machine", true,
       "[type=]pc[,accel=kvm][,max-ram-below-4g=size][,debug-exit=on|off]  the machine",
       parse_machine},
      {"M", true, nullptr, parse_machine},
      {"accel", true, "kvm  select the accelerator (only kvm)",
       [](CommandLine& cl, const std::string& a) -> Status {
         // QEMU's -accel has the implied key "accel": "-accel kvm" is "-accel accel=kvm".
         COLO_ASSIGN_OR_RETURN(KeyvalDict d, keyval_parse(a, "accel"));
         return parse_accel(cl, d["accel"]);
       }},
      {"enable-kvm", false, "use KVM (always on)",
       [](CommandLine&, const std::string&) { return ok_status(); }},
      {"cpu", true, "model[,+feat][,-feat]  host, max, qemu64 (default), kvm64",
       set_str(&CommandLine::cpu)},
      {"smp", true, "[cpus=]n[,sockets=s][,cores=c][,threads=t]  number of vCPUs", parse_smp},
      {"m", true, "[size=]megs[M|G]  guest RAM (default 128M)", parse_memory},
      {"kernel", true, "bzImage|elf  Linux bzImage or PVH ELF kernel to boot",
       set_str(&CommandLine::kernel)},
      {"initrd", true, "file  initial ram disk", set_str(&CommandLine::initrd)},
      {"append", true, "cmdline  kernel command line", set_str(&CommandLine::append)},
      {"serial", true, "dev  serial port: stdio, null, none, file:PATH, chardev:ID",
       push(&CommandLine::serial)},
      {"nographic", false, "no display; serial port on stdio", set_true(&CommandLine::nographic)},
      {"display", true, "none  (colovm has no graphical display)", parse_display},
      {"vga", true, nullptr, parse_vga},
      {"nodefaults", false, "create no default devices", set_true(&CommandLine::nodefaults)},
      {"no-reboot", false, "exit instead of rebooting", set_true(&CommandLine::no_reboot)},
      {"no-shutdown", false, "stop instead of exiting when the guest powers off",
       set_true(&CommandLine::no_shutdown)},
      {"S", false, "do not start the vCPUs at startup (use 'cont' in the monitor)",
       set_true(&CommandLine::start_paused)},
      {"name", true, "[guest=]name  name of the guest", parse_name},
      {"pidfile", true, "file  write the process id to file", set_str(&CommandLine::pidfile)},
      {"d", true, "items  enable debug messages on stderr (any item turns them on)",
       [](CommandLine& cl, const std::string&) {
         cl.debug = true;
         return ok_status();
       }},
      {"device", true, "driver[,prop=value...]  add a device", parse_device},
      {"chardev", true, "backend,id=id[,...]  create a character device",
       push(&CommandLine::chardevs)},
      {"monitor", true, "dev  HMP monitor on a character device", push(&CommandLine::monitors)},
      {"qmp", true, "dev  QMP monitor on a character device", push(&CommandLine::qmps)},
      {"mon", true, "[chardev=]id[,mode=readline|control]  monitor on a chardev",
       push(&CommandLine::mons)},
      {"netdev", true, "type,id=id[,...]  network backend", push(&CommandLine::netdevs)},
      {"nic", true, "type[,model=virtio-net-pci][,mac=..][,...]  NIC with its own backend",
       push(&CommandLine::nics)},
      {"drive", true, "file=...,if=none,id=...[,format=...]  disk", push(&CommandLine::drives)},
      {"blockdev", true, "driver=...,node-name=...[,...]  block node",
       push(&CommandLine::blockdevs)},
      {"object", true, "type,id=id[,...]  create an object", push(&CommandLine::objects)},
      {"incoming", true, "uri  wait for an incoming migration", set_str(&CommandLine::incoming)},
  };
  return table;
}

}  // namespace

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  const auto& table = option_table();
  for (int i = 1; i < argc; i++) {
    std::string opt = argv[i];
    if (opt.size() < 2 || opt[0] != '-') {
      // QEMU treats a bare argument as a disk image; colovm has no default disk.
      return make_error("%s: unexpected argument (options start with '-')", opt.c_str());
    }
    std::string name = opt.substr(opt[1] == '-' ? 2 : 1);
    const OptionDef* def = nullptr;
    for (const OptionDef& d : table) {
      if (name == d.name)
        def = &d;
    }
    if (def == nullptr)
      return make_error("%s: invalid option", opt.c_str());
    std::string arg;
    if (def->has_arg) {
      if (i + 1 >= argc)
        return make_error("%s: requires an argument", opt.c_str());
      arg = argv[++i];
    }
    Status st = def->apply(cl, arg);
    if (!st.ok()) {
      Error e = std::move(st).error();
      e.prepend(def->has_arg ? opt + " " + arg : opt);
      return e;
    }
  }
  return cl;
}

std::string command_line_help() {
  std::string out = "colovm " COLOVM_VERSION
                    " - a KVM virtual machine monitor for COLO fault tolerance\n"
                    "usage: colovm [options]\n\n";
  for (const OptionDef& d : option_table()) {
    if (d.help == nullptr)
      continue;
    std::string h = d.help;
    std::string arg;
    // "arg  text": the part before two spaces describes the argument.
    auto split = h.find("  ");
    if (d.has_arg && split != std::string::npos) {
      arg = " " + h.substr(0, split);
      h = h.substr(split + 2);
    }
    std::string left = "-" + std::string(d.name) + arg;
    if (left.size() < 40)
      left.resize(40, ' ');
    else
      left += "  ";
    out += left + h + "\n";
  }
  out += "\nSee docs/user-guide.md for the monitor, networking, disks and COLO.\n";
  return out;
}

}  // namespace colo
