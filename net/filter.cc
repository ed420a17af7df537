// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/filter.h"

#include "net/net.h"

namespace colo {

namespace {

std::atomic<uint64_t> next_serial{1};

}  // namespace

std::string_view net_filter_direction_name(NetFilterDirection d) {
  switch (d) {
    case NetFilterDirection::kAll:
      return "all";
    case NetFilterDirection::kRx:
      return "rx";
    case NetFilterDirection::kTx:
      return "tx";
  }
  return "all";
}

NetFilter::NetFilter(std::string type_name, NetFilterOptions opts)
    : type_name_(std::move(type_name)),
      opts_(std::move(opts)),
      on_(opts_.on),
      serial_(next_serial.fetch_add(1)) {}

NetFilter::~NetFilter() {
  // The owner should have removed it; do it now rather than leave a dangling pointer.
  if (netdev_ != nullptr)
    netdev_->remove_filter(this);
}

Result<NetFilterOptions> NetFilter::take_common_options(OptionReader& r) {
  NetFilterOptions o;
  auto id = r.take("id");
  if (!id || id->empty())
    return make_error("Parameter 'id' is missing");
  o.id = *id;
  auto netdev = r.take("netdev");
  if (!netdev)
    return make_error("Parameter 'netdev' is missing");
  o.netdev = *netdev;
  std::string queue = r.take_or("queue", "all");
  if (queue == "all") {
    o.queue = NetFilterDirection::kAll;
  } else if (queue == "rx") {
    o.queue = NetFilterDirection::kRx;
  } else if (queue == "tx") {
    o.queue = NetFilterDirection::kTx;
  } else {
    return make_error("Parameter 'queue' does not accept value '%s'", queue.c_str());
  }
  std::string status = r.take_or("status", "on");
  if (status == "on") {
    o.on = true;
  } else if (status == "off") {
    o.on = false;
  } else {
    return make_error("Invalid value for netfilter status, should be 'on' or 'off'");
  }
  o.position = r.take_or("position", "tail");
  if (o.position != "head" && o.position != "tail" &&
      (o.position.rfind("id=", 0) != 0 || o.position.size() == 3)) {
    return make_error("Parameter 'position' expects 'head', 'tail' or 'id=<id>'");
  }
  std::string insert = r.take_or("insert", "behind");
  if (insert == "behind") {
    o.insert_before = false;
  } else if (insert == "before") {
    o.insert_before = true;
  } else {
    return make_error("Parameter 'insert' does not accept value '%s'", insert.c_str());
  }
  return o;
}

std::string NetFilter::info_properties() const {
  std::string s = type_properties();
  s += ",position=" + opts_.position;
  s += ",status=";
  s += enabled() ? "on" : "off";
  s += ",insert=";
  s += opts_.insert_before ? "before" : "behind";
  s += ",netdev=" + opts_.netdev;
  s += ",queue=";
  s += net_filter_direction_name(opts_.queue);
  return s;
}

}  // namespace colo
