// SPDX-License-Identifier: GPL-2.0-or-later
//
// The netdev layer without a guest: the frame format of the stream backends, the filter chain
// (order, direction, status, position, taking and re-injecting packets, from the net thread
// and from others), the socket and stream backends over real sockets, the registry's errors
// and `info network`.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/filter.h"
#include "net/framing.h"
#include "net/net.h"
#include "util/iothread.h"
#include "util/main-loop.h"

namespace colo {
namespace {

using Bytes = std::vector<uint8_t>;
using namespace std::chrono_literals;

Bytes bytes_of(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
std::string text_of(std::span<const uint8_t> b) {
  return std::string(b.begin(), b.end());
}

// --- NetFrameReader ------------------------------------------------------------------------

TEST(NetFrameReader, SplitsFramesFedByteByByte) {
  Bytes stream;
  for (const std::string& f : {std::string("hello"), std::string("a"), std::string(3000, 'x')}) {
    Bytes h = net_frame_header(static_cast<uint32_t>(f.size()));
    stream.insert(stream.end(), h.begin(), h.end());
    stream.insert(stream.end(), f.begin(), f.end());
  }
  NetFrameReader rd;
  std::vector<std::string> got;
  for (uint8_t b : stream) {
    ASSERT_TRUE(
        rd.feed({&b, 1}, [&](std::span<uint8_t> f, uint32_t) { got.push_back(text_of(f)); }).ok());
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "hello");
  EXPECT_EQ(got[1], "a");
  EXPECT_EQ(got[2], std::string(3000, 'x'));
  EXPECT_EQ(rd.pending(), 0u);
}

TEST(NetFrameReader, ZeroLengthIsSkippedOversizeFails) {
  NetFrameReader rd(false, 100);
  Bytes s = net_frame_header(0);
  Bytes one = net_frame_header(2);
  s.insert(s.end(), one.begin(), one.end());
  s.push_back('o');
  s.push_back('k');
  int frames = 0;
  ASSERT_TRUE(rd.feed(s, [&](std::span<uint8_t> f, uint32_t) {
                  frames++;
                  EXPECT_EQ(text_of(f), "ok");
                }).ok());
  EXPECT_EQ(frames, 1);
  Bytes big = net_frame_header(101);
  Status st = rd.feed(big, [&](std::span<uint8_t>, uint32_t) { frames++; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "frame of 101 bytes is longer than 100");
  // Failed for good until reset().
  EXPECT_FALSE(rd.feed(one, [&](std::span<uint8_t>, uint32_t) {}).ok());
  rd.reset();
  EXPECT_TRUE(rd.feed(one, [&](std::span<uint8_t>, uint32_t) {}).ok());
}

TEST(NetFrameReader, VnetHeaderLength) {
  NetFrameReader rd(/*vnet_hdr=*/true);
  Bytes s = net_frame_header(4, true, 2);
  for (char c : std::string("hhab"))
    s.push_back(static_cast<uint8_t>(c));
  uint32_t got_hdr = 99;
  std::string got;
  ASSERT_TRUE(rd.feed(s, [&](std::span<uint8_t> f, uint32_t h) {
                  got = text_of(f);
                  got_hdr = h;
                }).ok());
  EXPECT_EQ(got, "hhab");
  EXPECT_EQ(got_hdr, 2u);
  Bytes bad = net_frame_header(4, true, 5);  // header longer than the frame
  EXPECT_FALSE(rd.feed(bad, [](std::span<uint8_t>, uint32_t) {}).ok());
}

// --- Test doubles: a backend, a NIC and filters, all real objects ----------------------------

// A backend whose "outside" is a list: frames it transmits are kept; inject() plays a frame
// arriving from outside.
class ListBackend : public Netdev {
 public:
  explicit ListBackend(std::string id) : Netdev(std::move(id), "test") {}
  ~ListBackend() override { stop(); }

  void inject(std::string_view s) {
    Bytes b = bytes_of(s);
    NetdevBurst burst(this);
    send_to_peer(b);
  }
  std::vector<std::string> sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  bool started() const { return started_; }

 protected:
  Status start_io(GMainContext*) override {
    started_ = true;
    return ok_status();
  }
  void stop_io() override { started_ = false; }
  bool transmit(std::span<const uint8_t> frame) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent_.push_back(text_of(frame));
    return true;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> sent_;
  bool started_ = false;
};

// A NIC that records frames; can_receive() is switchable to test flow control.
class RecordingNic : public NetPeer, public NetNic {
 public:
  bool can_receive() override {
    bool ok = accept_.load();
    if (!ok) {
      std::lock_guard<std::mutex> lock(mu_);
      refused_++;
      cv_.notify_all();
    }
    return ok;
  }
  bool receive(std::span<const uint8_t> frame) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accept_.load())
      return false;
    got_.push_back(text_of(frame));
    cv_.notify_all();
    return true;
  }
  void receive_flush() override { flushes_++; }
  void transmit_ready() override { transmit_ready_++; }

  std::vector<std::string> got() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  bool wait_for(size_t n, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return got_.size() >= n; });
  }
  // Waits until `n` frames for which `pred` is true arrived.
  bool wait_matching(size_t n, const std::function<bool(const std::string&)>& pred,
                     std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return static_cast<size_t>(std::count_if(got_.begin(), got_.end(), pred)) >= n;
    });
  }
  // Waits until the backend asked for buffers and was told there are none.
  bool wait_refused(std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return refused_ > 0; });
  }

  std::string_view nic_model() const override { return "virtio-net-pci"; }
  MacAddr nic_mac() const override { return mac_; }
  Netdev* nic_netdev() const override { return netdev_; }
  NicRxFilter nic_rx_filter() const override { return {}; }

  std::atomic<bool> accept_{true};
  std::atomic<int> flushes_{0};
  std::atomic<int> transmit_ready_{0};
  MacAddr mac_ = *MacAddr::parse("52:54:00:12:34:56");
  Netdev* netdev_ = nullptr;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> got_;
  int refused_ = 0;
};

// Records "<id>:<dir>:<frame>" into a shared log; can hold packets (take them) and release
// them later; can rewrite the first byte.
class TestFilter : public NetFilter {
 public:
  TestFilter(NetFilterOptions o, std::vector<std::string>* log)
      : NetFilter("filter-test", std::move(o)), log_(log) {}

  NetFilterVerdict receive(NetFilterDirection dir, std::span<uint8_t> frame) override {
    log_->push_back(id() + ":" + std::string(net_filter_direction_name(dir)) + ":" +
                    text_of(frame));
    if (rewrite_ != 0 && !frame.empty())
      frame[0] = rewrite_;
    if (drop_)
      return NetFilterVerdict::kTaken;
    if (hold_) {
      held_.push_back({dir, Bytes(frame.begin(), frame.end())});
      return NetFilterVerdict::kTaken;
    }
    return NetFilterVerdict::kPass;
  }
  void attached() override { events_.push_back("attached"); }
  void detaching() override {
    events_.push_back("detaching");
    release_all();
  }
  void status_changed(bool on) override { events_.push_back(on ? "on" : "off"); }
  std::string type_properties() const override {
    return ",hold=" + std::string(hold_ ? "on" : "off");
  }

  void release_all() {
    while (!held_.empty()) {
      auto [dir, b] = held_.front();
      held_.pop_front();
      netdev()->pass_to_next(this, dir, b);
    }
  }

  bool hold_ = false;
  bool drop_ = false;
  uint8_t rewrite_ = 0;
  std::vector<std::string> events_;
  std::deque<std::pair<NetFilterDirection, Bytes>> held_;

 private:
  std::vector<std::string>* log_;
};

NetFilterOptions opts(const std::string& id, const std::string& extra = "") {
  auto kv = keyval_parse("id=" + id + ",netdev=n0" + (extra.empty() ? "" : "," + extra), "id");
  EXPECT_TRUE(kv.ok());
  OptionReader r(*kv);
  auto o = NetFilter::take_common_options(r);
  EXPECT_TRUE(o.ok()) << o.error().message();
  EXPECT_TRUE(r.finish().ok());
  return *o;
}

class FilterChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_loop_init();
    ASSERT_TRUE(backend_.attach_peer(&nic_, nullptr).ok());
    nic_.netdev_ = &backend_;
  }
  void TearDown() override {
    for (auto& f : filters_)
      backend_.remove_filter(f.get());
    backend_.detach_peer();
  }
  TestFilter* add(const std::string& id, const std::string& extra = "") {
    filters_.push_back(std::make_unique<TestFilter>(opts(id, extra), &log_));
    Status st = backend_.insert_filter(filters_.back().get());
    EXPECT_TRUE(st.ok()) << st.error().message();
    return filters_.back().get();
  }
  std::vector<std::string> ids() {
    std::vector<std::string> v;
    for (NetFilter* f : backend_.filters())
      v.push_back(f->id());
    return v;
  }

  ListBackend backend_{"n0"};
  RecordingNic nic_;
  std::vector<std::string> log_;
  std::vector<std::unique_ptr<TestFilter>> filters_;
};

TEST_F(FilterChainTest, EmptyChainPassesBothWays) {
  EXPECT_TRUE(backend_.started());
  backend_.inject("to-guest");
  Bytes b = bytes_of("from-guest");
  backend_.receive_from_peer(b);
  EXPECT_EQ(nic_.got(), std::vector<std::string>{"to-guest"});
  EXPECT_EQ(backend_.sent(), std::vector<std::string>{"from-guest"});
  EXPECT_GE(nic_.flushes_.load(), 1);
  NetdevStats s = backend_.stats();
  EXPECT_EQ(s.to_guest_frames, 1u);
  EXPECT_EQ(s.to_guest_bytes, 8u);
  EXPECT_EQ(s.from_guest_frames, 1u);
}

TEST_F(FilterChainTest, TxWalksHeadToTailRxTailToHead) {
  add("a");
  add("b");
  add("c");
  backend_.inject("p");
  Bytes b = bytes_of("q");
  backend_.receive_from_peer(b);
  EXPECT_EQ(log_,
            (std::vector<std::string>{"a:tx:p", "b:tx:p", "c:tx:p", "c:rx:q", "b:rx:q", "a:rx:q"}));
  EXPECT_EQ(nic_.got(), std::vector<std::string>{"p"});
  EXPECT_EQ(backend_.sent(), std::vector<std::string>{"q"});
}

TEST_F(FilterChainTest, QueueAndStatusSelectWhatAFilterSees) {
  add("rxonly", "queue=rx");
  add("txonly", "queue=tx");
  TestFilter* off = add("off", "status=off");
  backend_.inject("p");
  Bytes b = bytes_of("q");
  backend_.receive_from_peer(b);
  EXPECT_EQ(log_, (std::vector<std::string>{"txonly:tx:p", "rxonly:rx:q"}));
  log_.clear();
  backend_.set_filter_status(off, true);
  EXPECT_TRUE(off->enabled());
  backend_.set_filter_status(off, true);  // no change, no event
  backend_.inject("r");
  EXPECT_EQ(log_, (std::vector<std::string>{"txonly:tx:r", "off:tx:r"}));
  backend_.set_filter_status(off, false);
  EXPECT_EQ(off->events_, (std::vector<std::string>{"attached", "on", "off"}));
}

TEST_F(FilterChainTest, PositionAndInsert) {
  add("a");
  add("b");
  add("h", "position=head");
  add("x", "position=id=a,insert=before");
  add("y", "position=id=a");  // behind is the default
  add("t", "position=tail");
  EXPECT_EQ(ids(), (std::vector<std::string>{"h", "x", "a", "y", "b", "t"}));

  TestFilter bad(opts("z", "position=id=nope"), &log_);
  Status st = backend_.insert_filter(&bad);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "filter 'nope' not found");
  TestFilter dup(opts("a"), &log_);
  EXPECT_FALSE(backend_.insert_filter(&dup).ok());
}

TEST_F(FilterChainTest, CommonOptionErrors) {
  auto err = [](const std::string& s) {
    auto kv = keyval_parse(s, "id");
    OptionReader r(*kv);
    auto o = NetFilter::take_common_options(r);
    return o.ok() ? std::string("ok") : o.error().message();
  };
  EXPECT_EQ(err("netdev=n0"), "Parameter 'id' is missing");
  EXPECT_EQ(err("id=f"), "Parameter 'netdev' is missing");
  EXPECT_EQ(err("id=f,netdev=n0,queue=up"), "Parameter 'queue' does not accept value 'up'");
  EXPECT_EQ(err("id=f,netdev=n0,status=maybe"),
            "Invalid value for netfilter status, should be 'on' or 'off'");
  EXPECT_EQ(err("id=f,netdev=n0,position=middle"),
            "Parameter 'position' expects 'head', 'tail' or 'id=<id>'");
  EXPECT_EQ(err("id=f,netdev=n0,insert=after"), "Parameter 'insert' does not accept value 'after'");
  EXPECT_EQ(err("id=f,netdev=n0,queue=tx,status=off,position=head,insert=before"), "ok");
}

TEST_F(FilterChainTest, TakenPacketsAreReinjectedAfterTheFilter) {
  add("a");
  TestFilter* hold = add("hold");
  add("c");
  hold->hold_ = true;
  backend_.inject("p1");
  backend_.inject("p2");
  Bytes q = bytes_of("q1");
  backend_.receive_from_peer(q);
  // Nothing got past the holding filter; "c" saw q1 first (rx walks tail to head).
  EXPECT_TRUE(nic_.got().empty());
  EXPECT_TRUE(backend_.sent().empty());
  EXPECT_EQ(log_, (std::vector<std::string>{"a:tx:p1", "hold:tx:p1", "a:tx:p2", "hold:tx:p2",
                                            "c:rx:q1", "hold:rx:q1"}));
  EXPECT_EQ(backend_.stats().filter_taken, 3u);
  log_.clear();
  int flushes = nic_.flushes_.load();
  hold->hold_ = false;
  hold->release_all();
  // Release continues after the filter: "c" for tx (not "a" again), "a" for rx.
  EXPECT_EQ(log_, (std::vector<std::string>{"c:tx:p1", "c:tx:p2", "a:rx:q1"}));
  EXPECT_EQ(nic_.got(), (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(backend_.sent(), std::vector<std::string>{"q1"});
  EXPECT_GT(nic_.flushes_.load(), flushes);  // released frames are published
}

TEST_F(FilterChainTest, FiltersMayRewriteAndDrop) {
  TestFilter* rw = add("rw");
  rw->rewrite_ = 'X';
  backend_.inject("abc");
  EXPECT_EQ(nic_.got(), std::vector<std::string>{"Xbc"});
  TestFilter* drop = add("drop", "queue=rx");
  drop->drop_ = true;
  Bytes b = bytes_of("zz");
  backend_.receive_from_peer(b);
  EXPECT_TRUE(backend_.sent().empty());
  EXPECT_EQ(backend_.stats().filter_taken, 1u);
}

TEST_F(FilterChainTest, RemovingAFilterReleasesWhatItHolds) {
  TestFilter* hold = add("hold");
  add("after");
  hold->hold_ = true;
  backend_.inject("p");
  EXPECT_TRUE(nic_.got().empty());
  backend_.remove_filter(hold);
  EXPECT_EQ(hold->netdev(), nullptr);
  EXPECT_EQ(nic_.got(), std::vector<std::string>{"p"});
  EXPECT_EQ(hold->events_, (std::vector<std::string>{"attached", "detaching"}));
  EXPECT_EQ(ids(), std::vector<std::string>{"after"});
  // A filter that is no longer in the chain cannot re-inject: the packet is dropped.
  Bytes b = bytes_of("late");
  uint64_t dropped = backend_.stats().to_guest_dropped;
  backend_.pass_to_next(hold, NetFilterDirection::kTx, b);
  EXPECT_EQ(backend_.stats().to_guest_dropped, dropped + 1);
}

TEST_F(FilterChainTest, DestroyingAnAttachedFilterDetachesIt) {
  {
    TestFilter f(opts("tmp"), &log_);
    ASSERT_TRUE(backend_.insert_filter(&f).ok());
    EXPECT_EQ(ids(), std::vector<std::string>{"tmp"});
  }
  EXPECT_TRUE(ids().empty());
  backend_.inject("p");
  EXPECT_EQ(nic_.got(), std::vector<std::string>{"p"});
}

TEST_F(FilterChainTest, NicWithoutBuffersDropsAndCounts) {
  nic_.accept_ = false;
  backend_.inject("p");
  EXPECT_EQ(backend_.stats().to_guest_dropped, 1u);
  EXPECT_TRUE(nic_.got().empty());
}

// The net thread is an IoThread (as with virtio-net); a filter's own thread re-injects.
TEST(FilterChainThreads, ReinjectionFromAnotherThreadRunsOnTheNetThread) {
  main_loop_init();
  auto io = IoThread::start("net-test");
  ASSERT_TRUE(io.ok());
  ListBackend backend("n0");
  RecordingNic nic;
  ASSERT_TRUE(backend.attach_peer(&nic, (*io)->context()).ok());
  std::vector<std::string> log;
  TestFilter hold(opts("hold"), &log);
  TestFilter after(opts("after"), &log);
  ASSERT_TRUE(backend.insert_filter(&hold).ok());
  ASSERT_TRUE(backend.insert_filter(&after).ok());
  hold.hold_ = true;
  backend.run_sync_in_net_thread([&] { backend.inject("p1"); });
  ASSERT_EQ(hold.held_.size(), 1u);
  // Another thread (colo-compare's, say) releases a copy, then a new frame.
  std::thread t([&] {
    backend.post_pass_to_next(&hold, NetFilterDirection::kTx, bytes_of("p1"));
    backend.post_pass_to_next(&hold, NetFilterDirection::kTx, bytes_of("extra"));
    backend.post_pass_to_next(&hold, NetFilterDirection::kRx, bytes_of("out"));
  });
  t.join();
  ASSERT_TRUE(nic.wait_for(2));
  EXPECT_EQ(nic.got(), (std::vector<std::string>{"p1", "extra"}));
  backend.run_sync_in_net_thread([] {});
  EXPECT_EQ(backend.sent(), std::vector<std::string>{"out"});
  // "after" saw the tx packets; the rx one walked towards the head, past nothing.
  backend.run_sync_in_net_thread([&] {
    EXPECT_EQ(log, (std::vector<std::string>{"hold:tx:p1", "after:tx:p1", "after:tx:extra"}));
  });
  // Posted after the filter left: dropped, not crashed.
  backend.remove_filter(&hold);
  backend.post_pass_to_next(&hold, NetFilterDirection::kTx, bytes_of("gone"));
  backend.run_sync_in_net_thread([] {});
  EXPECT_EQ(nic.got().size(), 3u);  // p1, extra, and p1 again (released at removal)
  backend.remove_filter(&after);
  backend.detach_peer();
}

// --- Socket and stream backends over real sockets ---------------------------------------------

Bytes framed(std::string_view s) {
  Bytes b = net_frame_header(static_cast<uint32_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
  return b;
}

// Reads frames from a socket until `n` arrived or the deadline passed (poll() waits for data).
std::vector<std::string> read_frames(int fd, size_t n, std::chrono::milliseconds timeout = 5000ms) {
  NetFrameReader rd;
  std::vector<std::string> got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
      break;
    uint8_t buf[4096];
    ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r < 0 && errno == EAGAIN)
      continue;
    if (r <= 0)
      break;
    EXPECT_TRUE(rd.feed({buf, static_cast<size_t>(r)}, [&](std::span<uint8_t> f, uint32_t) {
                    got.push_back(text_of(f));
                  }).ok());
  }
  return got;
}

class StreamBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_loop_init();
    auto io = IoThread::start("net-test");
    ASSERT_TRUE(io.ok());
    io_ = std::move(*io);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv_), 0);
  }
  void TearDown() override {
    if (netdev_)
      netdev_->detach_peer();
    netdev_.reset();
    if (sv_[1] >= 0)
      close(sv_[1]);
  }
  std::unique_ptr<IoThread> io_;
  int sv_[2] = {-1, -1};
  std::unique_ptr<Netdev> netdev_;
  RecordingNic nic_;
};

TEST_F(StreamBackendTest, StreamFdCarriesFramesBothWaysThroughTheChain) {
  auto kv = keyval_parse(string_printf("stream,id=n0,addr.type=fd,addr.str=%d", sv_[0]), "type");
  ASSERT_TRUE(kv.ok());
  auto nd = netdev_create(*kv);
  ASSERT_TRUE(nd.ok()) << nd.error().message();
  netdev_ = std::move(*nd);
  EXPECT_EQ(netdev_->type(), "stream");
  std::vector<std::string> log;
  TestFilter f(opts("watch"), &log);
  ASSERT_TRUE(netdev_->insert_filter(&f).ok());
  ASSERT_TRUE(netdev_->attach_peer(&nic_, io_->context()).ok());
  EXPECT_EQ(netdev_->info_str(), string_printf("fd=%d", sv_[0]));

  // Outside -> guest: two frames in one write, one split across writes.
  Bytes w = framed("one");
  Bytes two = framed(std::string(1500, 't'));
  w.insert(w.end(), two.begin(), two.end());
  Bytes three = framed("three");
  w.insert(w.end(), three.begin(), three.begin() + 5);
  ASSERT_EQ(write(sv_[1], w.data(), w.size()), ssize_t(w.size()));
  ASSERT_EQ(write(sv_[1], three.data() + 5, three.size() - 5), ssize_t(three.size() - 5));
  ASSERT_TRUE(nic_.wait_for(3));
  EXPECT_EQ(nic_.got()[0], "one");
  EXPECT_EQ(nic_.got()[1], std::string(1500, 't'));
  EXPECT_EQ(nic_.got()[2], "three");

  // Guest -> outside.
  netdev_->run_sync_in_net_thread([&] {
    for (std::string s : {"a", "bb", "ccc"}) {
      Bytes b = bytes_of(s);
      netdev_->receive_from_peer(b);
    }
  });
  EXPECT_EQ(read_frames(sv_[1], 3), (std::vector<std::string>{"a", "bb", "ccc"}));
  netdev_->run_sync_in_net_thread([&] {
    EXPECT_EQ(log.size(), 6u);
    EXPECT_EQ(log[0], "watch:tx:one");
    EXPECT_EQ(log[3], "watch:rx:a");
  });
  netdev_->remove_filter(&f);
}

TEST_F(StreamBackendTest, FramesWaitWhileTheNicHasNoBuffers) {
  auto kv = keyval_parse(string_printf("socket,id=n0,fd=%d", sv_[0]), "type");
  auto nd = netdev_create(*kv);
  ASSERT_TRUE(nd.ok()) << nd.error().message();
  netdev_ = std::move(*nd);
  EXPECT_EQ(netdev_->type(), "socket");
  nic_.accept_ = false;
  ASSERT_TRUE(netdev_->attach_peer(&nic_, io_->context()).ok());
  Bytes w;
  for (int i = 0; i < 10; i++) {
    Bytes f = framed("f" + std::to_string(i));
    w.insert(w.end(), f.begin(), f.end());
  }
  ASSERT_EQ(write(sv_[1], w.data(), w.size()), ssize_t(w.size()));
  // The backend read the frames and found no buffers: it must hold them, not drop them.
  ASSERT_TRUE(nic_.wait_refused());
  netdev_->run_sync_in_net_thread([] {});  // the read that asked has finished
  EXPECT_TRUE(nic_.got().empty());
  EXPECT_EQ(netdev_->stats().to_guest_dropped, 0u);
  nic_.accept_ = true;
  netdev_->run_sync_in_net_thread([&] { netdev_->peer_ready(); });
  ASSERT_TRUE(nic_.wait_for(10));
  EXPECT_EQ(nic_.got().front(), "f0");
  EXPECT_EQ(nic_.got().back(), "f9");
  EXPECT_EQ(netdev_->stats().to_guest_dropped, 0u);
}

TEST_F(StreamBackendTest, HeldFramesSurviveThePeerLeaving) {
  auto kv = keyval_parse(string_printf("stream,id=n0,addr.type=fd,addr.str=%d", sv_[0]), "type");
  auto created = netdev_create(*kv);
  ASSERT_TRUE(created.ok());
  netdev_ = std::move(*created);
  nic_.accept_ = false;
  ASSERT_TRUE(netdev_->attach_peer(&nic_, io_->context()).ok());
  Bytes w;
  for (const char* f : {"x1", "x2", "x3"}) {
    Bytes b = framed(f);
    w.insert(w.end(), b.begin(), b.end());
  }
  ASSERT_EQ(write(sv_[1], w.data(), w.size()), ssize_t(w.size()));
  close(sv_[1]);  // the peer hangs up with frames still waiting for buffers
  sv_[1] = -1;
  ASSERT_TRUE(nic_.wait_refused());
  netdev_->run_sync_in_net_thread([] {});
  nic_.accept_ = true;
  netdev_->run_sync_in_net_thread([&] { netdev_->peer_ready(); });
  ASSERT_TRUE(nic_.wait_for(3));
  EXPECT_EQ(nic_.got(), (std::vector<std::string>{"x1", "x2", "x3"}));
  EXPECT_EQ(netdev_->stats().to_guest_dropped, 0u);
}

TEST_F(StreamBackendTest, GarbageLengthDropsTheConnection) {
  auto kv = keyval_parse(string_printf("stream,id=n0,addr.type=fd,addr.str=%d", sv_[0]), "type");
  auto created = netdev_create(*kv);
  ASSERT_TRUE(created.ok());
  netdev_ = std::move(*created);
  ASSERT_TRUE(netdev_->attach_peer(&nic_, io_->context()).ok());
  uint8_t bad[4] = {0xff, 0xff, 0xff, 0xff};
  ASSERT_EQ(write(sv_[1], bad, 4), 4);
  // The netdev closes its end: we see EOF.
  uint8_t c;
  timeval tv{5, 0};
  setsockopt(sv_[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(read(sv_[1], &c, 1), 0);
  EXPECT_TRUE(nic_.got().empty());
}

// Two netdevs of this process talking over a unix socket, as two colovm would.
TEST(StreamBackendPair, UnixServerAndClient) {
  main_loop_init();
  char dir_tmpl[] = "/tmp/colovm-net-test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_tmpl), nullptr);
  std::string path = std::string(dir_tmpl) + "/sock";
  auto io = IoThread::start("net-test");
  ASSERT_TRUE(io.ok());
  NetdevRegistry reg;
  ASSERT_TRUE(reg.add_from_option("stream,id=srv,server=on,addr.type=unix,addr.path=" + path).ok());
  ASSERT_TRUE(reg.add_from_option("stream,id=cli,server=off,addr.type=unix,addr.path=" + path +
                                  ",reconnect=1")
                  .ok());
  RecordingNic a, b;
  ASSERT_TRUE(reg.find("srv")->attach_peer(&a, (*io)->context()).ok());
  EXPECT_EQ(reg.find("srv")->info_str(), "");
  ASSERT_TRUE(reg.find("cli")->attach_peer(&b, (*io)->context()).ok());
  // A unix client is connected when attach_peer() returns (connect() to a listening unix
  // socket completes at once); the server accepts when its loop sees the listener readable.
  reg.find("cli")->run_sync_in_net_thread([&] {
    Bytes f = bytes_of("ping");
    reg.find("cli")->receive_from_peer(f);
  });
  ASSERT_TRUE(a.wait_for(1));
  EXPECT_EQ(a.got()[0], "ping");
  EXPECT_EQ(reg.find("cli")->stats().from_guest_frames, 1u);
  EXPECT_EQ(reg.find("srv")->info_str(), "unix:" + path);
  EXPECT_EQ(reg.find("cli")->info_str(), "unix:" + path);
  reg.find("srv")->run_sync_in_net_thread([&] {
    Bytes f = bytes_of("pong");
    reg.find("srv")->receive_from_peer(f);
  });
  ASSERT_TRUE(b.wait_for(1));
  EXPECT_EQ(b.got()[0], "pong");
  reg.find("srv")->detach_peer();
  reg.find("cli")->detach_peer();
  unlink(path.c_str());
  rmdir(dir_tmpl);
}

// --- The tap backend, in a network namespace of the test's own (root only) ------------------

// The tap device, and a packet socket on its host side, made by a thread that entered a new
// network namespace: the namespace lives as long as their file descriptors and nothing of it
// is visible outside. Frames carry EtherType 0x88b5 (local experimental) so that what the
// kernel sends on its own (IPv6 neighbour discovery) is told apart.
constexpr uint16_t kTestEtherType = 0x88b5;

std::string test_frame(const std::string& text) {
  std::string f("\x02\x00\x00\x00\x00\xbb\x02\x00\x00\x00\x00\xaa\x88\xb5", 14);
  f += text;
  if (f.size() < 60)
    f.resize(60, '.');
  return f;
}
bool is_test_frame(const std::string& f) {
  return f.size() >= 14 && static_cast<uint8_t>(f[12]) == (kTestEtherType >> 8) &&
         static_cast<uint8_t>(f[13]) == (kTestEtherType & 0xff);
}

class TapBackendTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "*** SKIPPED: needs root and /dev/net/tun (tap devices) ***";
    }
    main_loop_init();
    auto io = IoThread::start("net-test");
    ASSERT_TRUE(io.ok());
    io_ = std::move(*io);
    std::string mode = GetParam();
    std::string error;
    std::thread t([&] {
      if (unshare(CLONE_NEWNET) != 0) {
        error = std::string("unshare: ") + strerror(errno);
        return;
      }
      std::string opt = "tap,id=t0,ifname=cvut0,script=no,downscript=no";
      if (mode == "vnet_hdr")
        opt += ",vnet_hdr=on";
      if (mode == "fd") {
        tun_fd_ = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ifreq ifr{};
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;  // as libvirt opens them
        strcpy(ifr.ifr_name, "cvut0");
        if (ioctl(tun_fd_, TUNSETIFF, &ifr) != 0) {
          error = std::string("TUNSETIFF: ") + strerror(errno);
          return;
        }
        opt = "tap,id=t0,fd=" + std::to_string(tun_fd_);
      }
      auto nd = reg_.add_from_option(opt);
      if (!nd.ok()) {
        error = nd.error().message();
        return;
      }
      int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ifreq ifr{};
      strcpy(ifr.ifr_name, "cvut0");
      ioctl(s, SIOCGIFFLAGS, &ifr);
      ifr.ifr_flags |= IFF_UP;
      if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
        error = std::string("link up: ") + strerror(errno);
      close(s);
      packet_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kTestEtherType));
      sockaddr_ll ll{};
      ll.sll_family = AF_PACKET;
      ll.sll_protocol = htons(kTestEtherType);
      ll.sll_ifindex = static_cast<int>(if_nametoindex("cvut0"));
      if (bind(packet_, reinterpret_cast<sockaddr*>(&ll), sizeof(ll)) != 0) {
        error = std::string("packet socket: ") + strerror(errno);
      }
    });
    t.join();
    ASSERT_EQ(error, "");
    tap_ = reg_.find("t0");
    ASSERT_NE(tap_, nullptr);
  }
  void TearDown() override {
    if (tap_ != nullptr)
      tap_->detach_peer();
    reg_.clear();
    if (packet_ >= 0)
      close(packet_);
  }
  void send_outside(const std::string& f) {
    ASSERT_EQ(send(packet_, f.data(), f.size(), 0), ssize_t(f.size())) << strerror(errno);
  }
  std::string recv_outside() {
    pollfd p{packet_, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1)
      return "<timeout>";
    char buf[4096];
    ssize_t n = recv(packet_, buf, sizeof(buf), 0);
    return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
  }
  std::vector<std::string> test_frames_got() {
    std::vector<std::string> v;
    for (const std::string& f : nic_.got()) {
      if (is_test_frame(f))
        v.push_back(f);
    }
    return v;
  }

  std::unique_ptr<IoThread> io_;
  NetdevRegistry reg_;
  Netdev* tap_ = nullptr;
  int packet_ = -1;
  int tun_fd_ = -1;  // owned by the netdev once given with fd=
  RecordingNic nic_;
};

TEST_P(TapBackendTest, FramesBothWaysAndFlowControl) {
  EXPECT_EQ(tap_->type(), "tap");
  EXPECT_EQ(tap_->info_str(), std::string(GetParam()) == "fd"
                                  ? "fd=" + std::to_string(tun_fd_)
                                  : "ifname=cvut0,script=no,downscript=no");
  ASSERT_TRUE(tap_->attach_peer(&nic_, io_->context()).ok());
  // Host -> guest.
  send_outside(test_frame("in-1"));
  send_outside(test_frame(std::string(1400, 'L')));
  ASSERT_TRUE(nic_.wait_matching(2, is_test_frame));
  EXPECT_EQ(test_frames_got(),
            (std::vector<std::string>{test_frame("in-1"), test_frame(std::string(1400, 'L'))}));
  // Guest -> host.
  for (const std::string& f : {test_frame("out-1"), test_frame(std::string(1000, 'O'))}) {
    tap_->run_sync_in_net_thread([&] {
      Bytes b(f.begin(), f.end());
      tap_->receive_from_peer(b);
    });
    EXPECT_EQ(recv_outside(), f);
  }
  EXPECT_EQ(tap_->stats().from_guest_frames, 2u);

  // No buffers in the NIC: the frames stay in the tap's queue, none is lost.
  nic_.accept_ = false;
  for (int i = 0; i < 40; i++)
    send_outside(test_frame("wait-" + std::to_string(i)));
  ASSERT_TRUE(nic_.wait_refused());
  tap_->run_sync_in_net_thread([] {});
  uint64_t dropped = tap_->stats().to_guest_dropped;
  nic_.accept_ = true;
  tap_->run_sync_in_net_thread([&] { tap_->peer_ready(); });
  ASSERT_TRUE(nic_.wait_matching(42, is_test_frame));
  std::vector<std::string> got = test_frames_got();
  for (int i = 0; i < 40; i++)
    EXPECT_EQ(got[2 + i], test_frame("wait-" + std::to_string(i)));
  EXPECT_EQ(tap_->stats().to_guest_dropped, dropped);
}

INSTANTIATE_TEST_SUITE_P(Modes, TapBackendTest, ::testing::Values("ifname", "vnet_hdr", "fd"));

// --- Registry -------------------------------------------------------------------------------

TEST(NetdevRegistry, OptionErrors) {
  main_loop_init();
  NetdevRegistry reg;
  auto err = [&](const std::string& s) {
    Status st = reg.add_from_option(s);
    return st.ok() ? std::string("ok") : st.error().message();
  };
  EXPECT_EQ(err("tap,ifname=x"), "Parameter 'id' is missing");
  EXPECT_EQ(err("foo,id=a"), "Parameter 'type' does not accept value 'foo'");
  EXPECT_EQ(err("user,id=a"), "netdev type 'user' is not supported by colovm");
  EXPECT_EQ(err("tap,id=a,vhost=on,script=no,downscript=no"),
            "vhost is not supported: the COLO filters need every packet in colovm");
  EXPECT_EQ(err("tap,id=a,script=/etc/qemu-ifup"),
            "script=/etc/qemu-ifup: colovm does not run scripts");
  EXPECT_EQ(err("tap,id=a,bogus=1"), "Invalid parameter 'bogus'");
  EXPECT_EQ(err("tap,id=a,fd=3,ifname=x"),
            "ifname=, script=, downscript=, vnet_hdr=, helper=, queues=, fds=, and vhostfds= are "
            "invalid with fd=");
  EXPECT_EQ(err("socket,id=a"), "exactly one of listen=, connect=, mcast= or udp= is required");
  EXPECT_EQ(err("socket,id=a,listen=127.0.0.1:1,connect=127.0.0.1:2"),
            "exactly one of listen=, connect=, mcast= or udp= is required");
  EXPECT_EQ(err("socket,id=a,mcast=230.0.0.1:1234"),
            "-netdev socket,mcast=: datagram sockets are not supported by colovm");
  EXPECT_EQ(err("socket,id=a,listen=1.2.3.4:5"),
            "can't bind ip=1.2.3.4 to socket: Cannot assign requested address");
  EXPECT_EQ(err("stream,id=a"), "Parameter 'addr' is missing");
  EXPECT_EQ(err("stream,id=a,server=on,addr.type=inet,addr.host=127.0.0.1"),
            "Parameter 'addr.port' is missing");
  EXPECT_EQ(err("stream,id=a,addr.type=unix"), "Parameter 'addr.path' is missing");
  EXPECT_EQ(err("stream,id=a,addr.type=inet,addr.host=127.0.0.1,addr.port=1,addr.bogus=1"),
            "Invalid parameter 'addr.bogus'");
  EXPECT_EQ(err("stream,id=a,addr.type=fd,addr.str=0"),
            "addr.str=0: not a socket: Socket operation on non-socket");
  // A listener, then the same id again.
  EXPECT_EQ(err("socket,id=s,listen=127.0.0.1:0"), "ok");
  EXPECT_EQ(err("socket,id=s,listen=127.0.0.1:0"), "Duplicate ID 's' for netdev");
  EXPECT_EQ(reg.find("s")->type(), "socket");
  EXPECT_EQ(reg.find("s")->info_str(), "");
  EXPECT_TRUE(reg.remove("s").ok());
  EXPECT_EQ(reg.find("s"), nullptr);
}

TEST(NetdevRegistry, InfoNetworkInQemuFormat) {
  main_loop_init();
  NetdevRegistry reg;
  ASSERT_TRUE(reg.add_from_option("socket,id=lonely,listen=127.0.0.1:0").ok());
  ASSERT_TRUE(reg.add(std::make_unique<ListBackend>("n0")).ok());
  RecordingNic named, unnamed;
  named.netdev_ = reg.find("n0");
  ASSERT_TRUE(reg.find("n0")->attach_peer(&named, nullptr).ok());
  EXPECT_EQ(reg.register_nic(&named, "nic0"), "nic0");
  unnamed.mac_ = *MacAddr::parse("52:54:00:12:34:57");
  EXPECT_EQ(reg.register_nic(&unnamed, ""), "virtio-net-pci.1");
  std::vector<std::string> log;
  TestFilter f(opts("fb0", "queue=rx"), &log);
  ASSERT_TRUE(reg.find("n0")->insert_filter(&f).ok());
  EXPECT_EQ(reg.info_network(),
            "lonely: index=0,type=socket,\n"
            "nic0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:12:34:56\n"
            " \\ n0: index=0,type=test,\n"
            "filters:\n"
            "  - fb0: type=filter-test,hold=off,position=tail,status=on,insert=behind,"
            "netdev=n0,queue=rx\n"
            "virtio-net-pci.1: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:12:34:57\n");
  reg.find("n0")->remove_filter(&f);
  reg.find("n0")->detach_peer();
  reg.unregister_nic(&named);
  reg.unregister_nic(&unnamed);
}

TEST(NetdevRegistry, NicOption) {
  main_loop_init();
  NetdevRegistry reg;
  auto dev =
      nic_option_split(reg, "socket,listen=127.0.0.1:0,model=virtio,mac=52:54:00:00:00:09", 0);
  ASSERT_TRUE(dev.ok()) << dev.error().message();
  EXPECT_EQ(*dev, (KeyvalDict{{"driver", "virtio-net-pci"},
                              {"netdev", "__org.qemu.nic0"},
                              {"mac", "52:54:00:00:00:09"}}));
  ASSERT_NE(reg.find("__org.qemu.nic0"), nullptr);
  EXPECT_EQ(reg.find("__org.qemu.nic0")->type(), "socket");
  auto named = nic_option_split(reg, "socket,id=mine,listen=127.0.0.1:0", 1);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ((*named)["netdev"], "mine");
  auto none = nic_option_split(reg, "none", 2);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto err = [&](const char* opt) {
    auto r = nic_option_split(reg, opt, 3);
    return r.ok() ? std::string("ok") : r.error().message();
  };
  EXPECT_EQ(err("tap,model=e1000"), "model=e1000: colovm has no such NIC");
  EXPECT_EQ(err("model=virtio"), "netdev type 'user' is not supported by colovm");
  EXPECT_EQ(reg.all().size(), 2u);
}

TEST(NetdevRegistry, QueryListsNetdevsWithTheirNics) {
  main_loop_init();
  NetdevRegistry reg;
  ASSERT_TRUE(reg.add_from_option("socket,id=alone,listen=127.0.0.1:0").ok());
  ASSERT_TRUE(reg.add(std::make_unique<ListBackend>("n0")).ok());
  RecordingNic nic;
  nic.netdev_ = reg.find("n0");
  ASSERT_TRUE(reg.find("n0")->attach_peer(&nic, nullptr).ok());
  reg.register_nic(&nic, "");
  Bytes b = bytes_of("frame");
  reg.find("n0")->run_sync_in_net_thread([&] { reg.find("n0")->receive_from_peer(b); });
  std::vector<NetdevInfo> q = reg.query();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].id, "alone");
  EXPECT_EQ(q[0].type, "socket");
  EXPECT_EQ(q[0].peer, "");
  EXPECT_EQ(q[0].mac, "");
  EXPECT_EQ(q[1].id, "n0");
  EXPECT_EQ(q[1].peer, "virtio-net-pci.0");
  EXPECT_EQ(q[1].nic_model, "virtio-net-pci");
  EXPECT_EQ(q[1].mac, "52:54:00:12:34:56");
  EXPECT_EQ(q[1].stats.from_guest_frames, 1u);
  EXPECT_EQ(q[1].stats.from_guest_bytes, 5u);
  EXPECT_EQ(reg.find_nic("virtio-net-pci.0"), &nic);
  EXPECT_EQ(reg.find_nic("nope"), nullptr);
  reg.find("n0")->detach_peer();
  reg.unregister_nic(&nic);
  reg.clear();
  EXPECT_TRUE(reg.all().empty());
}

TEST(MacAddr, ParseFormatAndDefaults) {
  auto m = MacAddr::parse("52:54:00:AB:cd:0f");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->to_string(), "52:54:00:ab:cd:0f");
  EXPECT_TRUE(MacAddr::parse("52-54-00-12-34-56").ok());
  for (const char* bad : {"", "zz", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:5g",
                          "525:4:00:12:34:56"}) {
    EXPECT_FALSE(MacAddr::parse(bad).ok()) << bad;
  }
  MacAddr explicit_mac = mac_default_if_unset(*MacAddr::parse("52:54:00:12:34:60"));
  EXPECT_EQ(explicit_mac.to_string(), "52:54:00:12:34:60");
  // Defaults count up from :56 and skip addresses in use.
  std::vector<std::string> seen;
  for (int i = 0; i < 12; i++)
    seen.push_back(mac_default_if_unset(std::nullopt).to_string());
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "52:54:00:12:34:60"), 0);
  EXPECT_EQ(seen.front().substr(0, 15), "52:54:00:12:34:");
}

}  // namespace
}  // namespace colo
