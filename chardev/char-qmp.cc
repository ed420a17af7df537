// SPDX-License-Identifier: GPL-2.0-or-later
//
// QMP commands of the character devices.
#include "chardev/char.h"
#include "monitor/monitor.h"
#include "qapi/qapi-commands.h"
#include "util/main-loop.h"

namespace colo {

Result<std::vector<qapi::ChardevInfo>> qmp_query_chardev(QmpContext& ctx) {
  std::vector<qapi::ChardevInfo> out;
  // The registry belongs to the main loop.
  run_on_main_loop_sync([&] {
    for (Chardev* chr : chardev_registry().all()) {
      out.push_back(qapi::ChardevInfo{chr->id(), chr->filename(), chr->frontend_open()});
    }
  });
  return out;
}

}  // namespace colo
