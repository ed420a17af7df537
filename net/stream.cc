// SPDX-License-Identifier: GPL-2.0-or-later
//
// Frames over a stream socket, QEMU's wire format (be32 length + frame, net/framing.h):
//
//   -netdev socket,id=ID,listen=[HOST]:PORT | connect=HOST:PORT | fd=N
//   -netdev stream,id=ID,server=on|off,addr.type=inet,addr.host=HOST,addr.port=PORT
//   -netdev stream,id=ID,server=on|off,addr.type=unix,addr.path=PATH
//   -netdev stream,id=ID,addr.type=fd,addr.str=N          [,reconnect=SECONDS for clients]
//
// Either end may be a QEMU (`-netdev socket` / `-netdev stream` of QEMU 7.2 speak this format).
// A server listens from creation on and takes one peer at a time; while it has one, further
// clients wait in the backlog; when the peer leaves it accepts the next. A client connects
// when its I/O starts (the address is resolved at creation); if the peer is not there it
// warns, stays disconnected and, with reconnect=S (QEMU 8.0's option for stream), tries again
// every S seconds. Frames for a netdev without a connection are dropped (counted).
//
// Flow control: frames parsed while the NIC has no buffers wait (at most one read's worth) and
// reading stops, so the sending side's socket fills up (TCP back-pressure) instead of losing
// frames.
// Output that the socket does not take at once is queued (bounded); while over the high-water
// mark the NIC is told to hold its transmit queue.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "net/backends.h"
#include "net/framing.h"
#include "util/log.h"

namespace colo {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kOutputHighWater = 256 * 1024;  // above: the NIC holds its TX queue
constexpr size_t kOutputMax = 4 << 20;           // above: frames are dropped

struct Address {
  enum class Kind { kInet, kUnix, kFd } kind = Kind::kInet;
  std::string host;
  std::string port;
  std::string path;
  int fd = -1;
};

std::string sockaddr_text(const sockaddr_storage& ss, bool with_port = true) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return with_port ? string_printf("%s:%d", host, port) : std::string(host);
}

Result<addrinfo*> resolve(const Address& a, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (passive)
    hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const char* host = a.host.empty() ? nullptr : a.host.c_str();
  int rc = getaddrinfo(host, a.port.c_str(), &hints, &res);
  if (rc != 0) {
    return make_error("address resolution failed for %s:%s: %s", a.host.c_str(), a.port.c_str(),
                      gai_strerror(rc));
  }
  return res;
}

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.size() >= sizeof(un.sun_path)) {
    return make_error("UNIX socket path '%s' is too long", path.c_str());
  }
  memcpy(un.sun_path, path.c_str(), path.size() + 1);
  return un;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // fails harmlessly on unix
}

class StreamNetdev : public Netdev {
 public:
  enum class Flavor { kSocket, kStream };

  StreamNetdev(std::string id, Flavor flavor, bool server, Address addr, int listen_fd,
               uint64_t reconnect_s)
      : Netdev(std::move(id), flavor == Flavor::kSocket ? "socket" : "stream"),
        flavor_(flavor),
        server_(server),
        addr_(std::move(addr)),
        listen_fd_(listen_fd),
        reconnect_s_(reconnect_s),
        buf_(kReadChunk) {
    update_info();
  }

  ~StreamNetdev() override {
    stop();
    if (listen_fd_ >= 0)
      close(listen_fd_);
    if (conn_fd_ >= 0)
      close(conn_fd_);
    if (addr_.kind == Address::Kind::kUnix && server_)
      unlink(addr_.path.c_str());
  }

 protected:
  Status start_io(GMainContext* ctx) override {
    ctx_ = ctx;
    io_running_ = true;
    if (server_) {
      if (conn_fd_ >= 0) {
        start_conn_watch();
      } else {
        listen_watch_.start(ctx, listen_fd_, G_IO_IN, [this](GIOCondition) { on_accept(); });
      }
      return ok_status();
    }
    if (addr_.kind == Address::Kind::kFd) {
      if (conn_fd_ < 0 && addr_.fd >= 0) {
        conn_fd_ = addr_.fd;
        addr_.fd = -1;
        set_nonblocking(conn_fd_);
      }
      if (conn_fd_ >= 0)
        start_conn_watch();
      update_info();
      return ok_status();
    }
    if (conn_fd_ >= 0) {
      start_conn_watch();
      return ok_status();
    }
    // A peer that is not there (yet) is not an error: warn, stay disconnected, retry with
    // reconnect=, as QEMU.
    Status st = start_connect();
    if (!st.ok())
      connect_failed(st.error().message());
    return ok_status();
  }

  void stop_io() override {
    io_running_ = false;
    listen_watch_.stop();
    conn_watch_.stop();
    cancel_timer();
    // The connection (if any) stays open; start_io() on another thread picks it up.
  }

  bool transmit(std::span<const uint8_t> frame) override {
    if (conn_fd_ < 0 || connecting_)
      return false;
    if (out_bytes_ + frame.size() + 4 > kOutputMax)
      return false;
    std::vector<uint8_t> hdr = net_frame_header(static_cast<uint32_t>(frame.size()));
    if (out_.empty()) {
      iovec iov[2] = {{hdr.data(), hdr.size()}, {const_cast<uint8_t*>(frame.data()), frame.size()}};
      ssize_t n;
      do {
        n = writev(conn_fd_, iov, 2);
      } while (n < 0 && errno == EINTR);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        disconnect(strerror(errno));
        return false;
      }
      size_t done = n < 0 ? 0 : static_cast<size_t>(n);
      if (done == hdr.size() + frame.size())
        return true;
      // Keep the rest, in order.
      std::vector<uint8_t> rest;
      rest.reserve(hdr.size() + frame.size() - done);
      for (size_t i = done; i < hdr.size(); i++)
        rest.push_back(hdr[i]);
      size_t from = done > hdr.size() ? done - hdr.size() : 0;
      rest.insert(rest.end(), frame.begin() + static_cast<std::ptrdiff_t>(from), frame.end());
      out_bytes_ += rest.size();
      out_.push_back(std::move(rest));
      update_conn_events();
      return true;
    }
    std::vector<uint8_t> rec(hdr.begin(), hdr.end());
    rec.insert(rec.end(), frame.begin(), frame.end());
    out_bytes_ += rec.size();
    out_.push_back(std::move(rec));
    update_conn_events();
    return true;
  }

  bool transmit_blocked() const override { return out_bytes_ > kOutputHighWater; }

  void resume_receive() override {
    if (!io_running_)
      return;
    drain_held();
    if (!held_.empty() || conn_fd_ < 0 || connecting_)
      return;
    if (!conn_watch_.active()) {
      start_conn_watch();  // stopped on a hang-up while frames were held
    } else {
      update_conn_events();
    }
  }

 private:
  static void set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }

  void update_info() {
    if (flavor_ == Flavor::kSocket) {
      if (addr_.kind == Address::Kind::kFd) {
        set_info_str(string_printf("socket: fd=%d", conn_fd_ >= 0 ? conn_fd_ : addr_.fd));
      } else if (server_) {
        set_info_str(conn_fd_ >= 0 ? "socket: connection from " + peer_text_ : "");
      } else {
        set_info_str("socket: connect to " + addr_.host + ":" + addr_.port);
      }
      return;
    }
    if (addr_.kind == Address::Kind::kFd) {
      set_info_str(conn_fd_ >= 0 ? string_printf("fd=%d", conn_fd_) : "");
    } else if (addr_.kind == Address::Kind::kUnix) {
      set_info_str(conn_fd_ >= 0 && !connecting_ ? "unix:" + addr_.path : "");
    } else if (server_) {
      set_info_str(conn_fd_ >= 0 ? "tcp:" + peer_text_ : "");
    } else {
      set_info_str(conn_fd_ >= 0 && !connecting_ ? "tcp:" + peer_text_ : "");
    }
  }

  // -- Connections --

  void on_accept() {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;  // EAGAIN, or the client gave up already
    set_nodelay(fd);
    conn_fd_ = fd;
    peer_text_ = addr_.kind == Address::Kind::kUnix ? addr_.path : sockaddr_text(ss);
    listen_watch_.stop();  // one peer at a time; the next waits in the backlog
    debug_report("netdev %s: connection from %s", id().c_str(), peer_text_.c_str());
    start_conn_watch();
    update_info();
  }

  Status start_connect() {
    int fd = -1;
    int err = 0;
    if (addr_.kind == Address::Kind::kUnix) {
      COLO_ASSIGN_OR_RETURN(sockaddr_un un, unix_address(addr_.path));
      fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0)
        return errno_error(errno, "can't create stream socket");
      if (connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un)) < 0)
        err = errno;
      peer_text_ = addr_.path;
    } else {
      COLO_ASSIGN_OR_RETURN(addrinfo * res, resolve(addr_, false));
      err = ENOENT;
      for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          err = errno;
          continue;
        }
        err = connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ? errno : 0;
        if (err == 0 || err == EINPROGRESS) {
          sockaddr_storage ss{};
          memcpy(&ss, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof(ss)));
          peer_text_ = sockaddr_text(ss);
          break;
        }
        close(fd);
        fd = -1;
      }
      freeaddrinfo(res);
    }
    if (err != 0 && err != EINPROGRESS) {
      if (fd >= 0)
        close(fd);
      return errno_error(err, "can't connect socket");
    }
    set_nodelay(fd);
    conn_fd_ = fd;
    connecting_ = err == EINPROGRESS;
    start_conn_watch();
    update_info();
    return ok_status();
  }

  void connect_failed(const std::string& why) {
    if (!connect_failure_reported_) {
      warn_report("netdev %s: connecting to %s: %s", id().c_str(), describe().c_str(), why.c_str());
      connect_failure_reported_ = true;
    }
    schedule_reconnect();
  }

  std::string describe() const {
    return addr_.kind == Address::Kind::kUnix ? addr_.path : addr_.host + ":" + addr_.port;
  }

  void schedule_reconnect() {
    if (reconnect_s_ == 0 || server_ || addr_.kind == Address::Kind::kFd)
      return;
    cancel_timer();
    timer_ = g_timeout_source_new_seconds(static_cast<guint>(reconnect_s_));
    g_source_set_callback(
        timer_,
        [](gpointer p) -> gboolean {
          auto* self = static_cast<StreamNetdev*>(p);
          g_source_unref(self->timer_);
          self->timer_ = nullptr;
          Status st = self->start_connect();
          if (!st.ok())
            self->connect_failed(st.error().message());
          return G_SOURCE_REMOVE;
        },
        this, nullptr);
    g_source_attach(timer_, ctx_ != nullptr ? ctx_ : g_main_context_default());
  }

  void cancel_timer() {
    if (timer_ == nullptr)
      return;
    g_source_destroy(timer_);
    g_source_unref(timer_);
    timer_ = nullptr;
  }

  void start_conn_watch() {
    conn_watch_.start(ctx_, conn_fd_, G_IO_IN, [this](GIOCondition rev) { on_conn_event(rev); });
    update_conn_events();
  }

  void update_conn_events() {
    if (conn_fd_ < 0)
      return;
    int ev = 0;
    if (connecting_) {
      ev = G_IO_OUT;
    } else {
      if (held_.empty())
        ev |= G_IO_IN;
      if (!out_.empty())
        ev |= G_IO_OUT;
    }
    conn_watch_.set_events(static_cast<GIOCondition>(ev));
  }

  void disconnect(const std::string& why) {
    if (conn_fd_ < 0)
      return;
    debug_report("netdev %s: disconnected: %s", id().c_str(), why.c_str());
    conn_watch_.stop();
    close(conn_fd_);
    conn_fd_ = -1;
    connecting_ = false;
    reader_.reset();
    held_.clear();
    bool was_blocked = transmit_blocked();
    for (size_t i = 0; i < out_.size(); i++)
      count_from_guest_dropped();
    out_.clear();
    out_bytes_ = 0;
    update_info();
    if (was_blocked)
      notify_transmit_ready();  // frames for nobody are dropped, not held
    if (server_) {
      listen_watch_.start(ctx_, listen_fd_, G_IO_IN, [this](GIOCondition) { on_accept(); });
    } else {
      schedule_reconnect();
    }
  }

  void on_conn_event(GIOCondition rev) {
    if (connecting_) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(conn_fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (rev & (G_IO_ERR | G_IO_HUP)) != 0) {
        conn_watch_.stop();
        close(conn_fd_);
        conn_fd_ = -1;
        connecting_ = false;
        update_info();
        connect_failed(strerror(err != 0 ? err : ECONNREFUSED));
        return;
      }
      connecting_ = false;
      connect_failure_reported_ = false;
      debug_report("netdev %s: connected to %s", id().c_str(), describe().c_str());
      update_info();
      update_conn_events();
      return;
    }
    if (rev & G_IO_OUT) {
      if (!flush_output())
        return;
    }
    if ((rev & (G_IO_HUP | G_IO_ERR)) != 0 && !held_.empty() && out_.empty()) {
      // The peer is gone but frames still wait for NIC buffers: poll() would report the
      // hang-up on every round. Stop watching until they are delivered, then read the rest.
      conn_watch_.stop();
      return;
    }
    if (rev & (G_IO_IN | G_IO_HUP | G_IO_ERR))
      read_frames();
  }

  // False if the connection was dropped.
  bool flush_output() {
    bool was_blocked = transmit_blocked();
    while (!out_.empty()) {
      std::vector<uint8_t>& rec = out_.front();
      ssize_t n = write(conn_fd_, rec.data() + out_off_, rec.size() - out_off_);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n < 0) {
        disconnect(strerror(errno));
        return false;
      }
      out_off_ += static_cast<size_t>(n);
      out_bytes_ -= static_cast<size_t>(n);
      if (out_off_ == rec.size()) {
        out_.pop_front();
        out_off_ = 0;
      }
    }
    update_conn_events();
    if (was_blocked && !transmit_blocked())
      notify_transmit_ready();
    return true;
  }

  void read_frames() {
    NetdevBurst burst(this);
    if (!held_.empty())
      return;
    ssize_t n;
    do {
      n = read(conn_fd_, buf_.data(), buf_.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) {
      disconnect(n == 0 ? "end of stream" : strerror(errno));
      return;
    }
    Status st = reader_.feed(std::span<const uint8_t>(buf_.data(), static_cast<size_t>(n)),
                             [this](std::span<uint8_t> frame, uint32_t) {
                               // Reading stops while frames are held, so they are
                               // at most one read's worth (kReadChunk bytes).
                               if (held_.empty() && peer_can_receive()) {
                                 send_to_peer(frame);
                               } else {
                                 held_.emplace_back(frame.begin(), frame.end());
                               }
                             });
    if (!st.ok()) {
      warn_report("netdev %s: %s: dropping the connection", id().c_str(),
                  st.error().message().c_str());
      disconnect(st.error().message());
      return;
    }
    update_conn_events();
  }

  void drain_held() {
    if (held_.empty())
      return;
    NetdevBurst burst(this);
    while (!held_.empty() && peer_can_receive()) {
      send_to_peer(held_.front());
      held_.pop_front();
    }
  }

  Flavor flavor_;
  bool server_;
  Address addr_;
  int listen_fd_;
  uint64_t reconnect_s_;
  GMainContext* ctx_ = nullptr;
  bool io_running_ = false;  // between start_io() and stop_io()
  int conn_fd_ = -1;
  bool connecting_ = false;
  bool connect_failure_reported_ = false;
  std::string peer_text_;
  FdWatch listen_watch_;
  FdWatch conn_watch_;
  GSource* timer_ = nullptr;
  NetFrameReader reader_;
  std::vector<uint8_t> buf_;
  std::deque<std::vector<uint8_t>> held_;
  std::deque<std::vector<uint8_t>> out_;
  size_t out_off_ = 0;
  size_t out_bytes_ = 0;
};

Result<int> listen_on(const Address& a) {
  if (a.kind == Address::Kind::kUnix) {
    COLO_ASSIGN_OR_RETURN(sockaddr_un un, unix_address(a.path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
      return errno_error(errno, "can't create stream socket");
    unlink(a.path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un)) < 0 || listen(fd, 1) < 0) {
      int err = errno;
      close(fd);
      return errno_error(err, "can't bind to %s", a.path.c_str());
    }
    return fd;
  }
  COLO_ASSIGN_OR_RETURN(addrinfo * res, resolve(a, true));
  int last_err = EADDRNOTAVAIL;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last_err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0) {
      freeaddrinfo(res);
      return fd;
    }
    last_err = errno;
    close(fd);
  }
  freeaddrinfo(res);
  return errno_error(last_err, "can't bind ip=%s to socket",
                     a.host.empty() ? "0.0.0.0" : a.host.c_str());
}

// "[HOST]:PORT", "[::1]:PORT".
Result<Address> parse_host_port(const std::string& text, bool host_optional) {
  Address a;
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return make_error("host address '%s' doesn't contain ':' separating host from port",
                      text.c_str());
  }
  a.host = text.substr(0, colon);
  a.port = text.substr(colon + 1);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
  }
  if (a.port.empty())
    return make_error("port number missing in '%s'", text.c_str());
  if (a.host.empty() && !host_optional) {
    return make_error("host address missing in '%s'", text.c_str());
  }
  return a;
}

Result<int> parse_fd(const std::string& name, const std::string& text) {
  COLO_ASSIGN_OR_RETURN(uint64_t v, parse_uint(name, text));
  int fd = static_cast<int>(v);
  int type = 0;
  socklen_t len = sizeof(type);
  if (v > INT32_MAX || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
    return errno_error(errno, "%s=%s: not a socket", name.c_str(), text.c_str());
  }
  if (type != SOCK_STREAM) {
    return make_error("%s=%s: not a stream socket (datagram sockets are not supported)",
                      name.c_str(), text.c_str());
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<Netdev>> socket_netdev_create(const std::string& id, OptionReader& r) {
  auto listen = r.take("listen");
  auto connect = r.take("connect");
  auto fd = r.take("fd");
  auto mcast = r.take("mcast");
  auto udp = r.take("udp");
  r.take("localaddr");
  COLO_TRY(r.finish());
  int given = !!listen + !!connect + !!mcast + !!udp + !!fd;
  if (given != 1) {
    return make_error("exactly one of listen=, connect=, mcast= or udp= is required");
  }
  if (mcast || udp) {
    return make_error("-netdev socket,%s=: datagram sockets are not supported by colovm",
                      mcast ? "mcast" : "udp")
        .set_hint("use listen= or connect=, or -netdev stream");
  }
  using Flavor = StreamNetdev::Flavor;
  if (fd) {
    COLO_ASSIGN_OR_RETURN(int f, parse_fd("fd", *fd));
    Address a;
    a.kind = Address::Kind::kFd;
    a.fd = f;
    return std::unique_ptr<Netdev>(
        std::make_unique<StreamNetdev>(id, Flavor::kSocket, false, a, -1, 0));
  }
  if (listen) {
    COLO_ASSIGN_OR_RETURN(Address a, parse_host_port(*listen, true));
    COLO_ASSIGN_OR_RETURN(int lfd, listen_on(a));
    return std::unique_ptr<Netdev>(
        std::make_unique<StreamNetdev>(id, Flavor::kSocket, true, a, lfd, 0));
  }
  COLO_ASSIGN_OR_RETURN(Address a, parse_host_port(*connect, false));
  COLO_ASSIGN_OR_RETURN(addrinfo * res, resolve(a, false));  // errors now, not later
  freeaddrinfo(res);
  return std::unique_ptr<Netdev>(
      std::make_unique<StreamNetdev>(id, Flavor::kSocket, false, a, -1, 0));
}

Result<std::unique_ptr<Netdev>> stream_netdev_create(const std::string& id, OptionReader& r) {
  COLO_ASSIGN_OR_RETURN(bool server, r.take_bool("server", false));
  COLO_ASSIGN_OR_RETURN(uint64_t reconnect, r.take_uint("reconnect", 0));
  KeyvalDict addr = r.take_prefix("addr");
  COLO_TRY(r.finish());
  OptionReader ar(addr);
  auto type = ar.take("type");
  if (!type)
    return make_error("Parameter 'addr' is missing");
  Address a;
  if (*type == "inet") {
    a.kind = Address::Kind::kInet;
    auto host = ar.take("host");
    if (!host)
      return make_error("Parameter 'addr.host' is missing");
    auto port = ar.take("port");
    if (!port)
      return make_error("Parameter 'addr.port' is missing");
    a.host = *host;
    a.port = *port;
  } else if (*type == "unix") {
    a.kind = Address::Kind::kUnix;
    auto path = ar.take("path");
    if (!path)
      return make_error("Parameter 'addr.path' is missing");
    a.path = *path;
  } else if (*type == "fd") {
    a.kind = Address::Kind::kFd;
    auto str = ar.take("str");
    if (!str)
      return make_error("Parameter 'addr.str' is missing");
    COLO_ASSIGN_OR_RETURN(a.fd, parse_fd("addr.str", *str));
  } else if (*type == "vsock") {
    return make_error("addr.type=vsock is not supported by colovm");
  } else {
    return make_error("Parameter 'addr.type' does not accept value '%s'", type->c_str());
  }
  if (!ar.remaining().empty()) {
    return make_error("Invalid parameter 'addr.%s'", ar.remaining().begin()->first.c_str());
  }
  using Flavor = StreamNetdev::Flavor;
  if (a.kind == Address::Kind::kFd) {
    return std::unique_ptr<Netdev>(
        std::make_unique<StreamNetdev>(id, Flavor::kStream, false, a, -1, 0));
  }
  if (server) {
    if (reconnect != 0)
      return make_error("'reconnect' option is incompatible with 'server=on'");
    COLO_ASSIGN_OR_RETURN(int lfd, listen_on(a));
    return std::unique_ptr<Netdev>(
        std::make_unique<StreamNetdev>(id, Flavor::kStream, true, a, lfd, 0));
  }
  if (a.kind == Address::Kind::kInet) {
    COLO_ASSIGN_OR_RETURN(addrinfo * res, resolve(a, false));
    freeaddrinfo(res);
  }
  return std::unique_ptr<Netdev>(
      std::make_unique<StreamNetdev>(id, Flavor::kStream, false, a, -1, reconnect));
}

}  // namespace colo
