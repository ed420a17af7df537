// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: monitor/monitor.h
//
// The monitors: QMP (JSON, for programs) and HMP (text, for people) over chardevs, as QEMU's
// -qmp, -monitor and -mon. docs/user-guide.md ("Monitor") shows how to use them.
//
// Threads (docs/architecture.md):
//   monitor-io   one IoThread shared by every QMP monitor whose chardev can move off the main
//                loop (sockets, stdio). It reads requests, answers "exec-oob" commands at once
//                (allow-oob ones: yank, query-yank) and queues the others.
//   main         runs the queued in-band commands, one at a time, round-robin over the
//                monitors, and every HMP monitor. A QMP monitor on a mux chardev runs entirely
//                on the main loop and does not offer the "oob" capability.
//
// A QMP session: greeting -> qmp_capabilities (enable: ["oob"]) -> commands. At most
// kQmpMaxQueuedRequests in-band requests are queued per session; then the monitor stops
// reading its chardev until one completes (QEMU's behaviour). Without "oob", requests run
// strictly one after the other. Events go to every negotiated session, with a timestamp.
//
// Command handlers (qmp_*(), generated prototypes in qapi/qapi-commands.h) live in the
// subsystem they belong to and get a QmpContext: which session calls, and the machine.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "qapi/qapi-commands.h"
#include "qapi/qapi-types.h"
#include "util/error.h"

namespace colo {

class Chardev;
class VirtualMachine;

inline constexpr size_t kQmpMaxQueuedRequests = 8;

// The protocol state of one QMP connection. Written by the main loop (qmp_capabilities) and by
// the monitor's I/O thread (new connection); read by both.
struct QmpSession {
  std::atomic<bool> negotiated{false};   // qmp_capabilities succeeded
  std::atomic<bool> oob_offered{false};  // the greeting offered "oob"
  std::atomic<bool> oob_enabled{false};  // qmp_capabilities enabled it
};

// What a command handler knows about its caller.
class QmpContext {
 public:
  explicit QmpContext(QmpSession* session = nullptr, bool out_of_band = false)
      : session_(session), out_of_band_(out_of_band) {}

  // The calling QMP session; null when HMP runs the command (human-monitor-command too).
  QmpSession* session() const { return session_; }
  // Whether the command runs out of band, on the monitor I/O thread.
  bool out_of_band() const { return out_of_band_; }
  // The machine, or the error "the machine is not created yet" (unit tests, early errors).
  Result<VirtualMachine*> vm() const;

 private:
  QmpSession* session_;
  bool out_of_band_;
};

// The machine the handlers act on (main thread; before monitors run commands).
void monitor_set_vm(VirtualMachine* vm);
VirtualMachine* monitor_vm();

enum class MonitorMode { kControl, kReadline };  // QMP, HMP

// Starts a monitor on `chr` (main thread, before main_loop_run()). QMP monitors move the
// chardev to the monitor-io thread when it can move.
Status monitor_new(Chardev* chr, MonitorMode mode, bool pretty = false);
// The monitors of the command line, as QEMU's monitor_parse(): -monitor (HMP) and -qmp (QMP)
// take a chardev in the legacy syntax ("stdio", "unix:PATH,server=on,wait=off",
// "tcp:HOST:PORT,server=on", ...; created as "compat_monitorN") or "chardev:ID"; -mon takes
// [chardev=]ID[,mode=readline|control][,pretty=off]. Main thread.
Status monitor_create_from_options(const std::vector<std::string>& hmp,
                                   const std::vector<std::string>& qmp,
                                   const std::vector<std::string>& mon);
// Stops every monitor and the monitor-io thread (main thread, after the main loop ended).
void monitor_cleanup();

// The dispatcher ------------------------------------------------------------------------------

struct QmpDispatchOptions {
  bool negotiating = false;  // before qmp_capabilities: only it is known
  bool oob_enabled = false;  // the session enabled "oob": "exec-oob" is accepted
  // The run state commands are checked against (their 'run-states'); unchecked when absent.
  std::optional<qapi::RunState> run_state;
  // The command table (tests pass their own).
  const QmpCommandDef* (*find)(std::string_view name) = qmp_find_command;
};

struct QmpResponse {
  nlohmann::json id;  // echoed when the request had one
  bool has_id = false;
  Result<nlohmann::json> result = nlohmann::json::object();
  bool suppressed = false;  // 'success-response': false and it succeeded: send nothing
};

// Whether a request is to run out of band: it has "exec-oob" and no "execute".
bool qmp_request_is_oob(const nlohmann::json& request);
// Checks and runs one request, as QEMU's qmp_dispatch() (texts included).
QmpResponse qmp_dispatch(const nlohmann::json& request, QmpContext& ctx,
                         const QmpDispatchOptions& opts);
// The response's text, without the line end: {"return": ..., "id": ...} or
// {"error": {"class": ..., "desc": ...}, "id": ...}.
std::string qmp_response_text(const QmpResponse& response);
// The greeting {"QMP": {"version": ..., "capabilities": [...]}}.
std::string qmp_greeting_text(bool offer_oob);
// An event {"timestamp": {...}, "event": NAME, "data": ...} (no "data" when it is null).
std::string qmp_event_text(std::string_view name, const nlohmann::json& data);

// HMP -----------------------------------------------------------------------------------------

// Runs one HMP command line and returns what it printed ("\r\n" line ends, as QEMU's
// monitor). Main thread. Used by HMP monitors and by QMP human-monitor-command.
std::string hmp_execute(std::string_view command_line, QmpContext& ctx);

}  // namespace colo
