// SPDX-License-Identifier: GPL-2.0-or-later
//
// The QMP input path without a VM: the JSON streamer (framing, limits, errors), QEMU-style
// output, and the dispatcher (negotiation, OOB, ids, errors, run states, introspection).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "colovm-config.h"
#include "monitor/monitor.h"
#include "qapi/qapi-introspect.h"
#include "util/json-streamer.h"
#include "util/main-loop.h"

namespace colo {
namespace {

using nlohmann::json;

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Feeds `input` in chunks of `chunk` bytes; returns each text, or "ERR: message".
std::vector<std::string> stream(std::string_view input, size_t chunk = 1 << 20,
                                JsonStreamer* streamer = nullptr) {
  JsonStreamer local;
  JsonStreamer& s = streamer != nullptr ? *streamer : local;
  std::vector<std::string> out;
  for (size_t i = 0; i < input.size(); i += chunk) {
    std::string_view part = input.substr(i, chunk);
    size_t used = s.feed(bytes(part), [&](Result<json> v) {
      out.push_back(v.ok() ? v->dump() : "ERR: " + v.error().message());
      return true;
    });
    EXPECT_EQ(used, part.size());
  }
  return out;
}

using Texts = std::vector<std::string>;

TEST(JsonStreamerTest, SplitsTexts) {
  EXPECT_EQ(stream(R"({"a": 1}{"b": [1, {"c": "}"}]}  [2])"),
            (Texts{R"({"a":1})", R"({"b":[1,{"c":"}"}]})", "[2]"}));
  EXPECT_EQ(stream("  \r\n\t"), Texts{});
  EXPECT_EQ(stream("1 true \"s\" null\n"), (Texts{"1", "true", "\"s\"", "null"}));
}

TEST(JsonStreamerTest, ByteByByteEqualsWhole) {
  std::string input = R"({"execute": "x", "arguments": {"s": "a\"b\\", "l": [[], {}]}} [1])";
  EXPECT_EQ(stream(input, 1), stream(input));
  EXPECT_EQ(stream(input, 1).size(), 2u);
}

TEST(JsonStreamerTest, SingleQuotes) {
  EXPECT_EQ(stream(R"({'execute': 'query-status'})"), Texts{R"({"execute":"query-status"})"});
  EXPECT_EQ(stream(R"({'s': 'it\'s "q"'})"), Texts{R"({"s":"it's \"q\""})"});
  EXPECT_EQ(stream(R"('top')"), Texts{R"("top")"});
}

TEST(JsonStreamerTest, SyntaxErrorsThenContinues) {
  Texts t = stream(R"({"execute"} {"ok": 1})");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].rfind("ERR: JSON parse error, ", 0), 0u) << t[0];
  EXPECT_EQ(t[1], R"({"ok":1})");
  EXPECT_EQ(stream("}"), Texts{"ERR: JSON parse error, expecting value"});
  Texts bad = stream("nul {\"a\":1}");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].rfind("ERR: JSON parse error", 0), 0u);
  // Invalid UTF-8 and control characters inside strings are errors, not crashes.
  EXPECT_EQ(stream("{\"a\": \"\xff\xfe\"}")[0].rfind("ERR: JSON parse error", 0), 0u);
  EXPECT_EQ(stream("{\"a\": \"\x01\"}")[0].rfind("ERR: JSON parse error", 0), 0u);
}

TEST(JsonStreamerTest, ResyncByte) {
  // 0xFF drops the partial text (QEMU clients send it after a desynchronisation).
  EXPECT_EQ(stream("{\"a\": [1, \xff {\"b\": 2}"), Texts{R"({"b":2})"});
}

TEST(JsonStreamerTest, NestingLimit) {
  std::string deep(JsonStreamer::kMaxDepth, '[');
  deep += std::string(JsonStreamer::kMaxDepth, ']');
  EXPECT_EQ(stream(deep).size(), 1u);
  EXPECT_EQ(stream(deep)[0].substr(0, 4), "[[[[");
  std::string too_deep(JsonStreamer::kMaxDepth + 1, '[');
  too_deep += std::string(JsonStreamer::kMaxDepth + 1, ']');
  // One error for the whole text, and what follows still works.
  EXPECT_EQ(stream(too_deep + "{\"x\": 1}"),
            (Texts{"ERR: JSON nesting depth limit exceeded", R"({"x":1})"}));
  // An endless opening does not grow memory or emit more errors.
  EXPECT_EQ(stream(std::string(100000, '['), 4096),
            Texts{"ERR: JSON nesting depth limit exceeded"});
}

TEST(JsonStreamerTest, SizeLimit) {
  JsonStreamer s(64);
  std::string big = "{\"s\": \"" + std::string(100, 'x') + "\", \"t\": \"}]\"}";
  EXPECT_EQ(stream(big + "[1]", 7, &s), (Texts{"ERR: JSON token size limit exceeded", "[1]"}));
  JsonStreamer s2(64);
  EXPECT_EQ(stream(std::string(100, '7') + " [2]", 1 << 20, &s2),
            (Texts{"ERR: JSON token size limit exceeded", "[2]"}));
  JsonStreamer s3(64);
  EXPECT_EQ(stream("\"" + std::string(100, 'q') + "\" [3]", 1 << 20, &s3),
            (Texts{"ERR: JSON token size limit exceeded", "[3]"}));
}

TEST(JsonStreamerTest, HandlerStopsFeeding) {
  JsonStreamer s;
  std::string input = "[1][2][3]";
  std::vector<std::string> got;
  size_t used = s.feed(bytes(input), [&](Result<json> v) {
    got.push_back(v->dump());
    return false;
  });
  EXPECT_EQ(used, 3u);
  used += s.feed(bytes(input).subspan(used), [&](Result<json> v) {
    got.push_back(v->dump());
    return true;
  });
  EXPECT_EQ(used, input.size());
  EXPECT_EQ(got, (Texts{"[1]", "[2]", "[3]"}));
}

TEST(JsonTextTest, QemuFormatting) {
  EXPECT_EQ(json_to_qemu_text(json::parse(R"({"b": [1, true, null, {}], "a": "x"})")),
            R"({"a": "x", "b": [1, true, null, {}]})");
  EXPECT_EQ(json_quote("a\"b\\c\r\n\t\x01"), R"("a\"b\\c\r\n\t\u0001")");
  EXPECT_EQ(json_quote("\xc3\xa9\xf0\x9f\x98\x80"), R"("\u00E9\uD83D\uDE00")");
  EXPECT_EQ(json_quote("\xff"), R"("\uFFFD")");
}

TEST(QmpTextTest, GreetingAndEvents) {
  EXPECT_EQ(qmp_greeting_text(true),
            R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, )"
            R"("package": "colovm )" COLOVM_VERSION R"("}, "capabilities": ["oob"]}})");
  EXPECT_NE(qmp_greeting_text(false).find(R"("capabilities": []})"), std::string::npos);
  std::string ev = qmp_event_text("STOP", nullptr);
  json j = json::parse(ev);
  EXPECT_EQ(j["event"], "STOP");
  EXPECT_FALSE(j.contains("data"));
  EXPECT_TRUE(j["timestamp"]["seconds"].is_number_integer());
  EXPECT_TRUE(j["timestamp"]["microseconds"].is_number_integer());
  j = json::parse(qmp_event_text("RESET", {{"guest", false}, {"reason", "host-qmp-system-reset"}}));
  EXPECT_EQ(j["data"]["reason"], "host-qmp-system-reset");
}

class DispatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { main_loop_init(); }

  // Runs one request text through the dispatcher; returns the response text.
  std::string run(const std::string& request, bool oob_call_allowed = true) {
    Result<json> req = json_parse_text(request);
    EXPECT_TRUE(req.ok()) << request;
    QmpContext ctx(&session_, qmp_request_is_oob(*req));
    QmpDispatchOptions opts;
    opts.negotiating = !session_.negotiated.load();
    opts.oob_enabled = session_.oob_enabled.load();
    opts.run_state = run_state_;
    if (find_ != nullptr)
      opts.find = find_;
    QmpResponse rsp = qmp_dispatch(*req, ctx, opts);
    return qmp_response_text(rsp);
  }

  void negotiate(bool oob) {
    session_.oob_offered = true;
    ASSERT_EQ(run(oob ? R"({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}})"
                      : R"({"execute": "qmp_capabilities"})"),
              R"({"return": {}})");
  }

  QmpSession session_;
  std::optional<qapi::RunState> run_state_;
  const QmpCommandDef* (*find_)(std::string_view) = nullptr;
};

TEST_F(DispatchTest, NegotiationFirst) {
  EXPECT_EQ(run(R"({"execute": "query-version", "id": 1})"),
            R"({"error": {"class": "CommandNotFound", "desc": "Expecting capabilities )"
            R"(negotiation with 'qmp_capabilities'"}, "id": 1})");
  EXPECT_EQ(run(R"({"execute": "nonexistent"})"),
            R"({"error": {"class": "CommandNotFound", "desc": "Expecting capabilities )"
            R"(negotiation with 'qmp_capabilities'"}})");
  // exec-oob is unknown until "oob" is enabled.
  EXPECT_EQ(run(R"({"exec-oob": "query-yank"})"),
            R"({"error": {"class": "GenericError", "desc": "QMP input member 'exec-oob' is )"
            R"(unexpected"}})");
  session_.oob_offered = false;
  EXPECT_EQ(run(R"({"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}})"),
            R"({"error": {"class": "GenericError", "desc": "Capability oob not available"}})");
  EXPECT_EQ(run(R"({"execute": "qmp_capabilities", "arguments": {"enable": ["x"]}})"),
            R"({"error": {"class": "GenericError", "desc": "Parameter 'enable[0]' does not )"
            R"(accept value 'x'"}})");
  EXPECT_FALSE(session_.negotiated);
  negotiate(false);
  EXPECT_TRUE(session_.negotiated);
  EXPECT_FALSE(session_.oob_enabled);
  EXPECT_EQ(run(R"({"execute": "qmp_capabilities"})"),
            R"({"error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is )"
            R"(already complete, command ignored"}})");
}

TEST_F(DispatchTest, RequestShapeErrors) {
  negotiate(true);
  auto desc = [&](const std::string& req) {
    json j = json::parse(run(req));
    return j["error"]["desc"].get<std::string>();
  };
  EXPECT_EQ(desc("[1]"), "QMP input must be a JSON object");
  EXPECT_EQ(desc("\"query-status\""), "QMP input must be a JSON object");
  EXPECT_EQ(desc(R"({"execute": 1})"), "QMP input member 'execute' must be a string");
  EXPECT_EQ(desc(R"({"foo": 1})"), "QMP input member 'foo' is unexpected");
  EXPECT_EQ(desc(R"({"id": 1})"), "QMP input lacks member 'execute'");
  EXPECT_EQ(desc(R"({"execute": "query-version", "arguments": 1})"),
            "QMP input member 'arguments' must be an object");
  EXPECT_EQ(desc(R"({"execute": "query-version", "exec-oob": "query-yank"})"),
            "QMP input member 'execute' clashes with 'exec-oob'");
  EXPECT_EQ(desc(R"({"execute": "query-version", "arguments": {"x": 1}})"),
            "Parameter 'x' is unexpected");
  EXPECT_EQ(desc(R"({"execute": "human-monitor-command", "arguments": {}})"),
            "Parameter 'command-line' is missing");
  EXPECT_EQ(desc(R"({"execute": "human-monitor-command", "arguments": {"command-line": 1}})"),
            "Invalid parameter type for 'command-line', expected: string");
  EXPECT_EQ(run(R"({"execute": "no-such-command", "id": "x"})"),
            R"({"error": {"class": "CommandNotFound", "desc": "The command no-such-command )"
            R"(has not been found"}, "id": "x"})");
}

TEST_F(DispatchTest, IdIsEchoedAsIs) {
  negotiate(false);
  EXPECT_EQ(run(R"({"execute": "query-version", "id": {"a": [1, "two", null]}})"),
            R"({"return": {"package": "colovm )" COLOVM_VERSION
            R"(", "qemu": {"major": 7, "micro": 0, "minor": 2}}, "id": {"a": [1, "two", null]}})");
}

TEST_F(DispatchTest, OutOfBand) {
  negotiate(true);
  EXPECT_EQ(run(R"({"exec-oob": "query-status", "id": 2})"),
            R"({"error": {"class": "GenericError", "desc": "The command query-status does not )"
            R"(support OOB"}, "id": 2})");
  EXPECT_EQ(run(R"({"exec-oob": "query-yank", "id": 3})"), R"({"return": [], "id": 3})");
  EXPECT_EQ(run(R"({"exec-oob": "yank", "arguments": {"instances": []}})"), R"({"return": {}})");
  EXPECT_EQ(run(R"({"exec-oob": "yank", "arguments": {"instances": [{"type": "chardev", )"
                R"("id": "nope"}]}})"),
            R"({"error": {"class": "DeviceNotFound", "desc": "Instance not found"}})");
  // The table says which commands may run out of band.
  std::set<std::string> oob;
  for (const QmpCommandDef& def : qmp_command_table()) {
    if (def.allow_oob)
      oob.insert(std::string(def.name));
  }
  EXPECT_EQ(oob, (std::set<std::string>{"query-yank", "yank"}));
}

TEST_F(DispatchTest, NoMachine) {
  negotiate(false);
  EXPECT_EQ(run(R"({"execute": "stop"})"),
            R"({"error": {"class": "GenericError", "desc": "the machine is not created yet"}})");
  EXPECT_EQ(run(R"({"execute": "query-kvm"})"),
            R"({"return": {"enabled": false, "present": true}})");
  EXPECT_EQ(run(R"({"execute": "debug-sleep", "arguments": {"milliseconds": 60001}})"),
            R"({"error": {"class": "GenericError", "desc": "Parameter 'milliseconds' expects )"
            R"(a value of at most 60000"}})");
  EXPECT_EQ(run(R"({"execute": "debug-sleep", "arguments": {"milliseconds": 1}})"),
            R"({"return": {}})");
}

const QmpCommandDef* find_restricted(std::string_view name) {
  // query-version, restricted to "running" (as a schema 'run-states' would).
  static const QmpCommandDef kDef = [] {
    QmpCommandDef d = *qmp_find_command("query-version");
    d.run_state_mask = run_state_mask(qapi::RunState::kRunning);
    return d;
  }();
  return name == "query-version" ? &kDef : qmp_find_command(name);
}

TEST_F(DispatchTest, RunStatesAreEnforced) {
  negotiate(false);
  find_ = find_restricted;
  run_state_ = qapi::RunState::kPaused;
  EXPECT_EQ(run(R"({"execute": "query-version"})"),
            R"({"error": {"class": "GenericError", "desc": "The command query-version is not )"
            R"(available in state 'paused'"}})");
  run_state_ = qapi::RunState::kRunning;
  EXPECT_EQ(json::parse(run(R"({"execute": "query-version"})")).contains("return"), true);
}

TEST_F(DispatchTest, CommandsAndSchemaDescribeEverything) {
  negotiate(false);
  json cmds = json::parse(run(R"({"execute": "query-commands"})"))["return"];
  std::set<std::string> names;
  for (const auto& c : cmds)
    names.insert(c["name"].get<std::string>());
  std::set<std::string> table;
  for (const QmpCommandDef& def : qmp_command_table())
    table.insert(std::string(def.name));
  EXPECT_EQ(names, table);
  for (const char* want : {"qmp_capabilities",
                           "query-version",
                           "query-status",
                           "query-name",
                           "query-kvm",
                           "stop",
                           "cont",
                           "system_reset",
                           "system_powerdown",
                           "quit",
                           "query-commands",
                           "query-qmp-schema",
                           "query-cpus-fast",
                           "query-chardev",
                           "human-monitor-command",
                           "yank",
                           "query-yank",
                           "debug-sleep",
                           "query-qtree-lite",
                           "query-pci",
                           "query-block",
                           "query-blockstats",
                           "query-rx-filter"}) {
    EXPECT_EQ(names.count(want), 1u) << want;
  }
  json schema = json::parse(run(R"({"execute": "query-qmp-schema"})"))["return"];
  std::set<std::string> schema_cmds, schema_events;
  for (const auto& e : schema) {
    if (e["meta-type"] == "command")
      schema_cmds.insert(e["name"].get<std::string>());
    if (e["meta-type"] == "event")
      schema_events.insert(e["name"].get<std::string>());
    if (e["name"] == "debug-sleep") {
      EXPECT_EQ(e["features"], json::array({"unstable"}));
    }
    if (e["name"] == "yank" || e["name"] == "query-yank") {
      EXPECT_EQ(e["allow-oob"], true);
    }
  }
  EXPECT_EQ(schema_cmds, table);
  EXPECT_EQ(schema_events,
            (std::set<std::string>{"SHUTDOWN", "POWERDOWN", "RESET", "STOP", "RESUME"}));
}

TEST_F(DispatchTest, HumanMonitorCommandWithoutMachine) {
  negotiate(false);
  json help = json::parse(
      run(R"({"execute": "human-monitor-command", "arguments": {"command-line": "help"}})"));
  std::string text = help["return"];
  EXPECT_NE(text.find("c|cont  -- resume emulation\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("info [subcommand] -- "), std::string::npos);
  json st = json::parse(
      run(R"({"execute": "human-monitor-command", "arguments": {"command-line": "info status"}})"));
  EXPECT_EQ(st["return"], "Error: the machine is not created yet\r\n");
  json bad = json::parse(
      run(R"({"execute": "human-monitor-command", "arguments": {"command-line": "bogus 1"}})"));
  EXPECT_EQ(bad["return"], "unknown command: 'bogus'\r\n");
  json extra = json::parse(
      run(R"({"execute": "human-monitor-command", "arguments": {"command-line": "stop now"}})"));
  EXPECT_EQ(extra["return"], "stop: extraneous characters at the end of line\r\n");
}

}  // namespace
}  // namespace colo
