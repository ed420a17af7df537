// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: system/options.h
//
// The command line, in QEMU's syntax: `-opt value` (or `--opt value`), values in keyval form.
// A wrong or unknown option is a one-line error "colovm: -opt value: what is wrong".
//
// Options are parsed into CommandLine; options that build objects other subsystems own
// (-chardev, -device, ...) are kept as raw strings, in order, for those subsystems to consume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/error.h"

namespace colo {

struct CommandLine {
  uint64_t ram_size = 128ULL << 20;
  int smp = 1;
  std::string cpu = "qemu64";
  std::string machine_type = "pc";
  uint64_t max_ram_below_4g = 0;  // 0: the default split (3 GiB)
  bool debug_exit = true;
  bool acpi = true;  // -machine acpi=on|off
  std::string kernel;
  std::string initrd;
  std::string append;
  std::vector<std::string> serial;  // -serial, in order (COM1..COM4)
  bool nographic = false;
  bool nodefaults = false;
  bool no_reboot = false;
  bool no_shutdown = false;
  bool start_paused = false;  // -S
  std::string name;
  std::string pidfile;
  bool show_version = false;
  bool show_help = false;
  bool debug = false;  // -d: debug messages on stderr

  // Raw options for other subsystems, in command-line order.
  std::vector<std::string> chardevs;   // -chardev
  std::vector<std::string> monitors;   // -monitor (HMP, legacy chardev syntax)
  std::vector<std::string> qmps;       // -qmp (QMP, legacy chardev syntax)
  std::vector<std::string> mons;       // -mon chardev=...,mode=...
  std::vector<std::string> devices;    // -device (other than isa-debug-exit)
  std::vector<std::string> netdevs;    // -netdev
  std::vector<std::string> nics;       // -nic
  std::vector<std::string> drives;     // -drive
  std::vector<std::string> blockdevs;  // -blockdev
  std::vector<std::string> objects;    // -object
  std::string incoming;                // -incoming
};

// Parses argv (argv[0] is skipped). Errors carry the option as context: "-m foo: ...".
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

// The text of -help.
std::string command_line_help();

}  // namespace colo
