// SPDX-License-Identifier: GPL-2.0-or-later
//
// QMP query-rx-filter (QEMU's net/net.c qmp_query_rx_filter()): the receive filters of the NICs,
// with QEMU's errors for a name that is not a NIC.
#include "monitor/monitor.h"
#include "net/net.h"
#include "qapi/qapi-commands.h"
#include "util/main-loop.h"

namespace colo {

namespace {

qapi::RxState rx_state(const std::string& s) {
  return qapi::rx_state_from_string(s).value_or(qapi::RxState::kNormal);
}

qapi::RxFilterInfo rx_filter_info(const std::string& name, const NetNic& nic) {
  NicRxFilter f = nic.nic_rx_filter();
  qapi::RxFilterInfo info;
  info.name = name;
  info.promiscuous = f.promiscuous;
  info.multicast = rx_state(f.multicast);
  info.unicast = rx_state(f.unicast);
  info.vlan = rx_state(f.vlan);
  info.broadcast_allowed = f.broadcast_allowed;
  info.multicast_overflow = f.multicast_overflow;
  info.unicast_overflow = f.unicast_overflow;
  info.main_mac = nic.nic_mac().to_string();
  info.vlan_table = f.vlan_table;
  info.unicast_table = f.unicast_table;
  info.multicast_table = f.multicast_table;
  return info;
}

}  // namespace

Result<std::vector<qapi::RxFilterInfo>> qmp_query_rx_filter(const std::optional<std::string>& name,
                                                            QmpContext& ctx) {
  std::vector<qapi::RxFilterInfo> out;
  Status st = ok_status();
  // The registry belongs to the main loop.
  run_on_main_loop_sync([&] {
    NetdevRegistry& reg = netdev_registry();
    if (name && reg.find(*name) != nullptr && reg.find_nic(*name) == nullptr) {
      st = make_error("net client(%s) isn't a NIC", name->c_str());
      return;
    }
    for (const auto& e : reg.nics()) {
      if (name && e.name != *name)
        continue;
      out.push_back(rx_filter_info(e.name, *e.nic));
    }
    if (name && out.empty())
      st = make_error("invalid net client name: %s", name->c_str());
  });
  if (!st.ok())
    return st.error();
  return out;
}

}  // namespace colo
