// SPDX-License-Identifier: GPL-2.0-or-later
//
// Fuzz target: the QMP input path — the JSON streamer (framing, single quotes, limits) and the
// dispatcher (request checks, argument decoding of every command, negotiation, OOB), as bytes
// from a QMP client reach them. There is no machine, so commands that need one fail cleanly;
// debug-sleep is left out (it sleeps by design).
#include <cstddef>
#include <cstdint>
#include <span>

#include "monitor/monitor.h"
#include "util/json-streamer.h"
#include "util/main-loop.h"

namespace {

const colo::QmpCommandDef* find_command(std::string_view name) {
  if (name == "debug-sleep" || name == "quit")
    return nullptr;
  return colo::qmp_find_command(name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool init = [] {
    colo::main_loop_init();
    return true;
  }();
  (void)init;
  // A small size limit so that the limit paths are reached.
  colo::JsonStreamer streamer(4096, 64);
  colo::QmpSession session;
  session.oob_offered = true;
  // The first byte picks how the input is chunked, like reads from a socket.
  size_t chunk = size > 0 ? (data[0] % 16) + 1 : 1;
  std::span<const uint8_t> input(data, size);
  size_t pos = size > 0 ? 1 : 0;
  while (pos < input.size()) {
    std::span<const uint8_t> part = input.subspan(pos, std::min(chunk, input.size() - pos));
    size_t used = streamer.feed(part, [&](colo::Result<nlohmann::json> message) {
      if (!message.ok())
        return true;
      colo::QmpContext ctx(&session, colo::qmp_request_is_oob(*message));
      colo::QmpDispatchOptions opts;
      opts.negotiating = !session.negotiated.load();
      opts.oob_enabled = session.oob_enabled.load();
      opts.find = find_command;
      colo::QmpResponse rsp = colo::qmp_dispatch(*message, ctx, opts);
      (void)colo::qmp_response_text(rsp);
      return true;
    });
    if (used == 0)
      break;
    pos += used;
  }
  return 0;
}
