// SPDX-License-Identifier: GPL-2.0-or-later
//
// Internal to net/: the backend constructors and the fd watch they share.
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <string>

#include "net/net.h"
#include "util/keyval.h"

namespace colo {

// -netdev tap / socket / stream: the options after type and id.
Result<std::unique_ptr<Netdev>> tap_netdev_create(const std::string& id, OptionReader& opts);
Result<std::unique_ptr<Netdev>> socket_netdev_create(const std::string& id, OptionReader& opts);
Result<std::unique_ptr<Netdev>> stream_netdev_create(const std::string& id, OptionReader& opts);

// One fd on a GLib context whose event mask can change cheaply (no source re-creation), for
// backends that pause reading while the NIC has no buffers. Use on the context's thread.
class FdWatch {
 public:
  using Fn = std::function<void(GIOCondition revents)>;
  FdWatch() = default;
  ~FdWatch() { stop(); }
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  void start(GMainContext* ctx, int fd, GIOCondition events, Fn fn);
  // Changes what is watched (0: nothing, the source stays).
  void set_events(GIOCondition events);
  GIOCondition events() const { return events_; }
  void stop();
  bool active() const { return source_ != nullptr; }

 private:
  struct Source;
  static gboolean dispatch(GSource* source, GSourceFunc, gpointer);
  GSource* source_ = nullptr;
  gpointer tag_ = nullptr;
  GIOCondition events_ = GIOCondition(0);
  Fn fn_;
};

}  // namespace colo
