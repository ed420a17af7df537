// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: net/net.h
//
// QEMU's netdev model. A Netdev is a network backend (`-netdev tap|socket|stream,id=ID,...`);
// a NIC (virtio-net-pci) is its peer. Every frame between the two passes the netdev's filter
// chain (net/filter.h), in both directions:
//
//      outside world                         colovm                                guest
//   tap fd / socket  <->  Netdev backend  <->  filter chain  <->  NetPeer (the NIC)  <->  rings
//
//   to the guest   backend reads a frame -> send_to_peer() -> kTx filters, head to tail
//                  -> NetPeer::receive() (copies it into posted RX buffers)
//   from the guest NIC pops a TX chain -> receive_from_peer() -> kRx filters, tail to head
//                  -> transmit() (write to the tap / socket)
//
// Flow control. A backend reads only while NetPeer::can_receive() (the guest has posted RX
// buffers); the NIC calls peer_ready() when the guest posts more, and the backend resumes. So
// frames from the tap wait in the kernel's queue rather than being dropped here. Frames that
// reach a NIC without buffers anyway (released by a filter later) are dropped and counted.
// Towards the backend, the NIC stops popping TX chains while can_transmit() is false and
// resumes on NetPeer::transmit_ready(); frames a filter releases meanwhile are queued (bounded).
//
// Threads. Each netdev has one "net thread": the thread running the GLib context given by the
// NIC in attach_peer() — the NIC's own IoThread, so the NIC and its backend never need a lock
// between them. A netdev without a NIC runs on the main loop and drops what it reads. On the
// net thread only: the backend's I/O, the filter chain walk, NetPeer calls, pass_to_next().
// From any thread: insert_filter(), remove_filter(), set_filter_status() and
// run_in_net_thread() (they run the change on the net thread), post_pass_to_next(), stats(),
// info_str(). The registry (NetdevRegistry) is the main thread's.
//
//   NetdevRegistry& nets = netdev_registry();
//   COLO_TRY(nets.add_from_option("tap,id=n0,ifname=tap0,script=no,downscript=no"));
//   Netdev* n0 = nets.find("n0");
//   COLO_TRY(n0->attach_peer(&nic, iothread->context()));   // the NIC, at device creation
#pragma once

#include <glib.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/filter.h"
#include "util/error.h"
#include "util/keyval.h"

namespace colo {

// The largest frame colovm moves (QEMU's NET_BUFSIZE: 64 KiB + room for headers).
constexpr size_t kNetMaxFrameSize = 4096 + 65536;

struct MacAddr {
  std::array<uint8_t, 6> a{};

  // "52:54:00:12:34:56" (also accepts '-' as separator, as QEMU does).
  static Result<MacAddr> parse(std::string_view text);
  std::string to_string() const;  // lower case, ':'
  bool is_zero() const;
  bool operator==(const MacAddr&) const = default;
};

// QEMU's default NIC addresses: 52:54:00:12:34:56, :57, ... each used once per process. An
// explicit address in that range is marked used. Thread-safe.
MacAddr mac_default_if_unset(std::optional<MacAddr> mac);

// What a NIC implements for its netdev. Called on the net thread.
class NetPeer {
 public:
  virtual ~NetPeer() = default;
  // Whether a frame could be taken now (the guest posted RX buffers).
  virtual bool can_receive() = 0;
  // A frame for the guest. False if it was dropped (no buffers, too big, device not ready).
  virtual bool receive(std::span<const uint8_t> frame) = 0;
  // The end of a burst of receive() calls: publish, notify the guest once.
  virtual void receive_flush() {}
  // The backend takes frames again after can_transmit() was false.
  virtual void transmit_ready() {}
};

// Counters of one netdev (directions as the guest sees them).
struct NetdevStats {
  uint64_t to_guest_frames = 0;  // delivered to the NIC
  uint64_t to_guest_bytes = 0;
  uint64_t to_guest_dropped = 0;   // no NIC, NIC without buffers, filter gone
  uint64_t from_guest_frames = 0;  // handed to the backend
  uint64_t from_guest_bytes = 0;
  uint64_t from_guest_dropped = 0;  // not connected, output queue full, write error
  uint64_t filter_taken = 0;        // packets a filter took (held, diverted or dropped)
};

class Netdev {
 public:
  Netdev(std::string id, std::string type);
  virtual ~Netdev();
  Netdev(const Netdev&) = delete;
  Netdev& operator=(const Netdev&) = delete;

  const std::string& id() const { return id_; }
  // QEMU's NetClientDriver name: "tap", "socket", "stream".
  const std::string& type() const { return type_; }
  // QEMU's info_str, as `info network` prints it ("ifname=tap0,script=no,downscript=no").
  std::string info_str() const;

  // --- The NIC side ---------------------------------------------------------------------
  // Connects `peer`; the backend's I/O moves to `ctx` (the NIC's IoThread; nullptr: the main
  // loop). One NIC per netdev. Main thread, with `ctx`'s thread running.
  Status attach_peer(NetPeer* peer, GMainContext* ctx);
  // Stops the backend's I/O and forgets the peer. Main thread, before `ctx`'s thread ends.
  void detach_peer();
  bool has_peer() const { return peer_ != nullptr; }
  GMainContext* context() const { return ctx_; }
  // A frame from the guest. Net thread.
  void receive_from_peer(std::span<uint8_t> frame);
  // Whether the backend takes frames now (if not, wait for NetPeer::transmit_ready()).
  bool can_transmit() const { return !transmit_blocked(); }
  // The guest posted RX buffers: the backend may read again. Net thread.
  void peer_ready();

  // Starts the I/O of a netdev no NIC attached, on the main loop (what it reads is dropped).
  Status start_unattached();

  // --- The filter chain -------------------------------------------------------------------
  // Inserts `f` as its position/insert properties say; errors as QEMU's ("filter 'x' not
  // found"). The caller keeps `f` alive until remove_filter(). Any thread.
  Status insert_filter(NetFilter* f);
  // Takes `f` out of the chain (after its detaching() hook). Any thread; no-op if absent.
  void remove_filter(NetFilter* f);
  // status=on|off; calls the filter's status_changed() on a change. Any thread.
  void set_filter_status(NetFilter* f, bool on);
  // The chain, head first. Any thread (a snapshot).
  std::vector<NetFilter*> filters() const;
  NetFilter* find_filter(std::string_view id) const;

  // Continues a packet taken by `from` with the filter after it (in `dir`'s order: kTx head to
  // tail, kRx tail to head), then delivers it to the NIC (kTx) or the backend (kRx). If `from`
  // is no longer in the chain the packet is dropped. Net thread.
  void pass_to_next(NetFilter* from, NetFilterDirection dir, std::span<uint8_t> frame);
  // The same from any thread: the packet is handed to the net thread (order is kept).
  void post_pass_to_next(NetFilter* from, NetFilterDirection dir, std::vector<uint8_t> frame);
  // Runs fn on the net thread, later. Any thread.
  void run_in_net_thread(std::function<void()> fn);
  // Runs fn on the net thread and waits (inline when already there, or when nothing runs
  // the net thread's context yet). Any thread but the net thread's peers.
  void run_sync_in_net_thread(const std::function<void()>& fn);

  NetdevStats stats() const;

 protected:
  // --- For backends ---
  // A frame from the outside, for the guest (kTx filters, then the NIC). Net thread. Call
  // flush_peer() after a burst.
  void send_to_peer(std::span<uint8_t> frame);
  void flush_peer();
  // Whether the backend should read now: false while the NIC has no buffers.
  bool peer_can_receive();
  // The backend's output queue drained (can_transmit() is true again).
  void notify_transmit_ready();
  void set_info_str(std::string s);
  void count_from_guest_dropped();
  void count_to_guest_dropped();
  // Stops the I/O (stop_io() on the net thread) if it runs. Backends call it first thing in
  // their destructor.
  void stop();

  // Start/stop reading, writing, accepting on `ctx` (called on its thread).
  virtual Status start_io(GMainContext* ctx) = 0;
  virtual void stop_io() = 0;
  // A frame for the outside, after the filters. Net thread. False if it was dropped.
  virtual bool transmit(std::span<const uint8_t> frame) = 0;
  // True while the output queue is too full to take more from the NIC.
  virtual bool transmit_blocked() const { return false; }
  // peer_can_receive() may be true again: resume reading. Net thread.
  virtual void resume_receive() {}

 private:
  // The chain walk from position `start` (an index in walk order) on.
  void walk(NetFilterDirection dir, size_t start, std::span<uint8_t> frame);
  void deliver_to_peer(std::span<const uint8_t> frame);
  void deliver_to_backend(std::span<const uint8_t> frame);
  void set_context(GMainContext* ctx);
  Status insert_filter_locked(NetFilter* f);
  void remove_filter_on_thread(NetFilter* f);
  // Index of `f` in filters_, or -1.
  int index_of(const NetFilter* f) const;
  NetFilter* find_serial(uint64_t serial) const;

  std::string id_;
  std::string type_;
  mutable std::mutex info_mutex_;
  std::string info_str_;

  NetPeer* peer_ = nullptr;
  GMainContext* ctx_ = nullptr;
  bool running_ = false;  // start_io() done (main thread writes, with the net thread idle)

  // The chain. Written on the net thread under chain_mutex_; read there without the lock,
  // elsewhere (filters(), find_filter()) with it.
  mutable std::mutex chain_mutex_;
  std::vector<NetFilter*> filters_;
  int walking_ = 0;  // > 0 while a filter callback runs (the chain must not change)
  bool in_burst_ = false;

  // Closures posted to the net thread run only while *alive_ (false once the I/O stopped or
  // the netdev is gone). Replaced on each stop; read and written under chain_mutex_.
  std::shared_ptr<std::atomic<bool>> alive_;

  struct Counters {
    std::atomic<uint64_t> to_guest_frames{0}, to_guest_bytes{0}, to_guest_dropped{0};
    std::atomic<uint64_t> from_guest_frames{0}, from_guest_bytes{0}, from_guest_dropped{0};
    std::atomic<uint64_t> filter_taken{0};
  } counters_;

  friend class NetdevBurst;
};

// RAII: marks a backend's read burst; flushes the peer once at the end.
class NetdevBurst {
 public:
  explicit NetdevBurst(Netdev* n) : n_(n) { n_->in_burst_ = true; }
  ~NetdevBurst() {
    n_->in_burst_ = false;
    n_->flush_peer();
  }

 private:
  Netdev* n_;
};

// What `info network` and query-rx-filter need from a NIC. Any thread.
struct NicRxFilter {
  bool promiscuous = true;
  std::string multicast = "normal";  // RxState: normal | none | all
  std::string unicast = "normal";
  std::string vlan = "all";
  bool broadcast_allowed = false;
  bool multicast_overflow = false;
  bool unicast_overflow = false;
  std::vector<int64_t> vlan_table;
  std::vector<std::string> unicast_table;
  std::vector<std::string> multicast_table;
};

class NetNic {
 public:
  virtual ~NetNic() = default;
  virtual std::string_view nic_model() const = 0;  // "virtio-net-pci"
  virtual MacAddr nic_mac() const = 0;
  virtual Netdev* nic_netdev() const = 0;
  virtual NicRxFilter nic_rx_filter() const = 0;
  // The NIC's -device id once it has one (the registry names an anonymous NIC "MODEL.N").
  virtual std::string nic_id() const { return {}; }
  // The link as the guest sees it (QMP set_link). Any thread.
  virtual bool nic_link_up() const { return true; }
  virtual void nic_set_link(bool up) {}
};

// One netdev as the monitor shows it (`info network`, query-rx-filter and statistics).
struct NetdevInfo {
  std::string id;
  std::string type;       // "tap", "socket", "stream"
  std::string info;       // Netdev::info_str()
  std::string peer;       // the NIC's name (its id, or "MODEL.N"); empty without a NIC
  std::string nic_model;  // "virtio-net-pci"; empty without a NIC
  std::string mac;        // the NIC's MAC ("52:54:00:12:34:56"); empty without a NIC
  bool link_up = true;    // the NIC's link
  NetdevStats stats;
};

// Every netdev by id, and the NICs, in creation order. Main thread.
class NetdevRegistry {
 public:
  NetdevRegistry() = default;
  ~NetdevRegistry();
  NetdevRegistry(const NetdevRegistry&) = delete;
  NetdevRegistry& operator=(const NetdevRegistry&) = delete;

  // -netdev TYPE,id=ID,... ("Duplicate ID 'n0' for netdev", backend errors).
  Status add_from_option(std::string_view option);
  Status add_from_dict(const KeyvalDict& opts);
  Status add(std::unique_ptr<Netdev> netdev);
  Netdev* find(const std::string& id) const;
  std::vector<Netdev*> all() const;
  // netdev_del: refuses while a NIC uses it.
  Status remove(const std::string& id);

  // A NIC's name: its id, or "MODEL.N" (N: how many NICs of that model exist), as QEMU.
  std::string register_nic(NetNic* nic, const std::string& id);
  void unregister_nic(NetNic* nic);
  struct NicEntry {
    NetNic* nic;
    std::string name;  // nic_id() if it has one, else the id or "MODEL.N" of registration
  };
  std::vector<NicEntry> nics() const;

  // After the machine is built: warns "netdev ID has no peer" and starts those netdevs on the
  // main loop, as QEMU does.
  Status start_unattached();

  // HMP `info network`, in QEMU's format.
  std::string info_network() const;
  // Every netdev with its NIC and counters, in creation order.
  std::vector<NetdevInfo> query() const;
  // The NIC named `name` (its id, or "MODEL.N"), or nullptr.
  NetNic* find_nic(const std::string& name) const;

  // Destroys every netdev (at exit, after the NICs are gone).
  void clear();

 private:
  static std::string name_of(const NicEntry& e);

  std::vector<std::unique_ptr<Netdev>> netdevs_;
  std::vector<NicEntry> nics_;
};

// Creates a backend from -netdev options ({"type": "tap", "id": ..., ...}).
Result<std::unique_ptr<Netdev>> netdev_create(const KeyvalDict& opts);

// The process's netdevs (-netdev, -nic, later netdev_add). Main thread.
NetdevRegistry& netdev_registry();

// -nic TYPE,[model=virtio-net-pci,][mac=...,][id=...,]BACKEND OPTIONS: adds the backend to
// `reg` (id "__org.qemu.nicN" unless given) and returns the -device options of its NIC.
Result<KeyvalDict> nic_option_split(NetdevRegistry& reg, std::string_view option, int index);

}  // namespace colo
