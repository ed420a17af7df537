// SPDX-License-Identifier: GPL-2.0-or-later
//
// HMP, the human monitor: QEMU's readline (the same echo and cursor bytes) and a command table.
// Every command calls the QMP handler of the same name and formats its result; nothing exists
// only in HMP.
#include <cinttypes>
#include <cstdarg>

#include "colovm-config.h"
#include "monitor/monitor-internal.h"
#include "net/net.h"
#include "system/vm.h"
#include "util/main-loop.h"

namespace colo {

namespace {

// What a command prints; '\n' becomes "\r\n" as in QEMU's monitor_puts().
class HmpOutput {
 public:
  void puts(std::string_view s) {
    for (char c : s) {
      if (c == '\n')
        text_.push_back('\r');
      text_.push_back(c);
    }
  }
  void printf(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    va_list ap;
    va_start(ap, fmt);
    char* s = nullptr;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n >= 0) {
      puts(std::string_view(s, static_cast<size_t>(n)));
      free(s);
    }
  }
  // QEMU's hmp_handle_error().
  void error(const Error& e) { printf("Error: %s\n", e.message().c_str()); }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

using Args = std::vector<std::string>;

struct HmpCommand {
  const char* name;    // "c|cont": aliases separated by '|'
  const char* params;  // shown by help; "" when the command takes no argument
  const char* help;
  int max_args;
  void (*run)(HmpOutput& out, const Args& args, QmpContext& ctx);
  const std::vector<HmpCommand>* sub = nullptr;  // "info"
};

// Prints the error of a Status-returning handler.
void report(HmpOutput& out, const Status& st) {
  if (!st.ok())
    out.error(st.error());
}

void hmp_info_status(HmpOutput& out, const Args&, QmpContext& ctx) {
  auto info = qmp_query_status(ctx);
  if (!info.ok())
    return out.error(info.error());
  out.printf("VM status: %s", info->running ? "running" : "paused");
  if (!info->running && info->status != qapi::RunState::kPaused) {
    out.printf(" (%s)", std::string(to_string(info->status)).c_str());
  }
  out.puts("\n");
}

void hmp_info_version(HmpOutput& out, const Args&, QmpContext& ctx) {
  auto info = qmp_query_version(ctx);
  if (!info.ok())
    return out.error(info.error());
  out.printf("%" PRId64 ".%" PRId64 ".%" PRId64 " (%s)\n", info->qemu.major, info->qemu.minor,
             info->qemu.micro, info->package.c_str());
}

void hmp_info_name(HmpOutput& out, const Args&, QmpContext& ctx) {
  auto info = qmp_query_name(ctx);
  if (!info.ok())
    return out.error(info.error());
  if (info->name)
    out.printf("%s\n", info->name->c_str());
}

void hmp_info_chardev(HmpOutput& out, const Args&, QmpContext& ctx) {
  auto list = qmp_query_chardev(ctx);
  if (!list.ok())
    return out.error(list.error());
  for (const auto& c : *list)
    out.printf("%s: filename=%s\n", c.label.c_str(), c.filename.c_str());
}

void hmp_info_kvm(HmpOutput& out, const Args&, QmpContext& ctx) {
  auto info = qmp_query_kvm(ctx);
  if (!info.ok())
    return out.error(info.error());
  out.puts("kvm support: ");
  out.puts(info->present ? (info->enabled ? "enabled\n" : "disabled\n") : "not compiled\n");
}

void hmp_info_cpus(HmpOutput& out, const Args&, QmpContext& ctx) {
  auto list = qmp_query_cpus_fast(ctx);
  if (!list.ok())
    return out.error(list.error());
  for (const auto& cpu : *list) {
    out.printf("%c CPU #%" PRId64 ":", cpu.cpu_index == 0 ? '*' : ' ', cpu.cpu_index);
    out.printf(" thread_id=%" PRId64 "\n", cpu.thread_id);
  }
}

void hmp_info_qtree_lite(HmpOutput& out, const Args&, QmpContext& ctx) {
  auto list = qmp_query_qtree_lite(ctx);
  if (!list.ok())
    return out.error(list.error());
  if (list->empty())
    out.puts("no devices created with -device\n");
  for (const auto& dev : *list) {
    out.printf("dev: %s", dev.type.c_str());
    if (dev.id)
      out.printf(", id \"%s\"", dev.id->c_str());
    out.puts("\n");
    for (const auto& p : dev.properties) {
      out.printf("  %s = \"%s\"\n", p.name.c_str(), p.value.c_str());
    }
  }
}

// QEMU's hmp_info_pci().
void hmp_info_pci(HmpOutput& out, const Args&, QmpContext& ctx) {
  auto list = qmp_query_pci(ctx);
  if (!list.ok())
    return out.error(list.error());
  for (const auto& bus : *list) {
    for (const auto& dev : bus.devices) {
      out.printf("  Bus %2" PRId64 ", device %3" PRId64 ", function %" PRId64 ":\n", dev.bus,
                 dev.slot, dev.function);
      out.puts("    ");
      if (dev.class_info.desc)
        out.puts(*dev.class_info.desc);
      else
        out.printf("Class %04" PRId64, dev.class_info.class_);
      out.printf(": PCI device %04" PRIx64 ":%04" PRIx64 "\n", dev.id.vendor, dev.id.device);
      if (dev.id.subsystem_vendor && dev.id.subsystem) {
        out.printf("      PCI subsystem %04" PRIx64 ":%04" PRIx64 "\n", *dev.id.subsystem_vendor,
                   *dev.id.subsystem);
      }
      if (dev.irq) {
        out.printf("      IRQ %" PRId64 ", pin %c\n", *dev.irq,
                   static_cast<char>('A' + dev.irq_pin - 1));
      }
      for (const auto& r : dev.regions) {
        uint64_t addr = static_cast<uint64_t>(r.address);
        uint64_t last = addr + static_cast<uint64_t>(r.size) - 1;
        out.printf("      BAR%" PRId64 ": ", r.bar);
        if (r.type == "io") {
          out.printf("I/O at 0x%04" PRIx64 " [0x%04" PRIx64 "].\n", addr, last);
        } else {
          out.printf("%d bit%s memory at 0x%08" PRIx64 " [0x%08" PRIx64 "].\n",
                     r.mem_type_64.value_or(false) ? 64 : 32,
                     r.prefetch.value_or(false) ? " prefetchable" : "", addr, last);
        }
      }
      out.printf("      id \"%s\"\n", dev.qdev_id.c_str());
    }
  }
}

// QEMU's hmp_info_block() without -n and -v: the drives, or the one named.
void hmp_info_block(HmpOutput& out, const Args& args, QmpContext& ctx) {
  auto list = qmp_query_block(ctx);
  if (!list.ok())
    return out.error(list.error());
  bool first = true;
  for (const auto& info : *list) {
    if (!args.empty() && info.device != args[0])
      continue;
    if (!first)
      out.puts("\n");
    first = false;
    out.puts(info.device);
    if (info.inserted && info.inserted->node_name)
      out.printf(" (%s)", info.inserted->node_name->c_str());
    if (!info.inserted) {
      out.puts(": [not inserted]\n");
    } else {
      const auto& in = *info.inserted;
      out.printf(": %s (%s%s%s)\n", in.file.c_str(), in.drv.c_str(), in.ro ? ", read-only" : "",
                 in.encrypted ? ", encrypted" : "");
    }
    if (info.qdev)
      out.printf("    Attached to:      %s\n", info.qdev->c_str());
    if (info.removable) {
      out.printf("    Removable device: %slocked, tray closed\n", info.locked ? "" : "not ");
    }
    if (!info.inserted)
      continue;
    const auto& in = *info.inserted;
    out.printf("    Cache mode:       %s%s%s\n", in.cache.writeback ? "writeback" : "writethrough",
               in.cache.direct ? ", direct" : "", in.cache.no_flush ? ", ignore flushes" : "");
    if (in.backing_file) {
      out.printf("    Backing file:     %s (chain depth: %" PRId64 ")\n", in.backing_file->c_str(),
                 in.backing_file_depth);
    }
    if (in.detect_zeroes != qapi::BlockdevDetectZeroesOptions::kOff) {
      out.printf("    Detect zeroes:    %s\n", std::string(to_string(in.detect_zeroes)).c_str());
    }
  }
}

// QEMU's hmp_info_network(); HMP only, as in QEMU (there is no QMP query-network).
void hmp_info_network(HmpOutput& out, const Args&, QmpContext&) {
  std::string text;
  run_on_main_loop_sync([&] { text = netdev_registry().info_network(); });
  out.puts(text);
}

void hmp_stop(HmpOutput& out, const Args&, QmpContext& ctx) {
  report(out, qmp_stop(ctx));
}
void hmp_cont(HmpOutput& out, const Args&, QmpContext& ctx) {
  report(out, qmp_cont(ctx));
}
void hmp_system_reset(HmpOutput& out, const Args&, QmpContext& ctx) {
  report(out, qmp_system_reset(ctx));
}
void hmp_system_powerdown(HmpOutput& out, const Args&, QmpContext& ctx) {
  report(out, qmp_system_powerdown(ctx));
}
void hmp_quit(HmpOutput& out, const Args&, QmpContext& ctx) {
  report(out, qmp_quit(ctx));
}

void hmp_help(HmpOutput& out, const Args& args, QmpContext& ctx);
void hmp_info(HmpOutput& out, const Args& args, QmpContext& ctx);

const std::vector<HmpCommand>& info_commands() {
  static const std::vector<HmpCommand> table = {
      {"block", "[device]", "show info of one block device or all block devices", 1,
       hmp_info_block},
      {"chardev", "", "show the character devices", 0, hmp_info_chardev},
      {"cpus", "", "show infos for each CPU", 0, hmp_info_cpus},
      {"kvm", "", "show KVM information", 0, hmp_info_kvm},
      {"name", "", "show the current VM name", 0, hmp_info_name},
      {"network", "", "show the network state", 0, hmp_info_network},
      {"pci", "", "show PCI info", 0, hmp_info_pci},
      {"qtree-lite", "", "show the devices created with -device", 0, hmp_info_qtree_lite},
      {"status", "", "show the current VM status (running|paused)", 0, hmp_info_status},
      {"version", "", "show the version of QEMU", 0, hmp_info_version},
  };
  return table;
}

const std::vector<HmpCommand>& commands() {
  static const std::vector<HmpCommand> table = {
      {"c|cont", "", "resume emulation", 0, hmp_cont},
      {"help|?", "[cmd]", "show the help", 1, hmp_help},
      {"info", "[subcommand]", "show various information about the system state", 1, hmp_info,
       &info_commands()},
      {"q|quit", "", "quit the emulator", 0, hmp_quit},
      {"stop", "", "stop emulation", 0, hmp_stop},
      {"system_powerdown", "", "send system power down event", 0, hmp_system_powerdown},
      {"system_reset", "", "reset the system", 0, hmp_system_reset},
  };
  return table;
}

bool name_matches(const char* names, std::string_view word) {
  std::string_view all(names);
  while (!all.empty()) {
    size_t bar = all.find('|');
    std::string_view one = all.substr(0, bar);
    if (one == word)
      return true;
    if (bar == std::string_view::npos)
      break;
    all.remove_prefix(bar + 1);
  }
  return false;
}

const HmpCommand* find(const std::vector<HmpCommand>& table, std::string_view word) {
  for (const HmpCommand& c : table) {
    if (name_matches(c.name, word))
      return &c;
  }
  return nullptr;
}

void dump_one(HmpOutput& out, const char* prefix, const HmpCommand& c) {
  out.printf("%s%s %s -- %s\n", prefix, c.name, c.params, c.help);
}

void hmp_help(HmpOutput& out, const Args& args, QmpContext&) {
  if (args.empty()) {
    for (const HmpCommand& c : commands())
      dump_one(out, "", c);
    return;
  }
  const HmpCommand* c = find(commands(), args[0]);
  if (c == nullptr) {
    out.printf("unknown command: '%s'\n", args[0].c_str());
    return;
  }
  if (c->sub != nullptr) {
    for (const HmpCommand& s : *c->sub)
      dump_one(out, "info ", s);
    return;
  }
  dump_one(out, "", *c);
}

void hmp_info(HmpOutput& out, const Args& args, QmpContext& ctx) {
  if (args.empty()) {
    for (const HmpCommand& s : info_commands())
      dump_one(out, "info ", s);
    return;
  }
  const HmpCommand* c = find(info_commands(), args[0]);
  if (c == nullptr) {
    out.printf("unknown command: 'info %s'\n", args[0].c_str());
    return;
  }
  c->run(out, Args(args.begin() + 1, args.end()), ctx);
}

Args split_words(std::string_view line) {
  Args words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      i++;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t')
      i++;
    if (i > start)
      words.emplace_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

std::string hmp_execute(std::string_view command_line, QmpContext& ctx) {
  HmpOutput out;
  Args words = split_words(command_line);
  if (words.empty())
    return {};
  const HmpCommand* c = find(commands(), words[0]);
  if (c == nullptr) {
    out.printf("unknown command: '%s'\n", words[0].c_str());
    return out.take();
  }
  Args args(words.begin() + 1, words.end());
  if (c->sub != nullptr && !args.empty()) {
    const HmpCommand* s = find(*c->sub, args[0]);
    if (s != nullptr && static_cast<int>(args.size()) - 1 > s->max_args) {
      out.printf("%s: extraneous characters at the end of line\n", args[0].c_str());
      return out.take();
    }
  } else if (static_cast<int>(args.size()) > c->max_args) {
    std::string name(c->name);
    out.printf("%s: extraneous characters at the end of line\n",
               name.substr(0, name.find('|')).c_str());
    return out.take();
  }
  c->run(out, args, ctx);
  return out.take();
}

// The readline monitor --------------------------------------------------------------------------

HmpMonitor::HmpMonitor(Chardev* chr) : chr_(chr), on_mux_(chr->backend_type() == "mux") {}

void HmpMonitor::puts(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out.push_back('\r');
    out.push_back(c);
  }
  (void)chr_->write_str(out);
}

void HmpMonitor::show_prompt() {
  puts("(qemu) ");
  last_index_ = 0;
  last_cmd_.clear();
  esc_ = Esc::kNorm;
}

void HmpMonitor::event(ChardevEvent ev) {
  switch (ev) {
    case ChardevEvent::kOpened:
      if (on_mux_ && !focused_)
        break;
      banner_shown_ = true;
      cmd_.clear();
      index_ = 0;
      puts("colovm " COLOVM_VERSION " monitor - type 'help' for more information\n");
      show_prompt();
      break;
    case ChardevEvent::kMuxIn:
      focused_ = true;
      if (!banner_shown_) {
        banner_shown_ = true;
        puts("colovm " COLOVM_VERSION " monitor - type 'help' for more information\n");
      }
      cmd_.clear();
      index_ = 0;
      show_prompt();
      break;
    case ChardevEvent::kMuxOut:
      if (focused_)
        puts("\n");
      focused_ = false;
      break;
    default:
      break;
  }
}

void HmpMonitor::receive(std::span<const uint8_t> data) {
  for (uint8_t b : data)
    handle_byte(b);
}

// QEMU's readline_update(): redraw what changed.
void HmpMonitor::update() {
  std::string out;
  if (cmd_ != last_cmd_) {
    for (size_t i = 0; i < last_index_; i++)
      out += "\033[D";
    out += cmd_;
    out += "\033[K";
    last_cmd_ = cmd_;
    last_index_ = cmd_.size();
  }
  if (index_ != last_index_) {
    if (index_ > last_index_) {
      for (size_t i = last_index_; i < index_; i++)
        out += "\033[C";
    } else {
      for (size_t i = index_; i < last_index_; i++)
        out += "\033[D";
    }
    last_index_ = index_;
  }
  if (!out.empty())
    (void)chr_->write_str(out);
}

void HmpMonitor::handle_byte(uint8_t ch) {
  switch (esc_) {
    case Esc::kNorm:
      switch (ch) {
        case 1:  // C-a
          index_ = 0;
          break;
        case 5:  // C-e
          index_ = cmd_.size();
          break;
        case 10:
        case 13: {
          std::string line = cmd_;
          if (!line.empty() && (history_.empty() || history_.back() != line)) {
            history_.push_back(line);
            if (history_.size() > 64)
              history_.erase(history_.begin());
          }
          hist_pos_ = history_.size();
          puts("\n");
          cmd_.clear();
          index_ = 0;
          last_cmd_.clear();
          last_index_ = 0;
          QmpContext ctx(nullptr, false);
          std::string out = hmp_execute(line, ctx);
          if (!out.empty())
            (void)chr_->write_str(out);
          VirtualMachine* vm = monitor_vm();
          if (vm != nullptr && vm->quitting())
            return;  // no prompt after quit
          show_prompt();
          return;
        }
        case 27:
          esc_ = Esc::kEsc;
          break;
        case 127:
        case 8:
          if (index_ > 0) {
            cmd_.erase(index_ - 1, 1);
            index_--;
          }
          break;
        default:
          if (ch >= 32 && cmd_.size() < 4095) {
            cmd_.insert(cmd_.begin() + static_cast<ptrdiff_t>(index_), static_cast<char>(ch));
            index_++;
          }
          break;
      }
      break;
    case Esc::kEsc:
      esc_ = ch == '[' ? Esc::kCsi : ch == 'O' ? Esc::kSs3 : Esc::kNorm;
      break;
    case Esc::kCsi:
    case Esc::kSs3:
      if (ch >= '0' && ch <= '9')
        break;  // parameters (delete, home, end): ignored
      esc_ = Esc::kNorm;
      if (ch == 'D' && index_ > 0)
        index_--;
      if (ch == 'C' && index_ < cmd_.size())
        index_++;
      if (ch == 'A' && hist_pos_ > 0) {
        cmd_ = history_[--hist_pos_];
        index_ = cmd_.size();
      }
      if (ch == 'B' && hist_pos_ < history_.size()) {
        hist_pos_++;
        cmd_ = hist_pos_ < history_.size() ? history_[hist_pos_] : std::string();
        index_ = cmd_.size();
      }
      if (ch == 'H')
        index_ = 0;
      if (ch == 'F')
        index_ = cmd_.size();
      break;
  }
  update();
}

}  // namespace colo
