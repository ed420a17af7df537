// SPDX-License-Identifier: GPL-2.0-or-later
//
// QMP against a real colovm booting the test guest: negotiation, every command, events for
// every state change, several monitors at once, out-of-band execution while an in-band command
// blocks the main loop, hostile input, and the shape of every reply compared with
// qemu-system-x86_64 7.2 running the same guest. Every wait is for a real reply or event.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/qmp-client.h"

namespace colo::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kTimeout = 30s;

int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in));
  socklen_t len = sizeof(in);
  getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len);
  close(fd);
  return ntohs(in.sin_port);
}

// Waits until `path` contains `text` after byte `offset` (the guest's serial output).
bool wait_for_file_text(const std::string& path, const std::string& text, size_t offset) {
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = read_text_file(path);
    if (log.size() > offset && log.find(text, offset) != std::string::npos)
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

class QmpTest : public ::testing::Test {
 protected:
  void SetUp() override { COLO_REQUIRE_KVM(); }

  // Starts colovm (or qemu) paused with a QMP socket plus `extra`; connects and negotiates.
  std::unique_ptr<QmpClient> start(std::vector<std::string> extra = {}, bool oob = true,
                                   const std::string& binary = "", const std::string& append = "") {
    sock_ = dir_.file("qmp.sock");
    std::vector<std::string> args = {
        binary.empty() ? colovm_binary() : binary,
        "-enable-kvm",
        "-display",
        "none",
        "-nodefaults",
        "-S",
        "-name",
        "qmptest",
        "-kernel",
        test_guest(),
        "-serial",
        "file:" + dir_.file(binary.empty() ? "serial.log" : "qemu-serial.log"),
        "-qmp",
        "unix:" + sock_ + ",server=on,wait=off"};
    if (!append.empty()) {
      args.push_back("-append");
      args.push_back(append);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<Process>(args);
    auto c = QmpClient::connect_unix(sock_, kTimeout);
    EXPECT_NE(c, nullptr) << proc_->stderr_text();
    if (c == nullptr)
      return nullptr;
    EXPECT_TRUE(c->negotiate(oob, kTimeout)) << c->last_line() << proc_->stderr_text();
    return c;
  }

  void quit(QmpClient& c) {
    auto r = c.execute("quit");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, json({{"return", json::object()}}));
    auto ev = c.wait_event("SHUTDOWN", kTimeout);
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ((*ev)["data"], json({{"guest", false}, {"reason", "host-qmp-quit"}}));
    auto st = proc_->wait(kTimeout);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(*st, 0) << proc_->stderr_text();
  }

  TempDir dir_;
  std::string sock_;
  std::unique_ptr<Process> proc_;
};

TEST_F(QmpTest, GreetingAndNegotiation) {
  sock_ = dir_.file("qmp.sock");
  proc_ = std::make_unique<Process>(
      std::vector<std::string>{colovm_binary(), "-S", "-nodefaults", "-kernel", test_guest(),
                               "-qmp", "unix:" + sock_ + ",server=on,wait=off"});
  auto c = QmpClient::connect_unix(sock_, kTimeout);
  ASSERT_NE(c, nullptr);
  auto g = c->greeting(kTimeout);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(c->last_line(), R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, )"
                            R"("package": "colovm 0.1.0"}, "capabilities": ["oob"]}})");
  auto r = c->execute("query-status");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)["error"]["class"], "CommandNotFound");
  EXPECT_EQ((*r)["error"]["desc"], "Expecting capabilities negotiation with 'qmp_capabilities'");
  r = c->execute("qmp_capabilities", {{"enable", {"oob"}}});
  EXPECT_EQ(*r, json({{"return", json::object()}}));
  r = c->execute("qmp_capabilities");
  EXPECT_EQ((*r)["error"]["desc"], "Capabilities negotiation is already complete, command ignored");
  quit(*c);
}

TEST_F(QmpTest, EveryCommandAndEvent) {
  auto c = start({}, true, "", "powerbutton");
  ASSERT_NE(c, nullptr);
  auto r = c->execute("query-version");
  EXPECT_EQ((*r)["return"]["qemu"], json({{"major", 7}, {"minor", 2}, {"micro", 0}}));
  EXPECT_EQ((*r)["return"]["package"], "colovm 0.1.0");

  r = c->execute("query-status");
  EXPECT_EQ((*r)["return"],
            json({{"running", false}, {"singlestep", false}, {"status", "prelaunch"}}));
  r = c->execute("query-name");
  EXPECT_EQ((*r)["return"], json({{"name", "qmptest"}}));
  r = c->execute("query-kvm");
  EXPECT_EQ((*r)["return"], json({{"enabled", true}, {"present", true}}));

  r = c->execute("query-cpus-fast");
  ASSERT_EQ((*r)["return"].size(), 1u);
  json cpu = (*r)["return"][0];
  EXPECT_EQ(cpu["cpu-index"], 0);
  EXPECT_EQ(cpu["target"], "x86_64");
  EXPECT_EQ(cpu["qom-path"], "/machine/unattached/device[0]");
  int64_t tid = cpu["thread-id"];
  struct stat sb;
  EXPECT_EQ(
      stat(("/proc/" + std::to_string(proc_->pid()) + "/task/" + std::to_string(tid)).c_str(), &sb),
      0)
      << "thread-id " << tid << " is not a thread of colovm";
  EXPECT_EQ(read_text_file("/proc/" + std::to_string(proc_->pid()) + "/task/" +
                           std::to_string(tid) + "/comm"),
            "vcpu0\n");

  // The QMP I/O thread has its role's name.
  std::set<std::string> threads;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(proc_->pid()) + "/task")) {
    threads.insert(read_text_file(entry.path().string() + "/comm"));
  }
  EXPECT_EQ(threads.count("monitor-io\n"), 1u);
  EXPECT_EQ(threads.count("main\n"), 1u);

  r = c->execute("query-chardev");
  std::set<std::string> labels;
  for (const auto& ch : (*r)["return"]) {
    labels.insert(ch["label"]);
    EXPECT_TRUE(ch["frontend-open"].get<bool>());
    if (ch["label"] == "compat_monitor0") {
      EXPECT_EQ(ch["filename"], "unix:" + sock_ + ",server=on");
    }
  }
  EXPECT_EQ(labels, (std::set<std::string>{"compat_monitor0", "serial0"}));

  r = c->execute("query-yank");
  EXPECT_EQ((*r)["return"], json::parse(R"([{"type": "chardev", "id": "compat_monitor0"}])"));

  r = c->execute("human-monitor-command", {{"command-line", "info status"}});
  EXPECT_EQ((*r)["return"], "VM status: paused (prelaunch)\r\n");

  // -S + cont.
  r = c->execute("cont");
  EXPECT_EQ(*r, json({{"return", json::object()}}));
  ASSERT_TRUE(c->wait_event("RESUME", kTimeout));
  r = c->execute("query-status");
  EXPECT_EQ((*r)["return"]["status"], "running");
  EXPECT_EQ((*r)["return"]["running"], true);

  r = c->execute("stop");
  EXPECT_EQ(*r, json({{"return", json::object()}}));
  auto stop = c->wait_event("STOP", kTimeout);
  ASSERT_TRUE(stop.has_value());
  EXPECT_TRUE((*stop)["timestamp"]["seconds"].is_number_integer());
  EXPECT_TRUE((*stop)["timestamp"]["microseconds"].is_number_integer());
  EXPECT_FALSE(stop->contains("data"));
  r = c->execute("query-status");
  EXPECT_EQ((*r)["return"]["status"], "paused");
  r = c->execute("human-monitor-command", {{"command-line", "info status"}});
  EXPECT_EQ((*r)["return"], "VM status: paused\r\n");

  r = c->execute("system_reset");
  EXPECT_EQ(*r, json({{"return", json::object()}}));
  auto reset = c->wait_event("RESET", kTimeout);
  ASSERT_TRUE(reset.has_value());
  EXPECT_EQ((*reset)["data"], json({{"guest", false}, {"reason", "host-qmp-system-reset"}}));

  size_t log_after_reset = read_text_file(dir_.file("serial.log")).size();
  r = c->execute("cont");
  ASSERT_TRUE(c->wait_event("RESUME", kTimeout));
  // The guest ("powerbutton") waits for the ACPI power button and then powers off. Press it
  // once the rebooted guest says it waits (it clears stale button presses when it starts).
  ASSERT_TRUE(wait_for_file_text(dir_.file("serial.log"), "powerbutton waiting", log_after_reset))
      << read_text_file(dir_.file("serial.log"));
  r = c->execute("system_powerdown");
  EXPECT_EQ(*r, json({{"return", json::object()}}));
  ASSERT_TRUE(c->wait_event("POWERDOWN", kTimeout));
  auto shutdown = c->wait_event("SHUTDOWN", kTimeout);
  ASSERT_TRUE(shutdown.has_value()) << read_text_file(dir_.file("serial.log"));
  EXPECT_EQ((*shutdown)["data"], json({{"guest", true}, {"reason", "guest-shutdown"}}));
  auto st = proc_->wait(kTimeout);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0);
}

TEST_F(QmpTest, SchemaAndCommandListDescribeEverything) {
  auto c = start();
  ASSERT_NE(c, nullptr);
  auto cmds = c->execute("query-commands");
  std::set<std::string> names;
  for (const auto& e : (*cmds)["return"])
    names.insert(e["name"]);
  auto schema = c->execute("query-qmp-schema");
  std::set<std::string> schema_cmds, schema_events;
  std::set<std::string> types;
  for (const auto& e : (*schema)["return"]) {
    types.insert(e["name"]);
    if (e["meta-type"] == "command")
      schema_cmds.insert(e["name"]);
    if (e["meta-type"] == "event")
      schema_events.insert(e["name"]);
  }
  EXPECT_EQ(schema_cmds, names);
  for (const char* want : {"qmp_capabilities", "query-version", "query-status", "query-name",
                           "query-kvm", "stop", "cont", "system_reset", "system_powerdown", "quit",
                           "query-commands", "query-qmp-schema", "query-cpus-fast", "query-chardev",
                           "human-monitor-command", "yank", "query-yank", "debug-sleep"}) {
    EXPECT_EQ(names.count(want), 1u) << want;
  }
  EXPECT_EQ(schema_events,
            (std::set<std::string>{"SHUTDOWN", "POWERDOWN", "RESET", "STOP", "RESUME"}));
  // Every type a command or event refers to is described.
  for (const auto& e : (*schema)["return"]) {
    for (const char* key : {"arg-type", "ret-type"}) {
      if (e.contains(key)) {
        EXPECT_EQ(types.count(e[key]), 1u) << e.dump();
      }
    }
  }
  quit(*c);
}

TEST_F(QmpTest, SeveralMonitorsAtOnce) {
  int port = free_tcp_port();
  std::string sock2 = dir_.file("mon2.sock");
  auto c1 = start({"-chardev", "socket,id=mon1,path=" + sock2 + ",server=on,wait=off", "-mon",
                   "chardev=mon1,mode=control", "-qmp",
                   "tcp:127.0.0.1:" + std::to_string(port) + ",server=on,wait=off"});
  ASSERT_NE(c1, nullptr);
  auto c2 = QmpClient::connect_unix(sock2, kTimeout);
  ASSERT_NE(c2, nullptr);
  ASSERT_TRUE(c2->negotiate(false, kTimeout));
  auto c3 = QmpClient::connect_tcp(port, kTimeout);
  ASSERT_NE(c3, nullptr);
  ASSERT_TRUE(c3->negotiate(true, kTimeout));
  auto r = c3->execute("query-chardev");
  std::set<std::string> labels;
  for (const auto& ch : (*r)["return"])
    labels.insert(ch["label"]);
  EXPECT_EQ(labels,
            (std::set<std::string>{"compat_monitor0", "compat_monitor1", "mon1", "serial0"}));
  // A command on one monitor: every negotiated session sees the event.
  r = c2->execute("cont");
  EXPECT_TRUE(r->contains("return"));
  for (QmpClient* c : {c1.get(), c2.get(), c3.get()}) {
    EXPECT_TRUE(c->wait_event("RESUME", kTimeout));
  }
  // A client that has not negotiated gets no events; leaving does not disturb the others.
  c2.reset();
  auto c2b = QmpClient::connect_unix(sock2, kTimeout);
  ASSERT_NE(c2b, nullptr);
  ASSERT_TRUE(c2b->greeting(kTimeout).has_value());
  r = c1->execute("stop");
  for (QmpClient* c : {c1.get(), c3.get()})
    EXPECT_TRUE(c->wait_event("STOP", kTimeout));
  EXPECT_FALSE(c2b->read_message(200ms).has_value());
  ASSERT_TRUE(c2b->negotiate(false, kTimeout));
  r = c2b->execute("query-status");
  EXPECT_EQ((*r)["return"]["status"], "paused");
  // Without the "oob" capability, exec-oob is not part of the protocol.
  ASSERT_TRUE(c2b->send(json{{"exec-oob", "query-yank"}}));
  r = c2b->read_reply(kTimeout);
  EXPECT_EQ((*r)["error"]["desc"], "QMP input member 'exec-oob' is unexpected");
  quit(*c1);
}

// An out-of-band command is answered while the main loop is blocked in another client's
// in-band command. The order is proven by the messages themselves: B's in-band query-status,
// sent before its exec-oob, is answered only after A's debug-sleep, while the exec-oob reply
// comes first.
TEST_F(QmpTest, OutOfBandWhileInBandBlocks) {
  std::string sock2 = dir_.file("b.sock");
  auto a = start({"-qmp", "unix:" + sock2 + ",server=on,wait=off"});
  ASSERT_NE(a, nullptr);
  auto b = QmpClient::connect_unix(sock2, kTimeout);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->negotiate(true, kTimeout));
  auto r = a->execute("cont");
  ASSERT_TRUE(b->wait_event("RESUME", kTimeout));
  // A: stop, then debug-sleep, in one write. B sees STOP once the main loop ran A's stop; the
  // only thing queued after it is A's debug-sleep.
  ASSERT_TRUE(a->send_raw(R"({"execute": "stop", "id": "a-stop"})"
                          R"({"execute": "debug-sleep", "arguments": {"milliseconds": 8000},)"
                          R"( "id": "a-sleep"})"));
  ASSERT_TRUE(b->wait_event("STOP", kTimeout));
  ASSERT_TRUE(b->send_raw(R"({"execute": "query-status", "id": "b-inband"})"
                          R"({"exec-oob": "query-yank", "id": "b-oob"})"));
  auto first = b->read_reply(kTimeout);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)["id"], "b-oob") << first->dump();
  EXPECT_TRUE((*first)["return"].is_array());
  // A has had only its stop answered: the sleep is still running.
  auto a_stop = a->read_reply(kTimeout);
  ASSERT_TRUE(a_stop.has_value());
  EXPECT_EQ((*a_stop)["id"], "a-stop");
  auto a_sleep = a->read_reply(kTimeout);
  ASSERT_TRUE(a_sleep.has_value());
  EXPECT_EQ((*a_sleep)["id"], "a-sleep");
  auto second = b->read_reply(kTimeout);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ((*second)["id"], "b-inband");
  EXPECT_EQ((*second)["return"]["status"], "paused");
  // exec-oob of a command without allow-oob, and exec-oob without the capability.
  r = b->execute("query-status");
  ASSERT_TRUE(b->send(json{{"exec-oob", "query-status"}, {"id", 5}}));
  r = b->read_reply(kTimeout);
  EXPECT_EQ((*r)["error"]["desc"], "The command query-status does not support OOB");
  quit(*a);
}

TEST_F(QmpTest, HostileInput) {
  auto c = start();
  ASSERT_NE(c, nullptr);
  auto desc = [&](const std::string& raw) {
    EXPECT_TRUE(c->send_raw(raw));
    auto r = c->read_reply(kTimeout);
    if (!r)
      return std::string("<no reply>");
    if (!r->contains("error"))
      return r->dump();
    return (*r)["error"]["desc"].get<std::string>();
  };
  EXPECT_EQ(desc("{\"execute\"}\n").rfind("JSON parse error, ", 0), 0u);
  EXPECT_EQ(desc("[1]\n"), "QMP input must be a JSON object");
  EXPECT_EQ(desc("{\"execute\": \"nope\"}"), "The command nope has not been found");
  EXPECT_EQ(desc(R"({"execute": "human-monitor-command"})"), "Parameter 'command-line' is missing");
  EXPECT_EQ(desc(R"({"execute": "query-status", "arguments": {"verbose": true}})"),
            "Parameter 'verbose' is unexpected");
  EXPECT_EQ(desc(R"({"execute": "debug-sleep", "arguments": {"milliseconds": "x"}})"),
            "Parameter 'milliseconds' expects uint64");  // QEMU's text for unsigned types
  EXPECT_EQ(desc(std::string(1025, '[') + std::string(1025, ']')),
            "JSON nesting depth limit exceeded");
  // 11 MiB in one string: one error, the session goes on.
  EXPECT_EQ(desc("{\"execute\": \"" + std::string(11 << 20, 'x') + "\"}"),
            "JSON token size limit exceeded");
  auto r = c->execute("query-status", nullptr, kTimeout);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)["return"]["status"], "prelaunch");
  // 200 pipelined requests: all answered, in order (the queue limit throttles reading).
  std::string many;
  for (int i = 0; i < 200; i++) {
    many += json({{"execute", "query-status"}, {"id", i}}).dump();
  }
  ASSERT_TRUE(c->send_raw(many));
  for (int i = 0; i < 200; i++) {
    r = c->read_reply(kTimeout);
    ASSERT_TRUE(r.has_value()) << i;
    ASSERT_EQ((*r)["id"], i);
  }
  // A client that leaves in the middle of a message: the next one starts afresh.
  ASSERT_TRUE(c->send_raw(R"({"execute": "query-sta)"));
  c.reset();
  c = QmpClient::connect_unix(sock_, kTimeout);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->negotiate(false, kTimeout)) << c->last_line();
  r = c->execute("query-status");
  EXPECT_EQ((*r)["return"]["status"], "prelaunch");
  // Garbage bytes, then 0xFF to resynchronise.
  ASSERT_TRUE(c->send_raw(std::string("{\"a\": \x01\x02 [[[ \xff", 15)));
  r = c->execute("query-name");
  ASSERT_TRUE(r.has_value());
  if (r->contains("error"))
    r = c->read_reply(kTimeout);  // the error of the garbage, if any
  EXPECT_EQ((*r)["return"]["name"], "qmptest") << r->dump();
  // yank drops the monitor's own connection; a new client is served.
  ASSERT_TRUE(c->send(
      json{{"execute", "yank"},
           {"arguments", {{"instances", {{{"type", "chardev"}, {"id", "compat_monitor0"}}}}}}}));
  EXPECT_TRUE(c->wait_closed(kTimeout));
  c = QmpClient::connect_unix(sock_, kTimeout);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->negotiate(false, kTimeout));
  quit(*c);
}

// The arguments of a VM with a virtio-blk disk (drive d0, device disk0) on a raw image and a
// virtio-net NIC (nic0) on a listening -netdev stream (no root, nobody connects).
std::vector<std::string> device_args(const std::string& image, const std::string& net_sock) {
  return {"-drive",  "file=" + image + ",format=raw,if=none,id=d0",
          "-device", "virtio-blk-pci,drive=d0,id=disk0",
          "-netdev", "stream,id=n0,server=on,addr.type=unix,addr.path=" + net_sock,
          "-device", "virtio-net-pci,netdev=n0,id=nic0,mac=52:54:00:12:34:99"};
}

const json* find_by(const json& list, const char* key, const std::string& value) {
  for (const auto& e : list) {
    if (e.contains(key) && e[key] == value)
      return &e;
  }
  return nullptr;
}

// query-pci, query-block, query-blockstats, query-rx-filter and their HMP commands on a VM
// with a disk and a NIC; the block counters follow the guest's blk= jobs.
TEST_F(QmpTest, DeviceQueries) {
  std::string image = dir_.file("disk.raw");
  write_file(image, std::string(1 << 20, '\0'));
  auto c = start(device_args(image, dir_.file("net.sock")), true, "",
                 "blk=write:0:8:1 blk=read:0:8:1 blk=flush print=done");
  ASSERT_NE(c, nullptr);

  // query-pci: the host bridge and both virtio devices (vendor 0x1af4), with their BARs.
  auto r = c->execute("query-pci");
  ASSERT_TRUE(r->contains("return")) << r->dump();
  ASSERT_EQ((*r)["return"].size(), 1u) << r->dump();
  const json& bus = (*r)["return"][0];
  EXPECT_EQ(bus["bus"], 0);
  int virtio = 0;
  for (const auto& dev : bus["devices"]) {
    if (dev["slot"] == 0) {
      EXPECT_EQ(dev["id"]["vendor"], 0x8086) << dev.dump();
      EXPECT_EQ(dev["class_info"], json({{"desc", "Host bridge"}, {"class", 0x0600}}));
      continue;
    }
    EXPECT_EQ(dev["id"]["vendor"], 0x1af4) << dev.dump();
    EXPECT_EQ(dev["id"]["subsystem-vendor"], 0x1af4) << dev.dump();
    EXPECT_TRUE(dev["qdev_id"] == "disk0" || dev["qdev_id"] == "nic0") << dev.dump();
    EXPECT_EQ(dev["irq_pin"], 1) << dev.dump();
    EXPECT_FALSE(dev["regions"].empty()) << dev.dump();
    for (const auto& bar : dev["regions"]) {
      EXPECT_GT(bar["size"].get<int64_t>(), 0) << dev.dump();
      if (bar["type"] == "memory") {
        EXPECT_TRUE(bar.contains("prefetch") && bar.contains("mem_type_64")) << dev.dump();
      } else {
        EXPECT_EQ(bar["type"], "io") << dev.dump();
      }
    }
    virtio++;
  }
  EXPECT_EQ(virtio, 2) << r->dump();

  // query-block: the drive, its device, file and format.
  r = c->execute("query-block");
  ASSERT_TRUE(r->contains("return")) << r->dump();
  const json* d0 = find_by((*r)["return"], "device", "d0");
  ASSERT_NE(d0, nullptr) << r->dump();
  EXPECT_EQ((*d0)["qdev"], "disk0");
  EXPECT_EQ((*d0)["removable"], false);
  EXPECT_EQ((*d0)["locked"], false);
  const json& ins = (*d0)["inserted"];
  EXPECT_EQ(ins["file"], image);
  EXPECT_EQ(ins["drv"], "raw");
  EXPECT_EQ(ins["ro"], false);
  EXPECT_EQ(ins["detect_zeroes"], "off");
  EXPECT_EQ(ins["bps"], 0);
  EXPECT_EQ(ins["backing_file_depth"], 0);
  EXPECT_EQ(ins["image"]["filename"], image);
  EXPECT_EQ(ins["image"]["format"], "raw");
  EXPECT_EQ(ins["image"]["virtual-size"], 1 << 20);

  // query-blockstats: nothing yet, then what the guest's jobs did.
  auto stats = [&] {
    auto s = c->execute("query-blockstats");
    EXPECT_TRUE(s->contains("return")) << s->dump();
    const json* e = find_by((*s)["return"], "device", "d0");
    EXPECT_NE(e, nullptr) << s->dump();
    if (e != nullptr) {
      EXPECT_EQ((*e)["qdev"], "disk0");
    }
    return e != nullptr ? (*e)["stats"] : json::object();
  };
  json before = stats();
  EXPECT_EQ(before["wr_bytes"], 0) << before.dump();
  EXPECT_EQ(before["wr_operations"], 0) << before.dump();
  EXPECT_EQ(before["account_failed"], true);
  r = c->execute("cont");
  EXPECT_EQ(*r, json({{"return", json::object()}}));
  ASSERT_TRUE(wait_for_file_text(dir_.file("serial.log"), "testguest: print done", 0))
      << read_text_file(dir_.file("serial.log"));
  json after = stats();
  EXPECT_GE(after["wr_bytes"].get<int64_t>(), before["wr_bytes"].get<int64_t>() + 8 * 512)
      << after.dump();
  EXPECT_GE(after["rd_bytes"].get<int64_t>(), before["rd_bytes"].get<int64_t>() + 8 * 512)
      << after.dump();
  EXPECT_GT(after["wr_operations"].get<int64_t>(), before["wr_operations"].get<int64_t>());
  EXPECT_GT(after["rd_operations"].get<int64_t>(), before["rd_operations"].get<int64_t>());
  EXPECT_GT(after["flush_operations"].get<int64_t>(), before["flush_operations"].get<int64_t>());
  EXPECT_GE(after["wr_highest_offset"].get<int64_t>(), 8 * 512);
  EXPECT_EQ(after["failed_wr_operations"], 0);
  r = c->execute("query-blockstats", {{"query-nodes", true}});
  ASSERT_TRUE(r->contains("return")) << r->dump();
  EXPECT_FALSE((*r)["return"].empty());
  for (const auto& e : (*r)["return"])
    EXPECT_FALSE(e.contains("device")) << e.dump();

  // query-rx-filter: every NIC, one by name, and QEMU's errors.
  r = c->execute("query-rx-filter");
  ASSERT_TRUE(r->contains("return")) << r->dump();
  ASSERT_EQ((*r)["return"].size(), 1u) << r->dump();
  const json& f = (*r)["return"][0];
  EXPECT_EQ(f["name"], "nic0");
  EXPECT_EQ(f["main-mac"], "52:54:00:12:34:99");
  for (const char* k : {"multicast", "unicast", "vlan"})
    EXPECT_TRUE(f[k] == "normal" || f[k] == "none" || f[k] == "all") << f.dump();
  EXPECT_TRUE(f["vlan-table"].is_array() && f["unicast-table"].is_array() &&
              f["multicast-table"].is_array())
      << f.dump();
  r = c->execute("query-rx-filter", {{"name", "nic0"}});
  EXPECT_EQ((*r)["return"].size(), 1u) << r->dump();
  r = c->execute("query-rx-filter", {{"name", "n0"}});
  EXPECT_EQ((*r)["error"]["desc"], "net client(n0) isn't a NIC") << r->dump();
  r = c->execute("query-rx-filter", {{"name", "nope"}});
  EXPECT_EQ((*r)["error"]["desc"], "invalid net client name: nope") << r->dump();

  // HMP.
  auto hmp = [&](const std::string& line) {
    auto h = c->execute("human-monitor-command", {{"command-line", line}});
    EXPECT_TRUE(h->contains("return")) << h->dump();
    return h->value("return", std::string());
  };
  std::string pci = hmp("info pci");
  EXPECT_NE(pci.find("  Bus  0, device   0, function 0:\r\n    Host bridge: PCI device 8086:1237"),
            std::string::npos)
      << pci;
  EXPECT_NE(pci.find("PCI device 1af4:"), std::string::npos) << pci;
  EXPECT_NE(pci.find("      id \"disk0\"\r\n"), std::string::npos) << pci;
  EXPECT_NE(pci.find("      id \"nic0\"\r\n"), std::string::npos) << pci;
  std::string blk = hmp("info block");
  EXPECT_NE(blk.find("d0 (#block"), std::string::npos) << blk;
  EXPECT_NE(blk.find(": " + image +
                     " (raw)\r\n    Attached to:      disk0\r\n"
                     "    Cache mode:       writeback\r\n"),
            std::string::npos)
      << blk;
  EXPECT_EQ(hmp("info block nope"), "");
  std::string net = hmp("info network");
  EXPECT_NE(net.find("nic0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:12:34:99"),
            std::string::npos)
      << net;
  EXPECT_NE(net.find(" \\ n0: "), std::string::npos) << net;
  quit(*c);
}

// query-block, query-pci and query-rx-filter on the same devices under qemu-system-x86_64 7.2
// and colovm: the same members and JSON types. The machines differ (QEMU's has a PIIX3 and
// transitional virtio devices), so query-pci is compared device by device.
TEST_F(QmpTest, DeviceQueriesHaveQemuShape) {
  if (!have_program("qemu-system-x86_64")) {
    GTEST_SKIP() << "*** SKIPPED: qemu-system-x86_64 is not installed ***";
  }
  std::string image = dir_.file("disk.raw");
  write_file(image, std::string(1 << 20, '\0'));
  std::map<std::string, std::map<std::string, json>> replies;
  for (const std::string binary : {"qemu-system-x86_64", ""}) {
    auto c = start(device_args(image, dir_.file(binary.empty() ? "net.sock" : "qemu-net.sock")),
                   true, binary);
    ASSERT_NE(c, nullptr) << binary;
    for (const char* cmd : {"query-block", "query-pci", "query-rx-filter"}) {
      auto r = c->execute(cmd);
      ASSERT_TRUE(r.has_value() && r->contains("return")) << binary << " " << cmd;
      replies[binary][cmd] = (*r)["return"];
    }
    c->execute("quit");
    proc_->wait(kTimeout);
  }
  auto& qemu = replies["qemu-system-x86_64"];
  auto& colo = replies[""];
  EXPECT_EQ(json_shape_diff(qemu["query-block"], colo["query-block"]), "")
      << "qemu:   " << qemu["query-block"].dump() << "\ncolovm: " << colo["query-block"].dump();
  // The NIC's VLAN table differs in contents (QEMU's lists every VLAN): compare the rest.
  for (auto* list : {&qemu["query-rx-filter"], &colo["query-rx-filter"]}) {
    for (auto& f : *list)
      f.erase("vlan-table");
  }
  EXPECT_EQ(json_shape_diff(qemu["query-rx-filter"], colo["query-rx-filter"]), "");
  // query-pci: the host bridge, and each virtio device without its BARs, then one memory BAR.
  auto device = [](const json& pci, const std::string& qdev_id, int slot) {
    for (const auto& d : pci[0]["devices"]) {
      if (slot >= 0 ? d["slot"] == slot : d["qdev_id"] == qdev_id)
        return d;
    }
    return json();
  };
  EXPECT_EQ(json_shape_diff(device(qemu["query-pci"], "", 0), device(colo["query-pci"], "", 0)),
            "");
  for (const char* id : {"disk0", "nic0"}) {
    json a = device(qemu["query-pci"], id, -1), b = device(colo["query-pci"], id, -1);
    ASSERT_TRUE(a.is_object() && b.is_object()) << id;
    auto memory_bar = [](const json& d) {
      for (const auto& r : d["regions"]) {
        if (r["type"] == "memory")
          return r;
      }
      return json();
    };
    EXPECT_EQ(json_shape_diff(memory_bar(a), memory_bar(b)), "") << id;
    a.erase("regions");
    b.erase("regions");
    EXPECT_EQ(json_shape_diff(a, b), "")
        << id << "\nqemu:   " << a.dump() << "\ncolovm: " << b.dump();
  }
}

// Runs the same commands on qemu-system-x86_64 7.2 and on colovm; the replies and events must
// have the same members and JSON types (values differ).
TEST_F(QmpTest, RepliesHaveQemuShape) {
  if (!have_program("qemu-system-x86_64")) {
    GTEST_SKIP() << "*** SKIPPED: qemu-system-x86_64 is not installed ***";
  }
  struct Run {
    json greeting;
    std::vector<std::pair<std::string, json>> replies;
    std::map<std::string, json> events;
  };
  const std::vector<std::pair<std::string, json>> script = {
      {"query-version", nullptr},
      {"query-status", nullptr},
      {"query-name", nullptr},
      {"query-kvm", nullptr},
      {"query-cpus-fast", nullptr},
      {"query-chardev", nullptr},
      {"query-yank", nullptr},
      {"cont", nullptr},
      {"query-status", nullptr},
      {"stop", nullptr},
      {"system_reset", nullptr},
      {"system_powerdown", nullptr},
      {"human-monitor-command", {{"command-line", "info status"}}},
      {"no-such-command", nullptr},
      {"query-status", {{"bogus", 1}}},
  };
  auto run = [&](const std::string& binary) {
    Run out;
    auto c = start({}, true, binary);
    EXPECT_NE(c, nullptr);
    if (c == nullptr)
      return out;
    out.greeting = *c->greeting(kTimeout);
    for (const auto& [cmd, args] : script) {
      auto r = c->execute(cmd, args, kTimeout);
      EXPECT_TRUE(r.has_value()) << binary << " " << cmd;
      out.replies.emplace_back(cmd, r.value_or(json()));
    }
    for (const char* ev : {"RESUME", "STOP", "RESET", "POWERDOWN"}) {
      auto e = c->wait_event(ev, kTimeout);
      EXPECT_TRUE(e.has_value()) << binary << " " << ev;
      out.events[ev] = e.value_or(json());
    }
    auto r = c->execute("quit");
    auto e = c->wait_event("SHUTDOWN", kTimeout);
    EXPECT_TRUE(e.has_value()) << binary;
    out.events["SHUTDOWN"] = e.value_or(json());
    proc_->wait(kTimeout);
    return out;
  };
  Run qemu = run("qemu-system-x86_64");
  Run colo = run("");
  EXPECT_EQ(json_shape_diff(qemu.greeting, colo.greeting), "");
  ASSERT_EQ(qemu.replies.size(), colo.replies.size());
  for (size_t i = 0; i < qemu.replies.size(); i++) {
    EXPECT_EQ(json_shape_diff(qemu.replies[i].second, colo.replies[i].second), "")
        << qemu.replies[i].first << "\nqemu:   " << qemu.replies[i].second.dump()
        << "\ncolovm: " << colo.replies[i].second.dump();
    if (qemu.replies[i].second.contains("error")) {
      EXPECT_EQ(qemu.replies[i].second["error"], colo.replies[i].second["error"]);
    }
  }
  for (const auto& [name, ev] : qemu.events) {
    json a = ev, b = colo.events[name];
    EXPECT_EQ(json_shape_diff(a, b), "")
        << name << "\nqemu:   " << a.dump() << "\ncolovm: " << b.dump();
    if (a.contains("data")) {
      EXPECT_EQ(a["data"], b["data"]) << name;
    }
  }
}

}  // namespace
}  // namespace colo::test
