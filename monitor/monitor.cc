// SPDX-License-Identifier: GPL-2.0-or-later
//
// The set of monitors, the monitor-io thread, and the event sink that sends every QAPI event to
// every QMP session.
#include <memory>
#include <mutex>
#include <vector>

#include "monitor/monitor-internal.h"
#include "util/iothread.h"
#include "util/log.h"

namespace colo {

namespace {

struct Monitors {
  std::mutex mutex;  // qmp (read by the event sink on any thread)
  std::vector<std::unique_ptr<QmpMonitor>> qmp;
  std::vector<std::unique_ptr<HmpMonitor>> hmp;
  std::unique_ptr<IoThread> io;
  bool sink_installed = false;
};

Monitors& monitors() {
  static auto* m = new Monitors();
  return *m;
}

void broadcast_event(std::string_view name, const nlohmann::json& data) {
  std::string text = qmp_event_text(name, data);
  Monitors& m = monitors();
  std::lock_guard<std::mutex> lock(m.mutex);
  for (auto& mon : m.qmp)
    mon->send_event(text);
}

}  // namespace

Status monitor_new(Chardev* chr, MonitorMode mode, bool pretty) {
  Monitors& m = monitors();
  if (pretty)
    return make_error("pretty=on is not supported");
  if (mode == MonitorMode::kReadline) {
    auto mon = std::make_unique<HmpMonitor>(chr);
    COLO_TRY(chr->attach_frontend(mon.get()));
    m.hmp.push_back(std::move(mon));
    return ok_status();
  }
  if (!m.sink_installed) {
    m.sink_installed = true;
    set_qapi_event_sink(
        [](std::string_view name, nlohmann::json data) { broadcast_event(name, data); });
  }
  // Sockets and stdio move to the monitor-io thread; a mux stays on the main loop.
  bool use_io_thread = chr->backend_type() != "mux" && !chr->frontend_open();
  if (use_io_thread && !m.io) {
    COLO_ASSIGN_OR_RETURN(m.io, IoThread::start("monitor-io"));
  }
  auto mon = std::make_unique<QmpMonitor>(chr, use_io_thread);
  QmpMonitor* raw = mon.get();
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    m.qmp.push_back(std::move(mon));
  }
  Status st = ok_status();
  if (use_io_thread) {
    COLO_TRY(chr->set_context(m.io->context()));
    m.io->run_sync([&] { st = chr->attach_frontend(raw); });
  } else {
    st = chr->attach_frontend(raw);
  }
  if (!st.ok()) {
    std::lock_guard<std::mutex> lock(m.mutex);
    m.qmp.pop_back();
  }
  return st;
}

namespace {

Status monitor_from_legacy(const std::string& spec, MonitorMode mode, int* index) {
  if (spec == "none")
    return ok_status();
  Chardev* chr = nullptr;
  if (spec.rfind("chardev:", 0) == 0) {
    chr = chardev_registry().find(spec.substr(8));
    if (chr == nullptr)
      return make_error("chardev '%s' not found", spec.c_str() + 8);
  } else {
    std::string id = string_printf("compat_monitor%d", (*index)++);
    COLO_ASSIGN_OR_RETURN(auto created, chardev_new_from_option(spec, id));
    chr = created.get();
    COLO_TRY(chardev_registry().add(std::move(created)));
  }
  return monitor_new(chr, mode);
}

Status monitor_from_mon_option(const std::string& spec) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict opts, keyval_parse(spec, "chardev"));
  OptionReader r(std::move(opts));
  std::string id = r.take_or("chardev", "");
  std::string mode = r.take_or("mode", "readline");
  COLO_ASSIGN_OR_RETURN(bool pretty, r.take_bool("pretty", false));
  r.take("id");
  COLO_TRY(r.finish());
  if (id.empty())
    return make_error("Parameter 'chardev' is missing");
  if (mode != "readline" && mode != "control") {
    return make_error("Parameter 'mode' does not accept value '%s'", mode.c_str());
  }
  Chardev* chr = chardev_registry().find(id);
  if (chr == nullptr)
    return make_error("chardev \"%s\" not found", id.c_str());
  return monitor_new(chr, mode == "control" ? MonitorMode::kControl : MonitorMode::kReadline,
                     pretty);
}

}  // namespace

Status monitor_create_from_options(const std::vector<std::string>& hmp,
                                   const std::vector<std::string>& qmp,
                                   const std::vector<std::string>& mon) {
  int index = 0;
  for (const std::string& spec : hmp) {
    COLO_TRY(monitor_from_legacy(spec, MonitorMode::kReadline, &index).prepend("-monitor " + spec));
  }
  for (const std::string& spec : qmp) {
    COLO_TRY(monitor_from_legacy(spec, MonitorMode::kControl, &index).prepend("-qmp " + spec));
  }
  for (const std::string& spec : mon) {
    COLO_TRY(monitor_from_mon_option(spec).prepend("-mon " + spec));
  }
  return ok_status();
}

void monitor_cleanup() {
  Monitors& m = monitors();
  set_qapi_event_sink({});
  m.sink_installed = false;
  std::vector<std::unique_ptr<QmpMonitor>> qmp;
  {
    std::lock_guard<std::mutex> lock(m.mutex);
    qmp.swap(m.qmp);
  }
  for (auto& mon : qmp) {
    Chardev* chr = mon->chardev();
    if (mon->uses_io_thread() && m.io) {
      m.io->run_sync([&] { chr->detach_frontend(mon.get()); });
    } else {
      chr->detach_frontend(mon.get());
    }
  }
  // Stopping the thread drops work still queued for it (resumes of detached monitors).
  m.io.reset();
  qmp.clear();
  for (auto& mon : m.hmp)
    mon->chardev()->detach_frontend(mon.get());
  m.hmp.clear();
  monitor_set_vm(nullptr);
}

}  // namespace colo
