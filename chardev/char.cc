// SPDX-License-Identifier: GPL-2.0-or-later
#include "chardev/char.h"

#include <glib-unix.h>

#include <cstring>

#include "util/iothread.h"
#include "util/log.h"
#include "util/main-loop.h"

namespace colo {

Chardev::Chardev(std::string id, std::string backend_type)
    : id_(std::move(id)), backend_type_(std::move(backend_type)) {}

Chardev::~Chardev() = default;

Status Chardev::attach_frontend(ChardevFrontend* fe) {
  if (fe == nullptr)
    return ok_status();
  if (frontend_ != nullptr) {
    return make_error("chardev '%s' is already in use by another device", id_.c_str());
  }
  frontend_ = fe;
  update_input_watch();
  if (connected())
    fe->event(ChardevEvent::kOpened);
  return ok_status();
}

void Chardev::detach_frontend(ChardevFrontend* fe) {
  if (frontend_ != fe)
    return;
  frontend_ = nullptr;
  update_input_watch();
}

void Chardev::frontend_ready() {
  run_in_context([this] { update_input_watch(); });
}

Status Chardev::set_context(GMainContext* ctx) {
  if (frontend_ != nullptr) {
    return make_error("chardev '%s': cannot move to another thread while in use", id_.c_str());
  }
  context_ = ctx;
  return ok_status();
}

void Chardev::run_in_context(std::function<void()> fn) {
  colo::run_in_context(context_, std::move(fn));
}

GSource* Chardev::add_fd_watch(int fd, GIOCondition cond,
                               gboolean (*fn)(gint, GIOCondition, gpointer), void* data) {
  return attach_fd_source(context_, fd, cond, fn, data);
}

GSource* Chardev::add_timeout(guint ms, GSourceFunc fn, void* data) {
  GSource* src = g_timeout_source_new(ms);
  g_source_set_callback(src, fn, data, nullptr);
  g_source_attach(src, context_ != nullptr ? context_ : g_main_context_default());
  return src;
}

void Chardev::remove_source(GSource** src) {
  detach_source(src);
}

void Chardev::deliver(std::span<const uint8_t> data) {
  if (frontend_ != nullptr)
    frontend_->receive(data);
}

void Chardev::deliver_event(ChardevEvent ev) {
  if (frontend_ != nullptr)
    frontend_->event(ev);
}

size_t Chardev::frontend_can_receive() {
  return frontend_ != nullptr ? frontend_->can_receive() : 0;
}

namespace {

std::map<std::string, ChardevConstructor>& backends() {
  static auto* table = new std::map<std::string, ChardevConstructor>();
  return *table;
}

}  // namespace

void chardev_register_backend(const std::string& name, ChardevConstructor ctor) {
  backends()[name] = std::move(ctor);
}

// Each backend file registers its constructors; explicit calls keep static initialisation order
// out of it.
void chardev_register_fd_backends();
void chardev_register_socket_backends();

namespace {

void chardev_register_builtin_backends() {
  static bool done = false;
  if (done)
    return;
  done = true;
  chardev_register_fd_backends();
  chardev_register_socket_backends();
}

}  // namespace

Result<std::unique_ptr<Chardev>> chardev_new(const KeyvalDict& opts) {
  chardev_register_builtin_backends();
  OptionReader r(opts);
  auto backend = r.take("backend");
  if (!backend)
    return make_error("chardev: \"backend\" is missing");
  auto id = r.take("id");
  if (!id || id->empty())
    return make_error("Parameter 'id' is missing");
  auto it = backends().find(*backend);
  if (it == backends().end()) {
    return make_error("'%s' is not a valid char driver name", backend->c_str());
  }
  COLO_ASSIGN_OR_RETURN(auto chr, it->second(*id, r));
  COLO_TRY(r.finish());
  return chr;
}

Result<std::unique_ptr<Chardev>> chardev_new_from_option(std::string_view spec, std::string id) {
  KeyvalDict opts;
  std::string s(spec);
  std::string rest;
  auto colon = s.find(':');
  std::string kind = colon == std::string::npos ? s : s.substr(0, colon);
  if (colon != std::string::npos)
    rest = s.substr(colon + 1);
  if (kind == "stdio" || kind == "null" || kind == "none") {
    if (!rest.empty())
      return make_error("'%s' is not a valid char driver", s.c_str());
    opts["backend"] = kind == "none" ? "null" : kind;
  } else if (kind == "file") {
    if (rest.empty())
      return make_error("file: needs a path");
    opts["backend"] = "file";
    opts["path"] = rest;
  } else if (kind == "unix" || kind == "tcp" || kind == "telnet" || kind == "websocket") {
    // "unix:PATH[,opts]" / "tcp:HOST:PORT[,opts]": the socket backend parses the rest.
    COLO_ASSIGN_OR_RETURN(KeyvalDict extra, keyval_parse(rest, "addr"));
    opts = std::move(extra);
    opts["backend"] = "socket";
    opts["legacy-" + kind] = opts["addr"];
    opts.erase("addr");
  } else if (kind == "chardev") {
    return make_error("'chardev:%s' must be resolved by the caller", rest.c_str());
  } else {
    return make_error("'%s' is not a valid char driver", s.c_str());
  }
  opts["id"] = std::move(id);
  return chardev_new(opts);
}

Status chardev_add_from_option(std::string_view spec) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict opts, keyval_parse(spec, "backend"));
  bool mux = false;
  if (auto it = opts.find("mux"); it != opts.end()) {
    COLO_ASSIGN_OR_RETURN(mux, parse_bool("mux", it->second));
    opts.erase(it);
  }
  if (!mux) {
    COLO_ASSIGN_OR_RETURN(auto chr, chardev_new(opts));
    return chardev_registry().add(std::move(chr));
  }
  std::string id = opts["id"];
  if (id.empty())
    return make_error("Parameter 'id' is missing");
  opts["id"] = id + "-base";
  COLO_ASSIGN_OR_RETURN(auto base, chardev_new(opts));
  COLO_ASSIGN_OR_RETURN(auto chr, chardev_new_mux(id, base.get()));
  COLO_TRY(chardev_registry().add(std::move(base)));
  return chardev_registry().add(std::move(chr));
}

Status ChardevRegistry::add(std::unique_ptr<Chardev> chr) {
  const std::string& id = chr->id();
  if (devs_.count(id) != 0)
    return make_error("attempt to add duplicate property '%s'", id.c_str());
  devs_[id] = std::move(chr);
  return ok_status();
}

Chardev* ChardevRegistry::find(const std::string& id) const {
  auto it = devs_.find(id);
  return it == devs_.end() ? nullptr : it->second.get();
}

Status ChardevRegistry::remove(const std::string& id) {
  auto it = devs_.find(id);
  if (it == devs_.end()) {
    return Error(string_printf("Chardev '%s' not found", id.c_str()), ErrorClass::kDeviceNotFound);
  }
  if (it->second->frontend_open()) {
    return make_error("Chardev '%s' is busy", id.c_str());
  }
  devs_.erase(it);
  return ok_status();
}

std::vector<Chardev*> ChardevRegistry::all() const {
  std::vector<Chardev*> out;
  for (const auto& [id, chr] : devs_)
    out.push_back(chr.get());
  return out;
}

ChardevRegistry& chardev_registry() {
  static auto* reg = new ChardevRegistry();
  return *reg;
}

}  // namespace colo
