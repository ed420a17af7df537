// SPDX-License-Identifier: GPL-2.0-or-later
//
// -netdev tap,id=ID[,ifname=NAME][,fd=N][,script=no][,downscript=no][,vhost=off][,vnet_hdr=on|off]
//
// A Linux tap device (/dev/net/tun, TUNSETIFF with IFF_TAP | IFF_NO_PI): one read() is one
// Ethernet frame from the host, one write() one frame to it.
//
// - No IFF_VNET_HDR by default. colovm's NIC offers no checksum or segmentation offloads (COLO
//   compares packets, which must stay plain), so the kernel hands us complete frames with
//   valid checksums and the 12-byte virtio-net header would always be zero: it is simply not
//   carried. vnet_hdr=on, or an fd= whose device has IFF_VNET_HDR (libvirt opens taps so),
//   is handled by stripping the header on read and writing a zero one (offloads off with
//   TUNSETOFFLOAD 0).
// - colovm does not run scripts: script= and downscript= must be "no" (or empty, or absent);
//   configure the device beforehand (ip tuntap add ...; ip link set ... up).
// - vhost=on is refused: with vhost-net the kernel moves the packets and the COLO filters,
//   which live in colovm, would never see them.
// - Without ifname= the kernel names a new device (tap0, tap1, ...); colovm reports its name.
//   A device colovm created this way disappears when colovm exits.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "net/backends.h"
#include "util/log.h"

namespace colo {

namespace {

constexpr const char* kTunPath = "/dev/net/tun";
constexpr int kReadBudget = 64;              // frames per wake-up, then others get a turn
constexpr size_t kMaxQueuedBytes = 1 << 20;  // frames waiting for the tap to take them

class TapNetdev : public Netdev {
 public:
  TapNetdev(std::string id, int fd, std::string ifname, int vnet_hdr_len, bool from_fd)
      : Netdev(std::move(id), "tap"),
        fd_(fd),
        ifname_(std::move(ifname)),
        vnet_hdr_len_(vnet_hdr_len),
        buf_(kNetMaxFrameSize + static_cast<size_t>(vnet_hdr_len)) {
    set_info_str(from_fd ? string_printf("fd=%d", fd)
                         : "ifname=" + ifname_ + ",script=no,downscript=no");
  }
  ~TapNetdev() override {
    stop();
    close(fd_);
  }

 protected:
  Status start_io(GMainContext* ctx) override {
    paused_ = false;
    if (read_failed_)
      return ok_status();
    watch_.start(ctx, fd_, G_IO_IN, [this](GIOCondition rev) { on_event(rev); });
    return ok_status();
  }

  void stop_io() override {
    watch_.stop();
    queued_bytes_ = 0;
    queue_.clear();
  }

  bool transmit(std::span<const uint8_t> frame) override {
    if (!queue_.empty())
      return enqueue(frame);
    ssize_t n = write_frame(frame);
    if (n >= 0)
      return true;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return enqueue(frame);
    note_write_error(errno);
    return false;
  }

  bool transmit_blocked() const override { return !queue_.empty(); }

  void resume_receive() override {
    if (paused_ && peer_can_receive()) {
      paused_ = false;
      update_events();
    }
  }

 private:
  ssize_t write_frame(std::span<const uint8_t> frame) {
    static const uint8_t kZeroHdr[12] = {};
    iovec iov[2];
    int n = 0;
    if (vnet_hdr_len_ > 0)
      iov[n++] = {const_cast<uint8_t*>(kZeroHdr), size_t(vnet_hdr_len_)};
    iov[n++] = {const_cast<uint8_t*>(frame.data()), frame.size()};
    ssize_t rc;
    do {
      rc = writev(fd_, iov, n);
    } while (rc < 0 && errno == EINTR);
    return rc;
  }

  bool enqueue(std::span<const uint8_t> frame) {
    if (queued_bytes_ + frame.size() > kMaxQueuedBytes)
      return false;
    queue_.emplace_back(frame.begin(), frame.end());
    queued_bytes_ += frame.size();
    update_events();
    return true;
  }

  void note_write_error(int err) {
    // EIO: the interface is down. Worth saying once, not per frame.
    if (!write_error_reported_) {
      warn_report("netdev %s: writing to %s: %s (dropping frames)", id().c_str(), ifname_.c_str(),
                  strerror(err));
      write_error_reported_ = true;
    }
  }

  void update_events() {
    int ev = 0;
    if (!paused_ && !read_failed_)
      ev |= G_IO_IN;
    if (!queue_.empty())
      ev |= G_IO_OUT;
    watch_.set_events(static_cast<GIOCondition>(ev));
  }

  void on_event(GIOCondition rev) {
    if (rev & G_IO_OUT)
      flush_queue();
    if (rev & (G_IO_IN | G_IO_ERR | G_IO_HUP))
      read_frames();
  }

  void read_frames() {
    NetdevBurst burst(this);
    for (int i = 0; i < kReadBudget; i++) {
      if (!peer_can_receive()) {
        paused_ = true;  // resume_receive() re-arms the watch
        update_events();
        return;
      }
      ssize_t n = read(fd_, buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EINTR)
          continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          // EBADFD: the interface was deleted under us. Nothing will come any more; stop
          // watching rather than spin on an fd that is always "ready".
          warn_report("netdev %s: reading %s: %s (no more frames from it)", id().c_str(),
                      ifname_.c_str(), strerror(errno));
          read_failed_ = true;
          watch_.stop();  // a detached tap polls as POLLERR forever
        }
        return;
      }
      if (n <= vnet_hdr_len_)
        continue;  // nothing but a header
      send_to_peer(
          std::span<uint8_t>(buf_.data() + vnet_hdr_len_, static_cast<size_t>(n - vnet_hdr_len_)));
    }
  }

  void flush_queue() {
    while (!queue_.empty()) {
      ssize_t n = write_frame(queue_.front());
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      if (n < 0) {
        note_write_error(errno);
        count_from_guest_dropped();
      }
      queued_bytes_ -= queue_.front().size();
      queue_.pop_front();
    }
    update_events();
    if (queue_.empty())
      notify_transmit_ready();
  }

  int fd_;
  std::string ifname_;
  int vnet_hdr_len_;
  std::vector<uint8_t> buf_;
  FdWatch watch_;
  bool paused_ = false;  // not reading: the NIC has no buffers
  std::deque<std::vector<uint8_t>> queue_;
  size_t queued_bytes_ = 0;
  bool write_error_reported_ = false;
  bool read_failed_ = false;
};

bool is_no(const std::optional<std::string>& v) {
  return !v || v->empty() || *v == "no";
}

}  // namespace

Result<std::unique_ptr<Netdev>> tap_netdev_create(const std::string& id, OptionReader& r) {
  std::optional<std::string> ifname = r.take("ifname");
  std::optional<std::string> fd_str = r.take("fd");
  std::optional<std::string> script = r.take("script");
  std::optional<std::string> downscript = r.take("downscript");
  COLO_ASSIGN_OR_RETURN(bool vhost, r.take_bool("vhost", false));
  COLO_ASSIGN_OR_RETURN(bool vhostforce, r.take_bool("vhostforce", false));
  std::optional<std::string> vnet_hdr_opt = r.take("vnet_hdr");
  std::optional<std::string> queues = r.take("queues");
  r.take("sndbuf");  // QEMU's send buffer limit; colovm's queue is bounded by itself
  for (const char* unsupported : {"helper", "br", "fds", "vhostfd", "vhostfds", "poll-us"}) {
    if (r.has(unsupported)) {
      return make_error("tap: %s= is not supported by colovm", unsupported);
    }
  }
  COLO_TRY(r.finish());

  if (vhost || vhostforce) {
    return make_error("vhost is not supported: the COLO filters need every packet in colovm")
        .set_hint("use vhost=off");
  }
  if (!is_no(script) || !is_no(downscript)) {
    return make_error("script=%s: colovm does not run scripts",
                      (!is_no(script) ? script : downscript)->c_str())
        .set_hint("configure the tap device beforehand and use script=no,downscript=no");
  }
  if (queues && *queues != "1")
    return make_error("queues=%s: multiqueue is not supported", queues->c_str());
  bool want_vnet_hdr = false;
  if (vnet_hdr_opt) {
    COLO_ASSIGN_OR_RETURN(want_vnet_hdr, parse_bool("vnet_hdr", *vnet_hdr_opt));
  }

  if (fd_str) {
    if (ifname || script || downscript || vnet_hdr_opt) {
      return make_error(
          "ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and "
          "vhostfds= are invalid with fd=");
    }
    COLO_ASSIGN_OR_RETURN(uint64_t fdn, parse_uint("fd", *fd_str));
    int fd = static_cast<int>(fdn);
    ifreq ifr{};
    if (fdn > INT32_MAX || ioctl(fd, TUNGETIFF, &ifr) < 0) {
      return errno_error(errno, "Unable to query TUNGETIFF on FD %d", fd);
    }
    if ((ifr.ifr_flags & IFF_TAP) == 0) {
      return make_error("fd=%d is a tun device, not a tap device", fd);
    }
    int hdr_len = 0;
    if (ifr.ifr_flags & IFF_VNET_HDR) {
      if (ioctl(fd, TUNGETVNETHDRSZ, &hdr_len) < 0 || hdr_len < 10 || hdr_len > 12) {
        hdr_len = 12;
        ioctl(fd, TUNSETVNETHDRSZ, &hdr_len);
      }
      ioctl(fd, TUNSETOFFLOAD, 0);
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return std::unique_ptr<Netdev>(
        std::make_unique<TapNetdev>(id, fd, ifr.ifr_name, hdr_len, /*from_fd=*/true));
  }

  int fd = open(kTunPath, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return errno_error(errno, "could not open %s", kTunPath);
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (want_vnet_hdr ? IFF_VNET_HDR : 0);
  std::string name = ifname && !ifname->empty() ? *ifname : "tap%d";
  if (name.size() >= IFNAMSIZ) {
    close(fd);
    return make_error("ifname=%s: a network interface name has at most %d characters", name.c_str(),
                      IFNAMSIZ - 1);
  }
  memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return errno_error(err, "could not configure %s (%s)", kTunPath, name.c_str());
  }
  int hdr_len = 0;
  if (want_vnet_hdr) {
    hdr_len = 12;
    ioctl(fd, TUNSETVNETHDRSZ, &hdr_len);
    ioctl(fd, TUNSETOFFLOAD, 0);
  }
  if (!ifname || ifname->empty()) {
    info_report("netdev %s: created tap device %s", id.c_str(), ifr.ifr_name);
  }
  return std::unique_ptr<Netdev>(
      std::make_unique<TapNetdev>(id, fd, ifr.ifr_name, hdr_len, /*from_fd=*/false));
}

}  // namespace colo
