// SPDX-License-Identifier: GPL-2.0-or-later
//
// colovm's network on real KVM with the test guest's virtio-net driver and TCP/IP stack:
//
//   tap       a network namespace of the test's own holds a tap device (10.0.0.1/24); colovm
//             runs inside it with -netdev tap + virtio-net-pci, the guest is 10.0.0.2. From
//             the namespace: ping, TCP echo of 1 MiB (content checked), UDP echo, KV SET/GET on
//             a virtio-blk disk, the keys again after a restart from the same image, and
//             garbage frames (random bytes, truncated headers, bad checksums, oversized
//             frames) written to the tap with a packet socket, after which colovm and the
//             guest still work. Needs root, /dev/kvm and /dev/net/tun; the namespace (and the
//             tap in it) is removed at the end, also when a check fails.
//   stream    no root: colovm's -netdev stream / socket end is connected to this test, which
//             plays a host on the wire (QEMU's length-prefixed frames): ARP, ping, UDP echo.
//   options   -netdev / -device errors are one line and exit 1.
//
// Traffic goes only to the namespace or to loopback sockets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "net/framing.h"
#include "tests/support/process.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

constexpr const char* kGuestIp = "10.0.0.2";
constexpr const char* kHostIp = "10.0.0.1";
constexpr const char* kGuestMac = "52:54:00:12:34:56";
constexpr const char* kTap = "cvtap0";

uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// ---- A network namespace with a tap device, removed at destruction ----------------------

class TapNamespace {
 public:
  static constexpr const char* kPrefix = "colovm-nt";

  TapNamespace() {
    remove_stale();
    static std::atomic<int> counter{0};
    name_ = std::string(kPrefix) + std::to_string(getpid()) + "-" + std::to_string(counter++);
    if (!ip({"netns", "add", name_}))
      return;
    created_ = true;
    if (!ip({"-n", name_, "link", "set", "lo", "up"}) ||
        !ip({"-n", name_, "tuntap", "add", "dev", kTap, "mode", "tap"}) ||
        !ip({"-n", name_, "addr", "add", std::string(kHostIp) + "/24", "dev", kTap}) ||
        !ip({"-n", name_, "link", "set", kTap, "up"})) {
      return;
    }
    ok_ = true;
  }
  ~TapNamespace() {
    if (!created_)
      return;
    // Whatever still runs in it was started by this test (colovm under `ip netns exec`).
    RunResult pids = run_process({"ip", "netns", "pids", name_}, 10s);
    for (const std::string& line : lines_of(pids.out)) {
      if (!line.empty())
        kill(atoi(line.c_str()), SIGKILL);
    }
    run_process({"ip", "netns", "del", name_}, 10s);  // takes the tap with it
  }
  TapNamespace(const TapNamespace&) = delete;
  TapNamespace& operator=(const TapNamespace&) = delete;

  // Namespaces of earlier runs of this test that were killed before they could clean up
  // (their process is gone).
  static void remove_stale() {
    RunResult list = run_process({"ip", "netns", "list"}, 10s);
    for (const std::string& line : lines_of(list.out)) {
      if (line.rfind(kPrefix, 0) != 0)
        continue;
      std::string name = line.substr(0, line.find(' '));
      int pid = atoi(name.c_str() + strlen(kPrefix));
      if (pid > 0 && pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH) {
        run_process({"ip", "netns", "del", name}, 10s);
      }
    }
  }

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }

  bool ip(std::vector<std::string> args) {
    args.insert(args.begin(), "ip");
    RunResult r = run_process(args, 10s);
    if (r.status && *r.status == 0)
      return true;
    std::string cmd;
    for (const auto& a : args)
      cmd += a + " ";
    error_ += cmd + "failed: " + r.err;
    return false;
  }

  // Runs `fn` with this thread in the namespace; sockets made meanwhile stay in it.
  template <typename F>
  auto inside(F fn) {
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(self, 0);
    EXPECT_GE(target, 0);
    EXPECT_EQ(setns(target, CLONE_NEWNET), 0) << strerror(errno);
    auto result = fn();
    EXPECT_EQ(setns(self, CLONE_NEWNET), 0) << strerror(errno);
    close(self);
    close(target);
    return result;
  }

 private:
  std::string name_;
  std::string error_;
  bool created_ = false;
  bool ok_ = false;
};

#define COLO_REQUIRE_TAP()                                                                \
  do {                                                                                    \
    COLO_REQUIRE_KVM();                                                                   \
    if (geteuid() != 0) {                                                                 \
      GTEST_SKIP() << "*** SKIPPED: needs root (network namespaces and tap devices) ***"; \
    }                                                                                     \
    if (access("/dev/net/tun", R_OK | W_OK) != 0 || !have_program("ip")) {                \
      GTEST_SKIP() << "*** SKIPPED: needs /dev/net/tun and iproute2 ***";                 \
    }                                                                                     \
  } while (0)

uint16_t ip_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += load_be16(p + i);
  if (n & 1)
    sum += static_cast<uint32_t>(p[n - 1]) << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// ---- Sockets ------------------------------------------------------------------------------

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0)
      close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (fd_ >= 0)
      close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

sockaddr_in inet_addr_of(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000),
             static_cast<suseconds_t>(t.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

Fd tcp_connect(TapNamespace& ns, uint16_t port) {
  Fd fd(ns.inside([] { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }));
  if (!fd.ok())
    return fd;
  set_timeouts(fd.get(), 10s);
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in a = inet_addr_of(kGuestIp, port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ADD_FAILURE() << "connect to " << kGuestIp << ":" << port << ": " << strerror(errno);
    return Fd();
  }
  return fd;
}

bool send_all(int fd, std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Sends `size` random bytes to the echo service and checks every byte that comes back.
void expect_tcp_echo(TapNamespace& ns, size_t size, uint32_t seed) {
  Fd fd = tcp_connect(ns, 7);
  ASSERT_TRUE(fd.ok());
  Bytes data(size);
  std::mt19937 rng(seed);
  for (auto& b : data)
    b = static_cast<uint8_t>(rng());
  std::thread writer([&] { EXPECT_TRUE(send_all(fd.get(), data)); });
  Bytes got;
  got.reserve(size);
  uint8_t buf[65536];
  while (got.size() < size) {
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got.insert(got.end(), buf, buf + n);
  }
  writer.join();
  ASSERT_EQ(got.size(), size) << "echo stopped after " << got.size() << " bytes";
  EXPECT_TRUE(got == data) << "echoed bytes differ";
}

void expect_udp_echo(TapNamespace& ns, int count) {
  Fd fd(ns.inside([] { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }));
  ASSERT_TRUE(fd.ok());
  set_timeouts(fd.get(), 2s);
  sockaddr_in a = inet_addr_of(kGuestIp, 7);
  ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  std::mt19937 rng(7);
  int answered = 0;
  for (int i = 0; i < count; i++) {
    Bytes d(1 + rng() % 1472);
    for (auto& b : d)
      b = static_cast<uint8_t>(rng());
    ASSERT_EQ(send(fd.get(), d.data(), d.size(), 0), ssize_t(d.size()));
    uint8_t buf[2048];
    // UDP may lose a datagram; one retry with the same payload.
    for (int attempt = 0; attempt < 2; attempt++) {
      ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
      if (n == ssize_t(d.size()) && memcmp(buf, d.data(), d.size()) == 0) {
        answered++;
        break;
      }
      if (n < 0)
        send(fd.get(), d.data(), d.size(), 0);
    }
  }
  EXPECT_EQ(answered, count);
}

// ICMP echo through a raw socket: how many of `count` requests got their reply. A request
// is sent up to 3 times (1 s apart): a loaded host may be slow, but the guest must answer.
int ping(TapNamespace& ns, int count) {
  Fd fd(ns.inside([] { return socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP); }));
  if (!fd.ok()) {
    ADD_FAILURE() << "raw ICMP socket: " << strerror(errno);
    return 0;
  }
  sockaddr_in a = inet_addr_of(kGuestIp, 0);
  int replies = 0;
  uint16_t id = static_cast<uint16_t>(getpid());
  for (int seq = 1; seq <= count; seq++) {
    uint8_t req[8 + 56] = {8, 0};
    store_be16(req + 4, id);
    store_be16(req + 6, static_cast<uint16_t>(seq));
    for (size_t i = 8; i < sizeof(req); i++) {
      req[i] = static_cast<uint8_t>(i + seq);
    }
    store_be16(req + 2, ip_checksum(req, sizeof(req)));
    bool got = false;
    for (int attempt = 0; attempt < 3 && !got; attempt++) {
      sendto(fd.get(), req, sizeof(req), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a));
      auto deadline = std::chrono::steady_clock::now() + 1s;
      while (!got) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd.get(), POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0)
          break;
        uint8_t buf[2048];
        ssize_t n = recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0)
          continue;
        size_t ihl = (buf[0] & 0xf) * 4u;
        if (static_cast<size_t>(n) < ihl + sizeof(req))
          continue;
        const uint8_t* icmp = buf + ihl;
        got = icmp[0] == 0 && load_be16(icmp + 4) == id && load_be16(icmp + 6) == seq &&
              memcmp(icmp + 8, req + 8, sizeof(req) - 8) == 0;
      }
    }
    if (got)
      replies++;
  }
  return replies;
}

// One line of the KV protocol.
std::string kv(int fd, const std::string& cmd) {
  std::string line = cmd + "\n";
  if (!send_all(fd, {reinterpret_cast<const uint8_t*>(line.data()), line.size()}))
    return "<send>";
  std::string out;
  char c;
  while (out.empty() || out.back() != '\n') {
    ssize_t n = recv(fd, &c, 1, 0);
    if (n <= 0)
      return "<recv " + out + ">";
    out += c;
  }
  out.pop_back();
  if (!out.empty() && out.back() == '\r')
    out.pop_back();
  return out;
}

// ---- colovm in the namespace --------------------------------------------------------------

std::vector<std::string> colovm_in(const TapNamespace& ns, const std::string& append,
                                   const std::string& disk) {
  std::vector<std::string> a = {
      "ip",
      "netns",
      "exec",
      ns.name(),
      colovm_binary(),
      "-m",
      "256",
      "-nographic",
      "-kernel",
      test_guest(),
      "-append",
      append,
      "-netdev",
      std::string("tap,id=n0,ifname=") + kTap + ",script=no,downscript=no,vhost=off",
      "-device",
      std::string("virtio-net-pci,netdev=n0,id=nic0,mac=") + kGuestMac};
  if (!disk.empty()) {
    a.insert(a.end(), {"-drive", "file=" + disk + ",format=raw,if=none,id=d0", "-device",
                       "virtio-blk-pci,drive=d0"});
  }
  return a;
}

bool wait_serving(Process& p) {
  bool ok = p.wait_for_output("testguest: serving", 30s);
  if (!ok)
    ADD_FAILURE() << "guest not serving:\n" << p.stdout_text() << p.stderr_text();
  return ok;
}

// colovm must still run, and stop cleanly on SIGTERM with nothing alarming on stderr.
void stop_cleanly(Process& p) {
  EXPECT_TRUE(p.running()) << p.stdout_text() << p.stderr_text();
  p.signal(SIGTERM);
  std::optional<int> st = p.wait(20s);
  ASSERT_TRUE(st.has_value()) << "colovm did not stop on SIGTERM";
  EXPECT_EQ(*st, 0) << p.stderr_text();
  for (const std::string& line : lines_of(p.stderr_text())) {
    if (line.empty() || line == "colovm: terminating on signal")
      continue;
    if (line.rfind("colovm: debug: ", 0) == 0)
      continue;  // -d
    ADD_FAILURE() << "unexpected stderr line: " << line;
  }
}

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COLO_REQUIRE_TAP();
    ns_ = std::make_unique<TapNamespace>();
    ASSERT_TRUE(ns_->ok()) << ns_->error();
  }
  void TearDown() override { ns_.reset(); }
  std::unique_ptr<TapNamespace> ns_;
  TempDir tmp_;
};

TEST_F(TapTest, PingEchoAndKvSurvivingARestart) {
  std::string disk = tmp_.file("kv.img");
  write_file(disk, std::string(1 << 20, '\0'));
  {
    Process vm(colovm_in(*ns_, "ip=10.0.0.2/24 echo kv", disk));
    ASSERT_TRUE(wait_serving(vm));
    EXPECT_NE(vm.stdout_text().find(std::string("testguest: net up 10.0.0.2/24 mac ") + kGuestMac),
              std::string::npos)
        << vm.stdout_text();
    EXPECT_EQ(ping(*ns_, 20), 20);
    expect_tcp_echo(*ns_, 1 << 20, 1);
    expect_udp_echo(*ns_, 50);
    Fd fd = tcp_connect(*ns_, 6379);
    ASSERT_TRUE(fd.ok());
    EXPECT_EQ(kv(fd.get(), "PING"), "PONG");
    for (int i = 0; i < 40; i++) {
      ASSERT_EQ(kv(fd.get(), "SET key" + std::to_string(i) + " value-" + std::to_string(i * 7)),
                "OK");
    }
    EXPECT_EQ(kv(fd.get(), "GET key13"), "VALUE value-91");
    EXPECT_EQ(kv(fd.get(), "GET nokey"), "NONE");
    EXPECT_EQ(kv(fd.get(), "COUNT"), "COUNT 40");
    stop_cleanly(vm);
  }
  // The same image again: every key is back.
  Process vm(colovm_in(*ns_, "ip=10.0.0.2/24 echo kv", disk));
  ASSERT_TRUE(wait_serving(vm));
  EXPECT_NE(vm.stdout_text().find("testguest: kv loaded 40 keys"), std::string::npos)
      << vm.stdout_text();
  Fd fd = tcp_connect(*ns_, 6379);
  ASSERT_TRUE(fd.ok());
  for (int i = 0; i < 40; i++) {
    EXPECT_EQ(kv(fd.get(), "GET key" + std::to_string(i)), "VALUE value-" + std::to_string(i * 7));
  }
  stop_cleanly(vm);
}

// A frame: dst, src, type, payload.
Bytes eth(const uint8_t* dst, const uint8_t* src, uint16_t type, const Bytes& payload) {
  Bytes f(14 + payload.size());
  memcpy(&f[0], dst, 6);
  memcpy(&f[6], src, 6);
  store_be16(&f[12], type);
  if (!payload.empty())
    memcpy(&f[14], payload.data(), payload.size());
  return f;
}

// An IPv4 packet from the host to the guest.
Bytes ipv4(uint8_t proto, const Bytes& payload, bool bad_checksum = false, int ihl = 5,
           int total = -1) {
  Bytes p(static_cast<size_t>(ihl) * 4, 0);
  p[0] = static_cast<uint8_t>(0x40 | ihl);
  store_be16(&p[2], static_cast<uint16_t>(total >= 0 ? total : int(p.size() + payload.size())));
  p[6] = 0x40;
  p[8] = 64;
  p[9] = proto;
  inet_pton(AF_INET, kHostIp, &p[12]);
  inet_pton(AF_INET, kGuestIp, &p[16]);
  store_be16(&p[10], ip_checksum(p.data(), p.size()));
  if (bad_checksum)
    p[10] ^= 0x5a;
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

TEST_F(TapTest, GarbageFramesCrashNothing) {
  // Frames up to 65000 bytes can go out of the host side of the tap.
  ASSERT_TRUE(ns_->ip({"-n", ns_->name(), "link", "set", kTap, "mtu", "65000"})) << ns_->error();
  std::vector<std::string> args = colovm_in(*ns_, "ip=10.0.0.2/24 echo", "");
  args.insert(args.end(), {"-d", "all"});
  Process vm(args);
  ASSERT_TRUE(wait_serving(vm));
  expect_tcp_echo(*ns_, 64 << 10, 2);  // the host knows the guest's MAC now

  int ifindex = ns_->inside([] { return static_cast<int>(if_nametoindex(kTap)); });
  ASSERT_GT(ifindex, 0);
  Fd raw(ns_->inside([] { return socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)); }));
  ASSERT_TRUE(raw.ok()) << strerror(errno);
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = ifindex;
  ll.sll_halen = 6;
  ASSERT_EQ(bind(raw.get(), reinterpret_cast<sockaddr*>(&ll), sizeof(ll)), 0);
  uint8_t guest[6], host[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  sscanf(kGuestMac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &guest[0], &guest[1], &guest[2], &guest[3],
         &guest[4], &guest[5]);
  const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

  std::mt19937 rng(42);
  auto random_bytes = [&](size_t n) {
    Bytes b(n);
    for (auto& x : b)
      x = static_cast<uint8_t>(rng());
    return b;
  };
  std::vector<Bytes> frames;
  // Noise. (Frames shorter than an Ethernet header do not get through a packet socket.)
  for (int i = 0; i < 300; i++)
    frames.push_back(random_bytes(14 + rng() % 1501));
  for (int i = 0; i < 200; i++) {
    frames.push_back(eth(guest, host, 0x0800, random_bytes(rng() % 40)));  // truncated IP
    frames.push_back(eth(guest, host, 0x0806, random_bytes(rng() % 28)));  // truncated ARP
    frames.push_back(eth(i % 2 ? guest : bcast, host, 0x0800,
                         ipv4(static_cast<uint8_t>(rng() % 3 == 0 ? 6
                                                   : rng() % 2    ? 17
                                                                  : 1),
                              random_bytes(rng() % 200), /*bad_checksum=*/true)));
    frames.push_back(eth(guest, host, 0x0800,  // a total length beyond the frame
                         ipv4(17, random_bytes(8), false, 5, 1400)));
    frames.push_back(
        eth(guest, host, 0x0800,
            ipv4(6, random_bytes(rng() % 60), false, 5 + static_cast<int>(rng() % 11))));
  }
  for (size_t size : {1515u, 1600u, 2048u, 4000u, 9000u, 20000u, 65000u}) {  // oversized
    for (int i = 0; i < 5; i++)
      frames.push_back(eth(guest, host, 0x0800, random_bytes(size - 14)));
  }
  std::shuffle(frames.begin(), frames.end(), rng);
  // In bursts of 200, each followed by a ping: frames stay in order through the tap and the
  // device, so the reply says the guest has seen the whole burst (and a burst never
  // overflows the tap's queue of 1000 frames, so none is lost before colovm reads it).
  size_t sent = 0;
  for (size_t i = 0; i < frames.size(); i++) {
    if (send(raw.get(), frames[i].data(), frames[i].size(), 0) == ssize_t(frames[i].size())) {
      sent++;
    }
    if (i % 200 == 199 || i + 1 == frames.size()) {
      ASSERT_EQ(ping(*ns_, 1), 1) << "no ping reply after " << i + 1 << " garbage frames";
    }
  }
  EXPECT_EQ(sent, frames.size());
  // Still alive: colovm, the guest, its stack and its services.
  EXPECT_EQ(ping(*ns_, 5), 5);
  expect_tcp_echo(*ns_, 256 << 10, 3);
  expect_udp_echo(*ns_, 10);
  EXPECT_EQ(vm.stdout_text().find("testguest: error"), std::string::npos) << vm.stdout_text();
  stop_cleanly(vm);
  // The frames too big for the guest's 2 KiB buffers were dropped by the device (-d reports
  // its counters at exit): 4000, 9000, 20000 and 65000 bytes, 5 of each, and 2048 (with the
  // 12-byte header it does not fit).
  std::string err = vm.stderr_text();
  size_t at = err.find("colovm: debug: virtio-net 52:54:00:12:34:56: rx ");
  ASSERT_NE(at, std::string::npos) << err;
  unsigned long long rx = 0, dropped = 0;
  ASSERT_EQ(sscanf(err.c_str() + at, "colovm: debug: virtio-net %*s rx %llu frames, %llu dropped",
                   &rx, &dropped),
            2);
  EXPECT_EQ(dropped, 25u);
  EXPECT_GT(rx, 1000u);
}

// ---- Without root: the test is the other end of -netdev stream / socket -----------------

// A host on the wire at 10.0.0.1, speaking QEMU's framing over a stream socket.
class WireHost {
 public:
  explicit WireHost(int fd) : fd_(fd) { set_timeouts(fd, 5s); }

  void send_frame(const Bytes& f) {
    Bytes rec = net_frame_header(static_cast<uint32_t>(f.size()));
    rec.insert(rec.end(), f.begin(), f.end());
    ASSERT_TRUE(send_all(fd_.get(), rec));
  }
  // The next frame of EtherType `type` for our MAC (or broadcast), or nullopt on timeout.
  std::optional<Bytes> next_frame(uint16_t type, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (!frames_.empty()) {
        Bytes f = std::move(frames_.front());
        frames_.erase(frames_.begin());
        if (f.size() >= 14 && load_be16(&f[12]) == type &&
            (memcmp(f.data(), kMac, 6) == 0 || f[0] == 0xff)) {
          return f;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_.get(), POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return {};
      uint8_t buf[65536];
      ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
      if (n <= 0)
        return {};
      Status st = reader_.feed({buf, static_cast<size_t>(n)}, [&](std::span<uint8_t> f, uint32_t) {
        frames_.emplace_back(f.begin(), f.end());
      });
      if (!st.ok()) {
        ADD_FAILURE() << "bad framing from colovm: " << st.error().message();
        return {};
      }
    }
  }

  // ARP: who has 10.0.0.2? The guest answers and learns us.
  void resolve_guest() {
    Bytes arp(28, 0);
    store_be16(&arp[0], 1);
    store_be16(&arp[2], 0x0800);
    arp[4] = 6;
    arp[5] = 4;
    store_be16(&arp[6], 1);
    memcpy(&arp[8], kMac, 6);
    inet_pton(AF_INET, kHostIp, &arp[14]);
    inet_pton(AF_INET, kGuestIp, &arp[24]);
    const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    send_frame(eth(bcast, kMac, 0x0806, arp));
    for (;;) {
      std::optional<Bytes> f = next_frame(0x0806);
      ASSERT_TRUE(f.has_value()) << "no ARP reply from the guest";
      if (f->size() >= 42 && load_be16(&(*f)[20]) == 2) {
        memcpy(guest_mac_, &(*f)[22], 6);
        return;
      }
    }
  }
  const uint8_t* guest_mac() const { return guest_mac_; }

  std::optional<Bytes> udp_echo(const Bytes& payload, uint16_t sport) {
    Bytes udp(8);
    store_be16(&udp[0], sport);
    store_be16(&udp[2], 7);
    store_be16(&udp[4], static_cast<uint16_t>(8 + payload.size()));
    udp.insert(udp.end(), payload.begin(), payload.end());  // checksum 0: none
    send_frame(eth(guest_mac_, kMac, 0x0800, ipv4(17, udp)));
    for (;;) {
      std::optional<Bytes> f = next_frame(0x0800);
      if (!f)
        return {};
      if (f->size() < 14 + 20 + 8 || (*f)[14 + 9] != 17)
        continue;
      size_t ihl = ((*f)[14] & 0xf) * 4u;
      EXPECT_EQ(ip_checksum(&(*f)[14], ihl), 0) << "bad IP header checksum from the guest";
      const uint8_t* u = &(*f)[14 + ihl];
      if (load_be16(u + 2) != sport)
        continue;
      return Bytes(u + 8, u + load_be16(u + 4));
    }
  }

  std::optional<Bytes> icmp_echo(const Bytes& data, uint16_t seq) {
    Bytes icmp = {
        8, 0, 0, 0, 0x12, 0x34, static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq)};
    icmp.insert(icmp.end(), data.begin(), data.end());
    store_be16(&icmp[2], ip_checksum(icmp.data(), icmp.size()));
    send_frame(eth(guest_mac_, kMac, 0x0800, ipv4(1, icmp)));
    for (;;) {
      std::optional<Bytes> f = next_frame(0x0800);
      if (!f)
        return {};
      if (f->size() < 14 + 20 + 8 || (*f)[14 + 9] != 1)
        continue;
      size_t ihl = ((*f)[14] & 0xf) * 4u;
      const uint8_t* c = &(*f)[14 + ihl];
      size_t len = f->size() - 14 - ihl;
      if (c[0] != 0 || load_be16(c + 6) != seq)
        continue;
      EXPECT_EQ(ip_checksum(c, len), 0) << "bad ICMP checksum";
      return Bytes(c + 8, c + len);
    }
  }

  static constexpr uint8_t kMac[6] = {0x02, 0x00, 0x0a, 0x00, 0x00, 0x01};

 private:
  Fd fd_;
  NetFrameReader reader_;
  std::vector<Bytes> frames_;
  uint8_t guest_mac_[6] = {};
};

void talk_to_guest(WireHost& host) {
  ASSERT_NO_FATAL_FAILURE(host.resolve_guest());
  EXPECT_EQ(memcmp(host.guest_mac(), "\x52\x54\x00\x12\x34\x56", 6), 0);
  std::mt19937 rng(5);
  for (int i = 0; i < 20; i++) {
    Bytes d(1 + rng() % 1400);
    for (auto& b : d)
      b = static_cast<uint8_t>(rng());
    std::optional<Bytes> back = host.icmp_echo(d, static_cast<uint16_t>(i));
    ASSERT_TRUE(back.has_value()) << "no echo reply " << i;
    EXPECT_TRUE(*back == d);
  }
  for (int i = 0; i < 100; i++) {
    Bytes d(1 + rng() % 1472);
    for (auto& b : d)
      b = static_cast<uint8_t>(rng());
    std::optional<Bytes> back = host.udp_echo(d, static_cast<uint16_t>(40000 + i));
    ASSERT_TRUE(back.has_value()) << "no UDP echo " << i;
    EXPECT_TRUE(*back == d) << "datagram " << i;
  }
}

std::vector<std::string> colovm_with(const std::string& netdev) {
  return {colovm_binary(), "-m",
          "128",           "-nographic",
          "-kernel",       test_guest(),
          "-append",       "ip=10.0.0.2/24 echo",
          "-netdev",       netdev,
          "-device",       std::string("virtio-net-pci,netdev=n0,mac=") + kGuestMac};
}

TEST(StreamTest, UnixServerInColovm) {
  COLO_REQUIRE_KVM();
  TempDir tmp;
  std::string path = tmp.file("net.sock");
  Process vm(colovm_with("stream,id=n0,server=on,addr.type=unix,addr.path=" + path));
  ASSERT_TRUE(wait_serving(vm));
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  strncpy(un.sun_path, path.c_str(), sizeof(un.sun_path) - 1);
  ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof(un)), 0) << strerror(errno);
  WireHost host(dup(fd.get()));
  talk_to_guest(host);
  stop_cleanly(vm);
}

TEST(StreamTest, NicSocketConnectsToTheTest) {
  COLO_REQUIRE_KVM();
  Fd lfd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = inet_addr_of("127.0.0.1", 0);
  ASSERT_EQ(bind(lfd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(lfd.get(), 1), 0);
  socklen_t len = sizeof(a);
  getsockname(lfd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  // -nic: the backend and its virtio-net-pci in one option.
  Process vm({colovm_binary(), "-m", "128", "-nographic", "-kernel", test_guest(), "-append",
              "ip=10.0.0.2/24 echo", "-nic",
              "socket,connect=127.0.0.1:" + std::to_string(ntohs(a.sin_port)) +
                  ",model=virtio-net-pci,mac=" + kGuestMac});
  pollfd p{lfd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 30000), 1) << "colovm did not connect\n" << vm.stderr_text();
  WireHost host(accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(wait_serving(vm));
  talk_to_guest(host);
  stop_cleanly(vm);
}

// ---- Option errors ------------------------------------------------------------------------

void expect_error(std::vector<std::string> args, const std::string& expect) {
  args.insert(args.begin(), {colovm_binary(), "-kernel", test_guest()});
  RunResult r = run_process(args, 30s);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 1) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find(expect), std::string::npos) << r.err;
}

TEST(NetOptionsTest, ClearErrors) {
  expect_error({"-netdev", "tap,id=n0,ifname=x,script=no,downscript=no,vhost=on"},
               "-netdev tap,id=n0,ifname=x,script=no,downscript=no,vhost=on: vhost is not "
               "supported: the COLO filters need every packet in colovm (use vhost=off)");
  expect_error({"-netdev", "tap,id=n0,ifname=x,script=/etc/qemu-ifup"},
               "script=/etc/qemu-ifup: colovm does not run scripts");
  expect_error({"-netdev", "user,id=n0"}, "netdev type 'user' is not supported by colovm");
  expect_error({"-netdev", "stream,id=n0,addr.type=inet,addr.host=127.0.0.1"},
               "Parameter 'addr.port' is missing");
  expect_error({"-nic", "user,model=virtio"}, "netdev type 'user' is not supported by colovm");
  expect_error({"-nic", "tap,model=e1000"}, "model=e1000: colovm has no such NIC");
}

TEST(NetOptionsTest, DeviceErrors) {
  COLO_REQUIRE_KVM();
  expect_error({"-device", "virtio-net-pci,netdev=nope"},
               "Property 'virtio-net-pci.netdev' can't find value 'nope'");
  expect_error({"-device", "virtio-net-pci,mac=01:00:00:00:00:01"},
               "Property 'virtio-net-pci.mac' doesn't take value '01:00:00:00:00:01'");
  expect_error({"-device", "virtio-net-pci,csum=on"}, "colovm's virtio-net has no such feature");
  expect_error({"-netdev", "socket,id=n0,listen=127.0.0.1:0", "-device", "virtio-net-pci,netdev=n0",
                "-device", "virtio-net-pci,netdev=n0"},
               "Property 'virtio-net-pci.netdev' can't take value 'n0', it's in use");
}

}  // namespace
}  // namespace colo::test
