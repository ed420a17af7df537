// SPDX-License-Identifier: GPL-2.0-or-later
//
// The socket backend: unix or TCP, server or client, as QEMU's -chardev socket.
//
//   -chardev socket,id=ID,path=PATH[,server=on|off][,wait=on|off][,reconnect=S]
//   -chardev socket,id=ID,host=HOST,port=PORT[,server=on|off][,wait=on|off][,nodelay=on]
//   legacy: unix:PATH[,server=on][,wait=off]   tcp:[HOST]:PORT[,server=on][,wait=off]
//
// A server has at most one peer at a time; others wait in the listen backlog until it leaves
// (as QEMU does). A client connects at creation (an error if that fails, unless reconnect is
// set) and, with reconnect, retries in the background after the peer goes away.
//
// Writes may come from any thread. They go straight to the socket when possible; what the
// kernel does not take is queued (bounded) and flushed from the chardev's context when the
// socket becomes writable, so a slow reader never blocks a vCPU. A peer that stops reading
// while more than kMaxPending bytes are queued is disconnected.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "chardev/char.h"
#include "util/log.h"
#include "util/yank.h"

namespace colo {

namespace {

constexpr size_t kMaxPending = 8 << 20;

struct SocketAddress {
  bool is_unix = true;
  std::string path;  // unix
  std::string host;  // tcp
  std::string port;
};

std::string describe(const SocketAddress& a) {
  if (a.is_unix)
    return "unix:" + a.path;
  return "tcp:" + a.host + ":" + a.port;
}

Result<int> make_listener(const SocketAddress& a) {
  if (a.is_unix) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (a.path.size() >= sizeof(un.sun_path)) {
      return make_error("UNIX socket path '%s' is too long", a.path.c_str());
    }
    memcpy(un.sun_path, a.path.c_str(), a.path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
      return errno_error(errno, "Failed to create socket");
    unlink(a.path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un)) < 0) {
      int err = errno;
      close(fd);
      return errno_error(err, "Failed to bind socket to %s", a.path.c_str());
    }
    if (listen(fd, 8) < 0) {
      int err = errno;
      close(fd);
      return errno_error(err, "Failed to listen on socket");
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const char* host = a.host.empty() ? nullptr : a.host.c_str();
  int rc = getaddrinfo(host, a.port.c_str(), &hints, &res);
  if (rc != 0) {
    return make_error("address resolution failed for %s:%s: %s", a.host.c_str(), a.port.c_str(),
                      gai_strerror(rc));
  }
  int last_err = 0;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last_err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 8) == 0) {
      freeaddrinfo(res);
      return fd;
    }
    last_err = errno;
    close(fd);
  }
  freeaddrinfo(res);
  return errno_error(last_err, "Failed to bind socket on %s:%s", a.host.c_str(), a.port.c_str());
}

// Starts a non-blocking connect; *in_progress tells whether it completes later (EINPROGRESS).
Result<int> start_connect(const SocketAddress& a, bool* in_progress) {
  *in_progress = false;
  if (a.is_unix) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (a.path.size() >= sizeof(un.sun_path)) {
      return make_error("UNIX socket path '%s' is too long", a.path.c_str());
    }
    memcpy(un.sun_path, a.path.c_str(), a.path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
      return errno_error(errno, "Failed to create socket");
    if (connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un)) < 0) {
      int err = errno;
      close(fd);
      return errno_error(err, "Failed to connect to '%s'", a.path.c_str());
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(a.host.empty() ? "localhost" : a.host.c_str(), a.port.c_str(), &hints, &res);
  if (rc != 0) {
    return make_error("address resolution failed for %s:%s: %s", a.host.c_str(), a.port.c_str(),
                      gai_strerror(rc));
  }
  int last_err = ECONNREFUSED;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last_err = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      freeaddrinfo(res);
      return fd;
    }
    if (errno == EINPROGRESS) {
      freeaddrinfo(res);
      *in_progress = true;
      return fd;
    }
    last_err = errno;
    close(fd);
  }
  freeaddrinfo(res);
  return errno_error(last_err, "Failed to connect to '%s:%s'", a.host.c_str(), a.port.c_str());
}

std::string peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0)
    return "";
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (ss.ss_family == AF_UNIX)
    return "";
  if (getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "";
  }
  return std::string(host) + ":" + port;
}

class SocketChardev : public Chardev {
 public:
  SocketChardev(std::string id, SocketAddress addr, bool server, bool wait, unsigned reconnect_ms,
                bool nodelay)
      : Chardev(std::move(id), "socket"),
        addr_(std::move(addr)),
        server_(server),
        wait_(wait),
        reconnect_ms_(reconnect_ms),
        nodelay_(nodelay) {
    // QMP 'yank' drops the peer (a hung COLO peer, a stuck monitor client).
    yank_ = yank_register(YankKind::kChardev, this->id(), [this] { disconnect(); });
  }

  ~SocketChardev() override {
    yank_ = YankRegistration();
    remove_source(&listen_src_);
    remove_source(&in_src_);
    remove_source(&out_src_);
    remove_source(&connect_src_);
    remove_source(&reconnect_src_);
    if (fd_ >= 0)
      close(fd_);
    if (listen_fd_ >= 0) {
      close(listen_fd_);
      if (addr_.is_unix)
        unlink(addr_.path.c_str());
    }
  }

  Status open() {
    if (server_) {
      COLO_ASSIGN_OR_RETURN(listen_fd_, make_listener(addr_));
      if (wait_) {
        info_report("waiting for connection on: %s", filename().c_str());
        pollfd p{listen_fd_, POLLIN, 0};
        while (poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        accept_one();
      }
      // The listen watch is armed when a frontend attaches (update_input_watch).
      return ok_status();
    }
    bool in_progress = false;
    Result<int> fd = start_connect(addr_, &in_progress);
    if (!fd.ok()) {
      if (reconnect_ms_ == 0)
        return std::move(fd).error();
      reconnect_pending_ = true;  // retried once the chardev runs on its context
      return ok_status();
    }
    if (in_progress) {
      // Wait for the TCP handshake here, like QEMU's synchronous client connect.
      pollfd p{*fd, POLLOUT, 0};
      int r;
      do {
        r = poll(&p, 1, 10000);
      } while (r < 0 && errno == EINTR);
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(*fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (r <= 0 || err != 0) {
        close(*fd);
        if (reconnect_ms_ == 0) {
          return errno_error(r == 0 ? ETIMEDOUT : err, "Failed to connect to '%s'",
                             describe(addr_).c_str());
        }
        reconnect_pending_ = true;
        return ok_status();
      }
    }
    set_peer(*fd);
    return ok_status();
  }

  std::string filename() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string base = describe(addr_);
    if (server_)
      base += ",server=on";
    if (fd_ < 0)
      return "disconnected:" + base;
    if (!addr_.is_unix && !peer_.empty())
      return base + " <-> " + peer_;
    return base;
  }

  bool connected() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return fd_ >= 0;
  }

  Status write_all(std::span<const uint8_t> data) override {
    bool need_watch = false;
    bool overflow = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (fd_ < 0)
        return ok_status();  // nobody listening: dropped, as a cable unplugged
      size_t done = 0;
      if (pending_.empty()) {
        while (done < data.size()) {
          ssize_t n =
              send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            break;  // EAGAIN: queue the rest; errors: the read side notices
          done += static_cast<size_t>(n);
        }
      }
      if (done < data.size()) {
        if (pending_.size() + (data.size() - done) > kMaxPending) {
          overflow = true;
        } else {
          pending_.insert(pending_.end(), data.begin() + static_cast<ptrdiff_t>(done), data.end());
          need_watch = !out_watch_requested_;
          out_watch_requested_ = true;
        }
      }
    }
    if (overflow) {
      warn_report("chardev '%s': peer is not reading; disconnecting it", id().c_str());
      disconnect();
      return make_error("chardev '%s': output queue full", id().c_str());
    }
    if (need_watch)
      run_in_context([this] { arm_out_watch(); });
    return ok_status();
  }

  void disconnect() override {
    run_in_context([this] { drop_peer(); });
  }

 protected:
  void update_input_watch() override {
    if (reconnect_pending_ && reconnect_src_ == nullptr && connect_src_ == nullptr) {
      reconnect_pending_ = false;
      try_reconnect();
    }
    if (server_ && listen_fd_ >= 0 && fd_ < 0 && frontend_ != nullptr && listen_src_ == nullptr) {
      listen_src_ = add_fd_watch(listen_fd_, G_IO_IN, &SocketChardev::on_listen, this);
    }
    int fd;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fd = fd_;
    }
    bool want = fd >= 0 && frontend_can_receive() > 0;
    if (want && in_src_ == nullptr) {
      in_src_ = add_fd_watch(fd, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR),
                             &SocketChardev::on_readable, this);
    } else if (!want && in_src_ != nullptr) {
      remove_source(&in_src_);
    }
  }

 private:
  void set_peer(int fd) {
    if (!addr_.is_unix && nodelay_) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    fd_ = fd;
    peer_ = peer_name(fd);
    pending_.clear();
  }

  void accept_one() {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
      return;
    set_peer(fd);
  }

  // Context thread.
  void peer_connected() {
    remove_source(&listen_src_);
    update_input_watch();
    deliver_event(ChardevEvent::kOpened);
  }

  void drop_peer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (fd_ < 0)
        return;
      close(fd_);
      fd_ = -1;
      peer_.clear();
      pending_.clear();
      out_watch_requested_ = false;
    }
    remove_source(&in_src_);
    remove_source(&out_src_);
    deliver_event(ChardevEvent::kClosed);
    if (server_) {
      update_input_watch();  // listen again
    } else if (reconnect_ms_ > 0) {
      schedule_reconnect();
    }
  }

  void schedule_reconnect() {
    if (reconnect_src_ != nullptr)
      return;
    reconnect_src_ = add_timeout(reconnect_ms_, &SocketChardev::on_reconnect_timer, this);
  }

  void try_reconnect() {
    bool in_progress = false;
    Result<int> fd = start_connect(addr_, &in_progress);
    if (!fd.ok()) {
      schedule_reconnect();
      return;
    }
    if (in_progress) {
      connecting_fd_ = *fd;
      connect_src_ = add_fd_watch(*fd, G_IO_OUT, &SocketChardev::on_connected, this);
      return;
    }
    set_peer(*fd);
    peer_connected();
  }

  void arm_out_watch() {
    int fd;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fd = fd_;
      if (fd < 0 || pending_.empty()) {
        out_watch_requested_ = false;
        return;
      }
    }
    if (out_src_ == nullptr)
      out_src_ = add_fd_watch(fd, G_IO_OUT, &SocketChardev::on_writable, this);
  }

  static gboolean on_listen(gint, GIOCondition, gpointer data) {
    auto* self = static_cast<SocketChardev*>(data);
    self->accept_one();
    if (self->connected()) {
      Chardev::remove_source(&self->listen_src_);
      self->update_input_watch();
      self->deliver_event(ChardevEvent::kOpened);
      return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
  }

  static gboolean on_readable(gint fd, GIOCondition, gpointer data) {
    auto* self = static_cast<SocketChardev*>(data);
    size_t room = self->frontend_can_receive();
    if (room == 0) {
      Chardev::remove_source(&self->in_src_);
      return G_SOURCE_REMOVE;
    }
    uint8_t buf[65536];
    ssize_t n = recv(fd, buf, std::min(room, sizeof(buf)), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      return G_SOURCE_CONTINUE;
    if (n <= 0) {
      self->drop_peer();
      return G_SOURCE_REMOVE;
    }
    self->deliver({buf, static_cast<size_t>(n)});
    if (self->in_src_ != nullptr && self->frontend_can_receive() == 0) {
      Chardev::remove_source(&self->in_src_);
      return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
  }

  static gboolean on_writable(gint fd, GIOCondition, gpointer data) {
    auto* self = static_cast<SocketChardev*>(data);
    std::unique_lock<std::mutex> lock(self->mutex_);
    while (!self->pending_.empty()) {
      ssize_t n =
          send(fd, self->pending_.data(), self->pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return G_SOURCE_CONTINUE;
      if (n < 0) {
        lock.unlock();
        self->drop_peer();
        return G_SOURCE_REMOVE;
      }
      self->pending_.erase(self->pending_.begin(), self->pending_.begin() + n);
    }
    self->out_watch_requested_ = false;
    lock.unlock();
    Chardev::remove_source(&self->out_src_);
    return G_SOURCE_REMOVE;
  }

  static gboolean on_connected(gint fd, GIOCondition, gpointer data) {
    auto* self = static_cast<SocketChardev*>(data);
    Chardev::remove_source(&self->connect_src_);
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    self->connecting_fd_ = -1;
    if (err != 0) {
      close(fd);
      self->schedule_reconnect();
      return G_SOURCE_REMOVE;
    }
    self->set_peer(fd);
    self->peer_connected();
    return G_SOURCE_REMOVE;
  }

  static gboolean on_reconnect_timer(gpointer data) {
    auto* self = static_cast<SocketChardev*>(data);
    Chardev::remove_source(&self->reconnect_src_);
    self->try_reconnect();
    return G_SOURCE_REMOVE;
  }

  SocketAddress addr_;
  bool server_;
  bool wait_;
  unsigned reconnect_ms_;
  bool nodelay_;
  int listen_fd_ = -1;
  bool reconnect_pending_ = false;
  int connecting_fd_ = -1;

  mutable std::mutex mutex_;  // fd_, peer_, pending_, out_watch_requested_
  int fd_ = -1;
  std::string peer_;
  std::vector<uint8_t> pending_;
  bool out_watch_requested_ = false;

  // Context thread only.
  GSource* listen_src_ = nullptr;
  GSource* in_src_ = nullptr;
  GSource* out_src_ = nullptr;
  GSource* connect_src_ = nullptr;
  GSource* reconnect_src_ = nullptr;

  YankRegistration yank_;
};

// "HOST:PORT" (HOST may be empty or [v6]) into host and port.
Status split_host_port(const std::string& s, SocketAddress* a) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    return make_error("'%s': expected HOST:PORT", s.c_str());
  a->host = s.substr(0, colon);
  a->port = s.substr(colon + 1);
  if (a->host.size() >= 2 && a->host.front() == '[' && a->host.back() == ']') {
    a->host = a->host.substr(1, a->host.size() - 2);
  }
  if (a->port.empty())
    return make_error("'%s': port is missing", s.c_str());
  return ok_status();
}

Result<std::unique_ptr<Chardev>> new_socket(const std::string& id, OptionReader& r) {
  SocketAddress addr;
  if (auto legacy = r.take("legacy-unix")) {
    addr.path = *legacy;
  } else if (auto tcp = r.take("legacy-tcp")) {
    addr.is_unix = false;
    COLO_TRY(split_host_port(*tcp, &addr));
  } else if (auto path = r.take("path")) {
    addr.path = *path;
  } else if (auto port = r.take("port")) {
    addr.is_unix = false;
    addr.port = *port;
    addr.host = r.take_or("host", "");
  } else if (r.has("legacy-telnet") || r.has("legacy-websocket")) {
    return make_error("telnet and websocket chardevs are not supported");
  } else {
    return make_error("chardev: socket: no host or path given");
  }
  if (addr.is_unix && addr.path.empty())
    return make_error("chardev: socket: empty path");
  r.take("host");
  COLO_ASSIGN_OR_RETURN(bool server, r.take_bool("server", false));
  COLO_ASSIGN_OR_RETURN(bool wait, r.take_bool("wait", true));
  COLO_ASSIGN_OR_RETURN(uint64_t reconnect_s, r.take_uint("reconnect", 0));
  COLO_ASSIGN_OR_RETURN(uint64_t reconnect_ms, r.take_uint("reconnect-ms", reconnect_s * 1000));
  COLO_ASSIGN_OR_RETURN(bool nodelay, r.take_bool("nodelay", false));
  COLO_ASSIGN_OR_RETURN(bool telnet, r.take_bool("telnet", false));
  r.take("ipv4");
  r.take("ipv6");
  r.take("to");
  r.take("logfile");
  if (telnet)
    return make_error("telnet chardevs are not supported");
  if (server && reconnect_ms > 0) {
    return make_error("'reconnect' option is incompatible with 'server' option");
  }
  if (!server)
    wait = false;
  auto chr = std::make_unique<SocketChardev>(id, std::move(addr), server, wait,
                                             static_cast<unsigned>(reconnect_ms), nodelay);
  COLO_TRY(chr->open());
  return std::unique_ptr<Chardev>(std::move(chr));
}

}  // namespace

void chardev_register_socket_backends() {
  chardev_register_backend("socket", new_socket);
}

}  // namespace colo
