// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: net/filter.h
//
// Network filters: objects attached to a netdev (a network backend) that see every packet going
// between the backend and the NIC, as QEMU's netfilters do. The COLO proxy is built from them
// (filter-mirror, filter-redirector, filter-rewriter, filter-buffer, colo-compare's partners).
//
// Directions are QEMU's (`queue=all|rx|tx`), seen from the netdev:
//
//   kTx  packets sent BY the netdev:   backend (tap, socket) -> filters head..tail -> NIC -> guest
//   kRx  packets sent TO the netdev:   guest -> NIC -> filters tail..head -> backend
//
// A kRx packet walks the chain in reverse, as in QEMU: on a COLO secondary the rewriter added
// last sees the guest's output before the redirector that diverts it. Each filter returns
//
//   kPass   the packet continues to the next filter, then to the far end;
//   kTaken  the packet stops here. The filter dropped it, or copied it to release later with
//           Netdev::pass_to_next(this, dir, frame), which continues after this filter.
//
// A filter may modify the bytes it is given in place (the length is fixed); to change the
// length it takes the packet and re-injects a new one.
//
// Common properties (`-object filter-xxx,id=ID,netdev=NETDEV,...`), parsed by
// take_common_options(): netdev (required), queue=all|rx|tx (default all), status=on|off
// (default on; an "off" filter is skipped), position=head|tail|id=<filter-id> (default tail),
// insert=behind|before (default behind: after the filter named by position=id=).
//
// Threads: receive(), attached(), detaching() and status_changed() run on the netdev's thread
// (the NIC's IoThread, see net/net.h). A filter that produces packets on another thread (its
// own chardev or iothread) hands them over with Netdev::post_pass_to_next(). The owner of a
// filter object (the -object registry, a test) keeps it alive while it is in a chain;
// ~NetFilter() takes it out of the chain if it is still in one.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "util/error.h"
#include "util/keyval.h"

namespace colo {

class Netdev;

// QEMU's NetFilterDirection (the `queue` property).
enum class NetFilterDirection { kAll, kRx, kTx };

std::string_view net_filter_direction_name(NetFilterDirection d);  // "all", "rx", "tx"

enum class NetFilterVerdict { kPass, kTaken };

struct NetFilterOptions {
  std::string id;
  std::string netdev;
  NetFilterDirection queue = NetFilterDirection::kAll;
  bool on = true;                 // status=on|off
  std::string position = "tail";  // head | tail | id=<filter-id>
  bool insert_before = false;     // insert=before|behind
};

class NetFilter {
 public:
  NetFilter(std::string type_name, NetFilterOptions opts);
  virtual ~NetFilter();
  NetFilter(const NetFilter&) = delete;
  NetFilter& operator=(const NetFilter&) = delete;

  // Takes id (required), netdev, queue, status, position and insert; errors as QEMU's.
  static Result<NetFilterOptions> take_common_options(OptionReader& opts);

  const std::string& type_name() const { return type_name_; }
  const std::string& id() const { return opts_.id; }
  const std::string& netdev_id() const { return opts_.netdev; }
  const std::string& position() const { return opts_.position; }
  bool insert_before() const { return opts_.insert_before; }
  NetFilterDirection queue() const { return opts_.queue; }
  // status=on|off. Any thread may read it; set it through Netdev::set_filter_status().
  bool enabled() const { return on_.load(std::memory_order_acquire); }
  // The netdev whose chain holds this filter (nullptr when not in a chain).
  Netdev* netdev() const { return netdev_; }
  // A number no other filter of this process has (re-injection refers to filters by it).
  uint64_t serial() const { return serial_; }
  // Whether this filter sees packets going `dir` (kRx or kTx).
  bool handles(NetFilterDirection dir) const {
    return opts_.queue == NetFilterDirection::kAll || opts_.queue == dir;
  }

  // A packet going `dir` (kRx or kTx). Netdev thread.
  virtual NetFilterVerdict receive(NetFilterDirection dir, std::span<uint8_t> frame) = 0;
  // Netdev thread: right after insertion; right before removal (release what is held, with
  // pass_to_next, now); after status changed (filter-buffer flushes when turned off).
  virtual void attached() {}
  virtual void detaching() {}
  virtual void status_changed(bool on) {}
  // `info network` shows ",key=value" for the type's own properties (this), then the common
  // ones (info_properties()), as QEMU orders them.
  virtual std::string type_properties() const { return {}; }
  std::string info_properties() const;

 private:
  friend class Netdev;
  std::string type_name_;
  NetFilterOptions opts_;
  std::atomic<bool> on_;
  Netdev* netdev_ = nullptr;  // written by Netdev on its thread, with the chain
  uint64_t serial_;
};

}  // namespace colo
