// SPDX-License-Identifier: GPL-2.0-or-later
//
// The netdev core: the filter chain walk, delivery in both directions, the registry and
// `info network`.
#include "net/net.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>

#include "net/backends.h"
#include "util/log.h"
#include "util/main-loop.h"

namespace colo {

// --- MAC addresses ---------------------------------------------------------------------------

Result<MacAddr> MacAddr::parse(std::string_view text) {
  MacAddr m;
  size_t pos = 0;
  for (int i = 0; i < 6; i++) {
    if (i > 0) {
      if (pos >= text.size() || (text[pos] != ':' && text[pos] != '-'))
        break;
      pos++;
    }
    int digits = 0;
    unsigned v = 0;
    while (pos < text.size() && digits < 2 && isxdigit(static_cast<unsigned char>(text[pos]))) {
      char c = text[pos];
      v = v * 16 + (isdigit(static_cast<unsigned char>(c)) ? c - '0' : (tolower(c) - 'a' + 10));
      pos++;
      digits++;
    }
    if (digits == 0)
      return make_error("invalid MAC address '%.*s'", int(text.size()), text.data());
    m.a[i] = static_cast<uint8_t>(v);
    if (i == 5 && pos == text.size())
      return m;
  }
  return make_error("invalid MAC address '%.*s'", int(text.size()), text.data());
}

std::string MacAddr::to_string() const {
  return string_printf("%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
}

bool MacAddr::is_zero() const {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

MacAddr mac_default_if_unset(std::optional<MacAddr> mac) {
  static std::mutex mu;
  static std::array<bool, 256> used{};
  std::lock_guard<std::mutex> lock(mu);
  static constexpr uint8_t kBase[5] = {0x52, 0x54, 0x00, 0x12, 0x34};
  if (mac && !mac->is_zero()) {
    if (memcmp(mac->a.data(), kBase, 5) == 0)
      used[mac->a[5]] = true;
    return *mac;
  }
  MacAddr m;
  memcpy(m.a.data(), kBase, 5);
  int index = 0x56;
  for (int i = 0x56; i < 0xff; i++) {
    if (!used[i]) {
      index = i;
      break;
    }
  }
  m.a[5] = static_cast<uint8_t>(index);
  used[index] = true;
  return m;
}

// --- Running code on a GLib context ----------------------------------------------------------

namespace {

// Runs fn on ctx's thread and waits. Inline when this thread owns ctx or nobody does yet (the
// main loop before it runs, a context whose thread has not started).
void run_sync_on(GMainContext* ctx, const std::function<void()>& fn) {
  GMainContext* c = ctx != nullptr ? ctx : g_main_context_default();
  if (g_main_context_acquire(c)) {
    fn();
    g_main_context_release(c);
    return;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  run_in_context(ctx, [&] {
    fn();
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
}

}  // namespace

// --- Netdev ----------------------------------------------------------------------------------

Netdev::Netdev(std::string id, std::string type)
    : id_(std::move(id)),
      type_(std::move(type)),
      alive_(std::make_shared<std::atomic<bool>>(true)) {}

Netdev::~Netdev() {
  // Backends stop their I/O in their own destructor (stop_io() is theirs); here only the
  // chain is let go of and posted work is disarmed.
  std::lock_guard<std::mutex> lock(chain_mutex_);
  *alive_ = false;
  for (NetFilter* f : filters_)
    f->netdev_ = nullptr;
  filters_.clear();
}

std::string Netdev::info_str() const {
  std::lock_guard<std::mutex> lock(info_mutex_);
  return info_str_;
}

void Netdev::set_info_str(std::string s) {
  std::lock_guard<std::mutex> lock(info_mutex_);
  info_str_ = std::move(s);
}

Status Netdev::attach_peer(NetPeer* peer, GMainContext* ctx) {
  if (peer_ != nullptr)
    return make_error("netdev '%s' is in use", id_.c_str());
  stop();  // started unattached (a NIC added later): move to the NIC's thread
  peer_ = peer;
  set_context(ctx);
  Status st;
  run_sync_on(ctx, [&] { st = start_io(ctx); });
  if (!st.ok()) {
    peer_ = nullptr;
    set_context(nullptr);
    return st;
  }
  running_ = true;
  return ok_status();
}

void Netdev::detach_peer() {
  stop();
  peer_ = nullptr;
  set_context(nullptr);
}

void Netdev::set_context(GMainContext* ctx) {
  std::lock_guard<std::mutex> lock(chain_mutex_);
  ctx_ = ctx;
}

Status Netdev::start_unattached() {
  if (running_ || peer_ != nullptr)
    return ok_status();
  set_context(nullptr);
  Status st;
  run_sync_on(nullptr, [&] { st = start_io(nullptr); });
  if (st.ok())
    running_ = true;
  return st;
}

void Netdev::stop() {
  if (!running_)
    return;
  run_sync_on(ctx_, [&] {
    stop_io();
    // Work posted earlier (re-injected packets) must not run after the backend stopped.
    std::lock_guard<std::mutex> lock(chain_mutex_);
    *alive_ = false;
    alive_ = std::make_shared<std::atomic<bool>>(true);
  });
  running_ = false;
}

void Netdev::run_in_net_thread(std::function<void()> fn) {
  std::shared_ptr<std::atomic<bool>> alive;
  GMainContext* ctx;
  {
    std::lock_guard<std::mutex> lock(chain_mutex_);
    alive = alive_;
    ctx = ctx_;
  }
  run_in_context(ctx, [alive, fn = std::move(fn)] {
    if (*alive)
      fn();
  });
}

void Netdev::run_sync_in_net_thread(const std::function<void()>& fn) {
  run_sync_on(ctx_, fn);
}

NetdevStats Netdev::stats() const {
  NetdevStats s;
  s.to_guest_frames = counters_.to_guest_frames.load();
  s.to_guest_bytes = counters_.to_guest_bytes.load();
  s.to_guest_dropped = counters_.to_guest_dropped.load();
  s.from_guest_frames = counters_.from_guest_frames.load();
  s.from_guest_bytes = counters_.from_guest_bytes.load();
  s.from_guest_dropped = counters_.from_guest_dropped.load();
  s.filter_taken = counters_.filter_taken.load();
  return s;
}

void Netdev::count_from_guest_dropped() {
  counters_.from_guest_dropped++;
}
void Netdev::count_to_guest_dropped() {
  counters_.to_guest_dropped++;
}

bool Netdev::peer_can_receive() {
  return peer_ == nullptr || peer_->can_receive();
}

void Netdev::peer_ready() {
  resume_receive();
}

void Netdev::notify_transmit_ready() {
  if (peer_ != nullptr)
    peer_->transmit_ready();
}

void Netdev::flush_peer() {
  if (peer_ != nullptr)
    peer_->receive_flush();
}

// -- Packet paths --

void Netdev::send_to_peer(std::span<uint8_t> frame) {
  if (filters_.empty()) {
    deliver_to_peer(frame);
    return;
  }
  walk(NetFilterDirection::kTx, 0, frame);
}

void Netdev::receive_from_peer(std::span<uint8_t> frame) {
  if (filters_.empty()) {
    deliver_to_backend(frame);
    return;
  }
  walk(NetFilterDirection::kRx, 0, frame);
}

void Netdev::walk(NetFilterDirection dir, size_t start, std::span<uint8_t> frame) {
  // Positions count in walk order: kTx head (index 0) to tail, kRx tail to head. The size is
  // re-read each step so that a filter removed from a callback cannot make us overrun.
  walking_++;
  for (size_t p = start; p < filters_.size(); p++) {
    NetFilter* f = filters_[dir == NetFilterDirection::kTx ? p : filters_.size() - 1 - p];
    if (!f->enabled() || !f->handles(dir))
      continue;
    if (f->receive(dir, frame) == NetFilterVerdict::kTaken) {
      walking_--;
      counters_.filter_taken++;
      return;
    }
  }
  walking_--;
  if (dir == NetFilterDirection::kTx) {
    deliver_to_peer(frame);
  } else {
    deliver_to_backend(frame);
  }
}

void Netdev::deliver_to_peer(std::span<const uint8_t> frame) {
  if (peer_ == nullptr || !peer_->receive(frame)) {
    counters_.to_guest_dropped++;
    return;
  }
  counters_.to_guest_frames++;
  counters_.to_guest_bytes += frame.size();
}

void Netdev::deliver_to_backend(std::span<const uint8_t> frame) {
  if (!transmit(frame)) {
    counters_.from_guest_dropped++;
    return;
  }
  counters_.from_guest_frames++;
  counters_.from_guest_bytes += frame.size();
}

void Netdev::pass_to_next(NetFilter* from, NetFilterDirection dir, std::span<uint8_t> frame) {
  int idx = index_of(from);
  if (idx < 0 || dir == NetFilterDirection::kAll) {
    if (dir == NetFilterDirection::kRx) {
      counters_.from_guest_dropped++;
    } else {
      counters_.to_guest_dropped++;
    }
    return;
  }
  size_t start = dir == NetFilterDirection::kTx ? static_cast<size_t>(idx) + 1
                                                : filters_.size() - static_cast<size_t>(idx);
  walk(dir, start, frame);
  if (dir == NetFilterDirection::kTx && !in_burst_)
    flush_peer();
}

void Netdev::post_pass_to_next(NetFilter* from, NetFilterDirection dir,
                               std::vector<uint8_t> frame) {
  uint64_t serial = from->serial();
  run_in_net_thread([this, serial, dir, frame = std::move(frame)]() mutable {
    NetFilter* f = find_serial(serial);
    if (f == nullptr) {
      if (dir == NetFilterDirection::kRx) {
        counters_.from_guest_dropped++;
      } else {
        counters_.to_guest_dropped++;
      }
      return;
    }
    pass_to_next(f, dir, frame);
  });
}

// -- Chain maintenance --

int Netdev::index_of(const NetFilter* f) const {
  for (size_t i = 0; i < filters_.size(); i++) {
    if (filters_[i] == f)
      return static_cast<int>(i);
  }
  return -1;
}

NetFilter* Netdev::find_serial(uint64_t serial) const {
  for (NetFilter* f : filters_) {
    if (f->serial() == serial)
      return f;
  }
  return nullptr;
}

std::vector<NetFilter*> Netdev::filters() const {
  std::lock_guard<std::mutex> lock(chain_mutex_);
  return filters_;
}

NetFilter* Netdev::find_filter(std::string_view id) const {
  std::lock_guard<std::mutex> lock(chain_mutex_);
  for (NetFilter* f : filters_) {
    if (f->id() == id)
      return f;
  }
  return nullptr;
}

Status Netdev::insert_filter(NetFilter* f) {
  if (f->netdev_id() != id_) {
    return make_error("filter '%s' belongs to netdev '%s', not '%s'", f->id().c_str(),
                      f->netdev_id().c_str(), id_.c_str());
  }
  Status st;
  run_sync_on(ctx_, [&] { st = insert_filter_locked(f); });
  return st;
}

Status Netdev::insert_filter_locked(NetFilter* f) {
  if (f->netdev_ != nullptr || index_of(f) >= 0) {
    return make_error("filter '%s' is already attached", f->id().c_str());
  }
  for (NetFilter* other : filters_) {
    if (other->id() == f->id())
      return make_error("Duplicate ID '%s' for object", f->id().c_str());
  }
  size_t at;
  const std::string& pos = f->position();
  if (pos == "head") {
    at = 0;
  } else if (pos == "tail") {
    at = filters_.size();
  } else {
    std::string ref = pos.substr(3);
    int ri = -1;
    for (size_t i = 0; i < filters_.size(); i++) {
      if (filters_[i]->id() == ref)
        ri = static_cast<int>(i);
    }
    if (ri < 0)
      return make_error("filter '%s' not found", ref.c_str());
    at = f->insert_before() ? static_cast<size_t>(ri) : static_cast<size_t>(ri) + 1;
  }
  {
    std::lock_guard<std::mutex> lock(chain_mutex_);
    filters_.insert(filters_.begin() + static_cast<std::ptrdiff_t>(at), f);
    f->netdev_ = this;
  }
  f->attached();
  return ok_status();
}

void Netdev::remove_filter(NetFilter* f) {
  run_sync_on(ctx_, [&] { remove_filter_on_thread(f); });
}

void Netdev::remove_filter_on_thread(NetFilter* f) {
  if (index_of(f) < 0)
    return;
  f->detaching();  // may still pass what it holds on
  std::lock_guard<std::mutex> lock(chain_mutex_);
  int idx = index_of(f);
  if (idx >= 0)
    filters_.erase(filters_.begin() + idx);
  f->netdev_ = nullptr;
}

void Netdev::set_filter_status(NetFilter* f, bool on) {
  run_sync_on(ctx_, [&] {
    bool old = f->on_.exchange(on, std::memory_order_acq_rel);
    if (old != on && f->netdev_ == this)
      f->status_changed(on);
  });
}

// --- The registry ----------------------------------------------------------------------------

NetdevRegistry::~NetdevRegistry() {
  // Backends stop their I/O in their destructors; NICs must be gone already.
  while (!netdevs_.empty())
    netdevs_.pop_back();
}

Status NetdevRegistry::add_from_option(std::string_view option) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict opts, keyval_parse(option, "type"));
  return add_from_dict(opts);
}

Status NetdevRegistry::add_from_dict(const KeyvalDict& opts) {
  auto id = opts.find("id");
  if (id == opts.end() || id->second.empty())
    return make_error("Parameter 'id' is missing");
  if (find(id->second) != nullptr) {
    return make_error("Duplicate ID '%s' for netdev", id->second.c_str());
  }
  COLO_ASSIGN_OR_RETURN(auto netdev, netdev_create(opts));
  return add(std::move(netdev));
}

Status NetdevRegistry::add(std::unique_ptr<Netdev> netdev) {
  if (find(netdev->id()) != nullptr) {
    return make_error("Duplicate ID '%s' for netdev", netdev->id().c_str());
  }
  netdevs_.push_back(std::move(netdev));
  return ok_status();
}

Netdev* NetdevRegistry::find(const std::string& id) const {
  for (const auto& n : netdevs_) {
    if (n->id() == id)
      return n.get();
  }
  return nullptr;
}

std::vector<Netdev*> NetdevRegistry::all() const {
  std::vector<Netdev*> v;
  for (const auto& n : netdevs_)
    v.push_back(n.get());
  return v;
}

Status NetdevRegistry::remove(const std::string& id) {
  for (auto it = netdevs_.begin(); it != netdevs_.end(); ++it) {
    if ((*it)->id() != id)
      continue;
    if ((*it)->has_peer()) {
      return make_error("Device '%s' is in use by a NIC", id.c_str());
    }
    netdevs_.erase(it);
    return ok_status();
  }
  return make_error("Device '%s' not found", id.c_str());
}

std::string NetdevRegistry::register_nic(NetNic* nic, const std::string& id) {
  std::string name = id;
  if (name.empty()) {
    int same = 0;
    for (const auto& e : nics_) {
      if (e.nic->nic_model() == nic->nic_model())
        same++;
    }
    name = string_printf("%.*s.%d", int(nic->nic_model().size()), nic->nic_model().data(), same);
  }
  nics_.push_back({nic, name});
  return name;
}

std::string NetdevRegistry::name_of(const NicEntry& e) {
  std::string id = e.nic->nic_id();
  return id.empty() ? e.name : id;
}

std::vector<NetdevRegistry::NicEntry> NetdevRegistry::nics() const {
  std::vector<NicEntry> out;
  for (const auto& e : nics_)
    out.push_back({e.nic, name_of(e)});
  return out;
}

void NetdevRegistry::unregister_nic(NetNic* nic) {
  std::erase_if(nics_, [nic](const NicEntry& e) { return e.nic == nic; });
}

Status NetdevRegistry::start_unattached() {
  for (const auto& n : netdevs_) {
    if (n->has_peer())
      continue;
    warn_report("netdev %s has no peer", n->id().c_str());
    COLO_TRY(n->start_unattached().prepend("netdev " + n->id()));
  }
  for (const auto& e : nics_) {
    if (e.nic->nic_netdev() == nullptr)
      warn_report("nic %s has no peer", name_of(e).c_str());
  }
  return ok_status();
}

namespace {

void print_client(std::string& out, const Netdev& n) {
  out += string_printf("%s: index=0,type=%s,%s\n", n.id().c_str(), n.type().c_str(),
                       n.info_str().c_str());
  std::vector<NetFilter*> filters = n.filters();
  if (!filters.empty())
    out += "filters:\n";
  for (NetFilter* f : filters) {
    out += string_printf("  - %s: type=%s%s\n", f->id().c_str(), f->type_name().c_str(),
                         f->info_properties().c_str());
  }
}

}  // namespace

std::string NetdevRegistry::info_network() const {
  std::string out;
  for (const auto& n : netdevs_) {
    if (!n->has_peer())
      print_client(out, *n);
  }
  for (const auto& e : nics_) {
    out += string_printf("%s: index=0,type=nic,model=%.*s,macaddr=%s\n", name_of(e).c_str(),
                         int(e.nic->nic_model().size()), e.nic->nic_model().data(),
                         e.nic->nic_mac().to_string().c_str());
    if (Netdev* n = e.nic->nic_netdev()) {
      out += " \\ ";
      print_client(out, *n);
    }
  }
  return out;
}

std::vector<NetdevInfo> NetdevRegistry::query() const {
  std::vector<NetdevInfo> out;
  for (const auto& n : netdevs_) {
    NetdevInfo i;
    i.id = n->id();
    i.type = n->type();
    i.info = n->info_str();
    i.stats = n->stats();
    for (const auto& e : nics_) {
      if (e.nic->nic_netdev() != n.get())
        continue;
      i.peer = name_of(e);
      i.nic_model = std::string(e.nic->nic_model());
      i.mac = e.nic->nic_mac().to_string();
      i.link_up = e.nic->nic_link_up();
    }
    out.push_back(std::move(i));
  }
  return out;
}

NetNic* NetdevRegistry::find_nic(const std::string& name) const {
  for (const auto& e : nics_) {
    if (name_of(e) == name)
      return e.nic;
  }
  return nullptr;
}

void NetdevRegistry::clear() {
  while (!netdevs_.empty())
    netdevs_.pop_back();
}

NetdevRegistry& netdev_registry() {
  static auto* reg = new NetdevRegistry();
  return *reg;
}

Result<KeyvalDict> nic_option_split(NetdevRegistry& reg, std::string_view option, int index) {
  COLO_ASSIGN_OR_RETURN(KeyvalDict opts, keyval_parse(option, "type"));
  if (opts.count("type") == 0)
    opts["type"] = "user";  // QEMU's default backend
  if (opts["type"] == "none")
    return KeyvalDict{};
  KeyvalDict dev{{"driver", "virtio-net-pci"}};
  if (auto it = opts.find("model"); it != opts.end()) {
    if (it->second != "virtio" && it->second != "virtio-net-pci") {
      return make_error("model=%s: colovm has no such NIC", it->second.c_str())
          .set_hint("colovm has virtio-net-pci (model=virtio)");
    }
    opts.erase(it);
  }
  if (auto it = opts.find("mac"); it != opts.end()) {
    dev["mac"] = it->second;
    opts.erase(it);
  }
  if (opts.count("id") == 0 || opts["id"].empty()) {
    opts["id"] = string_printf("__org.qemu.nic%d", index);
  }
  dev["netdev"] = opts["id"];
  COLO_TRY(reg.add_from_dict(opts));
  return dev;
}

// --- Creating backends -----------------------------------------------------------------------

Result<std::unique_ptr<Netdev>> netdev_create(const KeyvalDict& opts) {
  OptionReader r(opts);
  auto type = r.take("type");
  if (!type)
    return make_error("Parameter 'type' is missing");
  std::string id = r.take_or("id", "");
  if (id.empty())
    return make_error("Parameter 'id' is missing");
  Result<std::unique_ptr<Netdev>> made = make_error("unreachable");
  if (*type == "tap") {
    made = tap_netdev_create(id, r);
  } else if (*type == "socket") {
    made = socket_netdev_create(id, r);
  } else if (*type == "stream") {
    made = stream_netdev_create(id, r);
  } else if (*type == "user" || *type == "l2tpv3" || *type == "dgram" || *type == "vde" ||
             *type == "bridge" || *type == "hubport" || *type == "netmap" ||
             *type == "vhost-user" || *type == "vhost-vdpa") {
    return make_error("netdev type '%s' is not supported by colovm", type->c_str())
        .set_hint("colovm has tap, socket and stream");
  } else {
    return make_error("Parameter 'type' does not accept value '%s'", type->c_str());
  }
  if (!made.ok())
    return std::move(made).error();
  COLO_TRY(r.finish());
  return std::move(made).value();
}

}  // namespace colo
