// SPDX-License-Identifier: GPL-2.0-or-later
//
// Tests of the C++ generated from the QAPI schema: the test schema
// (tests/qapi-schema/qapi-schema-test.json, generated into namespace colo::test with
// CONFIG_TEST_ENABLED defined and CONFIG_TEST_DISABLED not) and the real schema (qapi/*.json,
// linked into libcolovm-core). Covers JSON round trips, every type-check error text, command
// dispatch through the table, run-state masks, events through the sink, and introspection.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "monitor/monitor.h"
#include "qapi/qapi-events.h"
#include "qapi/qapi-introspect.h"
#include "qapi/qapi-runtime.h"
#include "qapi/qapi-types.h"
#include "tests/qapi-schema/test-qapi-commands.h"
#include "tests/qapi-schema/test-qapi-events.h"
#include "tests/qapi-schema/test-qapi-introspect.h"
#include "tests/qapi-schema/test-qapi-types.h"

using nlohmann::json;

namespace colo {

// What the handlers saw. (QmpContext is the monitor's, monitor/monitor.h; the handlers here
// record into this log instead.)
struct HandlerLog {
  std::vector<std::string> calls;
  json last_args;
  bool fail = false;
};
HandlerLog g_log;
HandlerLog& rec(QmpContext&) {
  return g_log;
}

namespace test {

// Handlers of the test schema's commands ----------------------------------------------------

Status qmp_test_no_args(QmpContext& ctx) {
  rec(ctx).calls.push_back("test-no-args");
  if (rec(ctx).fail)
    return make_error("test-no-args failed on purpose");
  return ok_status();
}

Result<qapi::UserDefOne> qmp_test_args(int64_t a, const std::optional<std::string>& b,
                                       qapi::EnumOne c,
                                       const std::optional<std::vector<qapi::UserDefOne>>& d,
                                       bool e, std::optional<uint64_t> g, QmpContext& ctx) {
  rec(ctx).calls.push_back("test-args");
  rec(ctx).last_args = {{"a", a},
                        {"b", b ? json(*b) : json()},
                        {"c", to_string(c)},
                        {"d", d ? json(d->size()) : json()},
                        {"e", e},
                        {"g", g ? json(*g) : json()}};
  qapi::UserDefOne ret;
  ret.integer = a;
  ret.string = b.value_or("none");
  ret.enum1 = c;
  ret.nested.integer = e ? 1 : 0;
  return ret;
}

Result<std::vector<qapi::UserDefZero>> qmp_test_named_args(
    int64_t integer, const std::string& string, std::optional<qapi::EnumOne> enum1,
    const std::optional<std::vector<std::string>>& list, const qapi::UserDefZero& nested,
    QmpContext& ctx) {
  rec(ctx).calls.push_back("test-named-args");
  rec(ctx).last_args = {{"integer", integer},
                        {"string", string},
                        {"enum1", enum1 ? json(to_string(*enum1)) : json()},
                        {"list", list ? json(*list) : json()}};
  return std::vector<qapi::UserDefZero>{nested, nested};
}

Result<qapi::UnionAnon> qmp_test_boxed(const qapi::UnionAnon& arg, QmpContext& ctx) {
  rec(ctx).calls.push_back("test-boxed");
  return arg;
}

Result<qapi::AllTypes> qmp_test_all_types(const qapi::AllTypes& arg, QmpContext& ctx) {
  rec(ctx).calls.push_back("test-all-types");
  return arg;
}

Status qmp_test_oob(QmpContext& ctx) {
  rec(ctx).calls.push_back("test-oob");
  return ok_status();
}

Status qmp_legacy_cmd(QmpContext& ctx) {
  rec(ctx).calls.push_back("legacy_cmd");
  return ok_status();
}

Status qmp_test_unstable(QmpContext& ctx) {
  rec(ctx).calls.push_back("test-unstable");
  return ok_status();
}

Result<qapi::UserDefConditional> qmp_test_cond_complex(QmpContext& ctx) {
  rec(ctx).calls.push_back("test-cond-complex");
  qapi::UserDefConditional ret;
  ret.always = 1;
  ret.enabled = "yes";
  ret.old = 2;
  return ret;
}

Result<json> qmp_marshal_test_gen_false(const json& args, QmpContext& ctx) {
  rec(ctx).calls.push_back("test-gen-false");
  return json{{"hand-written", true}, {"args", args}};
}

Status qmp_test_no_response(QmpContext& ctx) {
  rec(ctx).calls.push_back("test-no-response");
  return ok_status();
}

Status qmp_test_prelaunch(QmpContext& ctx) {
  rec(ctx).calls.push_back("test-prelaunch");
  return ok_status();
}

Result<std::string> qmp_return_str(const std::optional<qapi::Keywords>& keywords, QmpContext& ctx) {
  rec(ctx).calls.push_back("return-str");
  if (!keywords)
    return std::string("no keywords");
  return keywords->class_ + ":" + std::to_string(keywords->default_);
}

Result<json> qmp_return_any(const std::optional<qapi::TreeNode>& tree,
                            const std::optional<qapi::Expr>& expr,
                            const std::optional<qapi::AltMost>& alt, QmpContext& ctx) {
  rec(ctx).calls.push_back("return-any");
  json ret = json::object();
  if (tree)
    ret["tree"] = colo::qapi::to_json(*tree);
  if (expr)
    ret["expr"] = colo::qapi::to_json(*expr);
  if (alt)
    ret["alt-kind"] = static_cast<int>(alt->kind());
  return ret;
}

Result<qapi::TreeNode> qmp_test_tree(const std::string& name,
                                     const std::optional<std::vector<qapi::TreeNode>>& children,
                                     const std::optional<qapi::NodeRef>& link, QmpContext& ctx) {
  rec(ctx).calls.push_back("test-tree");
  qapi::TreeNode ret;
  ret.name = name + "!";
  ret.children = children;
  ret.link = link;  // std::optional<NodeRef> into std::optional<Box<NodeRef>>
  return ret;
}

namespace {

namespace q = ::colo::qapi;  // the runtime: Codec, to_json, from_json, Box

// Decodes `j` as T and returns the error text ("" on success).
template <typename T>
std::string decode_error(const json& j, std::string_view root = {}) {
  Result<T> r = q::from_json<T>(j, root);
  return r.ok() ? std::string() : r.error().message();
}

template <typename T>
T decode_ok(const json& j) {
  Result<T> r = q::from_json<T>(j);
  EXPECT_TRUE(r.ok()) << r.error().message() << " decoding " << j.dump();
  return r.ok() ? std::move(r).value() : T{};
}

// Decodes, re-encodes, and checks that nothing changed.
template <typename T>
void expect_round_trip(const json& j) {
  T value = decode_ok<T>(j);
  EXPECT_EQ(q::to_json(value), j);
  EXPECT_EQ(decode_ok<T>(q::to_json(value)), value);
}

json parse(const char* text) {
  return json::parse(text, nullptr, false);
}

// Enums --------------------------------------------------------------------------------------

TEST(QapiTypesTest, EnumStrings) {
  EXPECT_EQ(to_string(qapi::EnumOne::kValueOne), "value-one");
  EXPECT_EQ(to_string(qapi::EnumOne::kValueFour), "value-four");
  EXPECT_EQ(to_string(qapi::EnumOne::k1024), "1024");
  EXPECT_EQ(qapi::enum_one_from_string("value-two"), qapi::EnumOne::kValueTwo);
  EXPECT_EQ(qapi::enum_one_from_string("value-three"), std::nullopt);  // 'if' is false
  EXPECT_EQ(qapi::enum_one_from_string("Value-Two"), std::nullopt);
  EXPECT_EQ(to_string(static_cast<qapi::EnumOne>(99)), "");
  EXPECT_EQ(to_string(qapi::LegacyEnum::kX86_64), "x86_64");
  EXPECT_EQ(to_string(qapi::LegacyEnum::kUpper), "Upper");
  EXPECT_EQ(q::EnumTraits<qapi::EnumOne>::kTypeName, "EnumOne");
  EXPECT_EQ(q::EnumTraits<qapi::EnumOne>::kNames.size(), 4u);
  EXPECT_EQ(q::enum_from_string<qapi::RunState>("paused"), qapi::RunState::kPaused);
}

TEST(QapiTypesTest, EnumJson) {
  EXPECT_EQ(q::to_json(qapi::EnumOne::k1024), json("1024"));
  EXPECT_EQ(decode_ok<qapi::EnumOne>("value-four"), qapi::EnumOne::kValueFour);
  EXPECT_EQ(decode_error<qapi::EnumOne>("value-three", "e"),
            "Parameter 'e' does not accept value 'value-three'");
  EXPECT_EQ(decode_error<qapi::EnumOne>(1, "e"),
            "Invalid parameter type for 'e', expected: string");
}

// Structs and builtins ----------------------------------------------------------------------

json all_types_json() {
  return parse(R"({"i8": -128, "i16": 32767, "i32": -2147483648, "i64": -5,
                   "u8": 255, "u16": 65535, "u32": 4294967295,
                   "u64": 18446744073709551615, "sz": 4096, "i": 7, "num": 2.5,
                   "b": true, "s": "text", "a": {"x": [1, null]}, "nul": null})");
}

TEST(QapiTypesTest, AllTypesRoundTrip) {
  json j = all_types_json();
  qapi::AllTypes v = decode_ok<qapi::AllTypes>(j);
  EXPECT_EQ(v.i8, -128);
  EXPECT_EQ(v.i16, 32767);
  EXPECT_EQ(v.i32, std::numeric_limits<int32_t>::min());
  EXPECT_EQ(v.u8, 255);
  EXPECT_EQ(v.u32, 4294967295u);
  EXPECT_EQ(v.u64, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(v.sz, 4096u);
  EXPECT_DOUBLE_EQ(v.num, 2.5);
  EXPECT_TRUE(v.b);
  EXPECT_EQ(v.s, "text");
  EXPECT_EQ(v.a, parse(R"({"x": [1, null]})"));
  EXPECT_EQ(v.nul, nullptr);
  EXPECT_FALSE(v.opt_any.has_value());
  expect_round_trip<qapi::AllTypes>(j);

  j["opt-any"] = "anything";
  expect_round_trip<qapi::AllTypes>(j);
  j["opt-any"] = nullptr;  // 'any' accepts null too
  EXPECT_EQ(decode_ok<qapi::AllTypes>(j).opt_any, json());
}

struct IntCase {
  const char* member;
  json value;
  const char* error;  // "" if accepted
};

TEST(QapiTypesTest, IntegerRangesAndTypes) {
  const IntCase cases[] = {
      {"i8", 127, ""},
      {"i8", -128, ""},
      {"i8", 128, "Parameter 'i8' expects int8_t"},
      {"i8", -129, "Parameter 'i8' expects int8_t"},
      {"i8", "1", "Invalid parameter type for 'i8', expected: integer"},
      {"i8", 1.0, "Invalid parameter type for 'i8', expected: integer"},
      {"i16", 32768, "Parameter 'i16' expects int16_t"},
      {"i16", -32769, "Parameter 'i16' expects int16_t"},
      {"i32", 2147483648LL, "Parameter 'i32' expects int32_t"},
      {"i32", -2147483649LL, "Parameter 'i32' expects int32_t"},
      {"i64", std::numeric_limits<int64_t>::max(), ""},
      {"i64", std::numeric_limits<int64_t>::min(), ""},
      {"i64", uint64_t{1} << 63, "Invalid parameter type for 'i64', expected: integer"},
      {"i64", true, "Invalid parameter type for 'i64', expected: integer"},
      {"i", 1.5, "Invalid parameter type for 'i', expected: integer"},
      {"i", nullptr, "Invalid parameter type for 'i', expected: integer"},
      {"u8", 0, ""},
      {"u8", 256, "Parameter 'u8' expects uint8_t"},
      {"u8", -1, "Parameter 'u8' expects uint8_t"},
      {"u8", "x", "Parameter 'u8' expects uint64"},
      {"u16", 65536, "Parameter 'u16' expects uint16_t"},
      {"u32", 4294967296LL, "Parameter 'u32' expects uint32_t"},
      {"u64", -1, ""},  // QEMU accepts negative values for uint64 and wraps them
      {"u64", 1.0, "Parameter 'u64' expects uint64"},
      {"u64", json::array(), "Parameter 'u64' expects uint64"},
      {"sz", -2, ""},
      {"sz", "4k", "Parameter 'sz' expects uint64"},
      {"num", 3, ""},
      {"num", uint64_t{1} << 63, ""},
      {"num", "1.5", "Invalid parameter type for 'num', expected: number"},
      {"b", "true", "Invalid parameter type for 'b', expected: boolean"},
      {"b", 1, "Invalid parameter type for 'b', expected: boolean"},
      {"s", 1, "Invalid parameter type for 's', expected: string"},
      {"s", nullptr, "Invalid parameter type for 's', expected: string"},
      {"nul", 0, "Invalid parameter type for 'nul', expected: null"},
      {"nul", json::object(), "Invalid parameter type for 'nul', expected: null"},
      {"a", json::array({1, "x"}), ""},
  };
  for (const IntCase& c : cases) {
    json j = all_types_json();
    j[c.member] = c.value;
    EXPECT_EQ(decode_error<qapi::AllTypes>(j), c.error) << c.member << " = " << c.value.dump();
  }
  json j = all_types_json();
  j["u64"] = -1;
  EXPECT_EQ(decode_ok<qapi::AllTypes>(j).u64, std::numeric_limits<uint64_t>::max());
  j["num"] = 3;
  EXPECT_DOUBLE_EQ(decode_ok<qapi::AllTypes>(j).num, 3.0);
}

TEST(QapiTypesTest, MissingUnexpectedAndNotAnObject) {
  json j = all_types_json();
  j.erase("b");
  EXPECT_EQ(decode_error<qapi::AllTypes>(j), "Parameter 'b' is missing");
  EXPECT_EQ(decode_error<qapi::AllTypes>(j, "arg"), "Parameter 'arg.b' is missing");
  j = all_types_json();
  j["extra"] = 1;
  EXPECT_EQ(decode_error<qapi::AllTypes>(j), "Parameter 'extra' is unexpected");
  EXPECT_EQ(decode_error<qapi::AllTypes>(json::array()),
            "Invalid parameter type for '<anonymous>', expected: object");
  EXPECT_EQ(decode_error<qapi::AllTypes>(json(), "arg"),
            "Invalid parameter type for 'arg', expected: object");
  // Known members are checked before unexpected ones.
  j = all_types_json();
  j["extra"] = 1;
  j["i8"] = 1000;
  EXPECT_EQ(decode_error<qapi::AllTypes>(j), "Parameter 'i8' expects int8_t");
}

TEST(QapiTypesTest, BaseNestedAndListPaths) {
  json j = parse(R"({"integer": 1, "string": "s", "enum1": "value-two",
                     "list": ["a", "b"], "nested": {"integer": 2}})");
  qapi::UserDefOne v = decode_ok<qapi::UserDefOne>(j);
  EXPECT_EQ(v.integer, 1);  // inherited from UserDefZero
  EXPECT_EQ(v.string, "s");
  EXPECT_EQ(v.enum1, qapi::EnumOne::kValueTwo);
  EXPECT_EQ(v.list, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v.nested.integer, 2);
  expect_round_trip<qapi::UserDefOne>(j);

  auto with = [&](const char* key, json value) {
    json copy = j;
    copy[key] = std::move(value);
    return copy;
  };
  EXPECT_EQ(decode_error<qapi::UserDefOne>(with("nested", parse(R"({"integer": "x"})"))),
            "Invalid parameter type for 'nested.integer', expected: integer");
  EXPECT_EQ(decode_error<qapi::UserDefOne>(with("nested", parse(R"({"integer": 1, "y": 2})"))),
            "Parameter 'nested.y' is unexpected");
  EXPECT_EQ(decode_error<qapi::UserDefOne>(with("nested", json::object())),
            "Parameter 'nested.integer' is missing");
  EXPECT_EQ(decode_error<qapi::UserDefOne>(with("list", parse(R"(["a", 1])"))),
            "Invalid parameter type for 'list[1]', expected: string");
  EXPECT_EQ(decode_error<qapi::UserDefOne>(with("list", "a")),
            "Invalid parameter type for 'list', expected: array");
  EXPECT_EQ(decode_error<qapi::UserDefOne>(with("enum1", "value-three")),
            "Parameter 'enum1' does not accept value 'value-three'");
  json no_base = j;
  no_base.erase("integer");
  EXPECT_EQ(decode_error<qapi::UserDefOne>(no_base), "Parameter 'integer' is missing");

  // Lists of structs: "[i].member".
  EXPECT_EQ(decode_error<std::vector<qapi::UserDefZero>>(parse(R"([{"integer": 1}, {}])"), "l"),
            "Parameter 'l[1].integer' is missing");
  // Optional members are omitted when absent.
  json minimal = parse(R"({"integer": 1, "string": "s", "nested": {"integer": 2}})");
  expect_round_trip<qapi::UserDefOne>(minimal);
}

TEST(QapiTypesTest, KeywordMembers) {
  json j = parse(R"({"default": 3, "class": "c", "std": true, "errno": 5})");
  qapi::Keywords v = decode_ok<qapi::Keywords>(j);
  EXPECT_EQ(v.default_, 3);
  EXPECT_EQ(v.class_, "c");
  EXPECT_EQ(v.std, true);  // a member may be called std: `std::` still names the namespace
  EXPECT_EQ(v.errno_, 5);
  expect_round_trip<qapi::Keywords>(j);
}

template <typename T>
concept HasDisabledMember = requires(T t) {
  t.disabled;
};
template <typename T>
concept HasEnabledMember = requires(T t) {
  t.enabled;
};

TEST(QapiTypesTest, ConditionalMembers) {
  static_assert(HasEnabledMember<qapi::UserDefConditional>);
  static_assert(!HasDisabledMember<qapi::UserDefConditional>);
  json j = parse(R"({"always": 1, "enabled": "e", "old": 2})");
  expect_round_trip<qapi::UserDefConditional>(j);
  j["disabled"] = "d";
  EXPECT_EQ(decode_error<qapi::UserDefConditional>(j), "Parameter 'disabled' is unexpected");
  EXPECT_EQ(decode_error<qapi::UserDefConditional>(parse(R"({"always": 1})")),
            "Parameter 'enabled' is missing");
  expect_round_trip<qapi::EmptyStruct>(json::object());
  EXPECT_EQ(decode_error<qapi::EmptyStruct>(parse(R"({"x": 1})")), "Parameter 'x' is unexpected");
}

// Unions ---------------------------------------------------------------------------------------

TEST(QapiTypesTest, UnionWithAnonymousBase) {
  qapi::UnionAnon one;
  one.kind = qapi::UnionKind::kOne;
  one.common = "c";
  one.u.one.one_data = 5;
  json j = q::to_json(one);
  EXPECT_EQ(j, parse(R"({"kind": "one", "common": "c", "one-data": 5})"));
  EXPECT_EQ(decode_ok<qapi::UnionAnon>(j), one);

  expect_round_trip<qapi::UnionAnon>(parse(R"({"kind": "two", "integer": 1, "two-data": "x"})"));
  expect_round_trip<qapi::UnionAnon>(parse(R"({"kind": "three"})"));
  expect_round_trip<qapi::UnionAnon>(parse(R"({"kind": "four", "one-data": 4})"));

  EXPECT_EQ(decode_error<qapi::UnionAnon>(parse(R"({"kind": "three", "one-data": 1})")),
            "Parameter 'one-data' is unexpected");
  EXPECT_EQ(decode_error<qapi::UnionAnon>(parse(R"({"kind": "one"})")),
            "Parameter 'one-data' is missing");
  EXPECT_EQ(decode_error<qapi::UnionAnon>(parse(R"({"one-data": 1})")),
            "Parameter 'kind' is missing");
  EXPECT_EQ(decode_error<qapi::UnionAnon>(parse(R"({"kind": "five"})")),
            "Parameter 'kind' does not accept value 'five'");
  EXPECT_EQ(decode_error<qapi::UnionAnon>(parse(R"({"kind": "two", "integer": 1})")),
            "Parameter 'two-data' is missing");

  // Only the selected branch counts.
  qapi::UnionAnon other = one;
  other.u.two.two_data = "ignored";
  EXPECT_EQ(other, one);
  EXPECT_EQ(q::to_json(other), j);
  other.u.one.one_data = 6;
  EXPECT_NE(other, one);
}

TEST(QapiTypesTest, UnionWithNamedBase) {
  json j = parse(R"({"id": 9, "kind": "two", "integer": 1, "two-data": "x"})");
  qapi::UnionNamed v = decode_ok<qapi::UnionNamed>(j);
  EXPECT_EQ(v.id, 9);  // inherited from UnionBase
  EXPECT_EQ(v.kind, qapi::UnionKind::kTwo);
  EXPECT_EQ(v.u.two.integer, 1);
  EXPECT_EQ(v.u.two.two_data, "x");
  expect_round_trip<qapi::UnionNamed>(j);
  expect_round_trip<qapi::UnionNamed>(parse(R"({"id": 1, "kind": "one"})"));
  EXPECT_EQ(decode_error<qapi::UnionNamed>(parse(R"({"id": 1, "kind": "one", "two-data": "x"})")),
            "Parameter 'two-data' is unexpected");
}

// Alternates -----------------------------------------------------------------------------------

TEST(QapiTypesTest, Alternates) {
  qapi::AltStrInt s = decode_ok<qapi::AltStrInt>("x");
  EXPECT_EQ(s.kind(), qapi::AltStrInt::Kind::kS);
  EXPECT_EQ(std::get<std::string>(s.value), "x");
  qapi::AltStrInt i = decode_ok<qapi::AltStrInt>(5);
  EXPECT_EQ(i.kind(), qapi::AltStrInt::Kind::kI);
  EXPECT_EQ(q::to_json(i), json(5));
  EXPECT_EQ(decode_error<qapi::AltStrInt>(true, "alt"),
            "Invalid parameter type for 'alt', expected: AltStrInt");
  EXPECT_EQ(decode_error<qapi::AltStrInt>(1.5, "alt"),
            "Invalid parameter type for 'alt', expected: integer");

  EXPECT_EQ(decode_ok<qapi::AltMost>(true).kind(), qapi::AltMost::Kind::kB);
  EXPECT_EQ(decode_ok<qapi::AltMost>(nullptr).kind(), qapi::AltMost::Kind::kN);
  EXPECT_EQ(decode_ok<qapi::AltMost>(parse(R"({"integer": 1})")).kind(), qapi::AltMost::Kind::kO);
  EXPECT_EQ(decode_ok<qapi::AltMost>("value-one").kind(), qapi::AltMost::Kind::kE);
  EXPECT_EQ(decode_ok<qapi::AltMost>(2.5).kind(), qapi::AltMost::Kind::kNum);
  EXPECT_EQ(decode_ok<qapi::AltMost>(3).kind(), qapi::AltMost::Kind::kNum);
  EXPECT_EQ(decode_error<qapi::AltMost>("nope", "alt"),
            "Parameter 'alt' does not accept value 'nope'");
  EXPECT_EQ(decode_error<qapi::AltMost>(parse(R"({"integer": 1, "x": 0})"), "alt"),
            "Parameter 'alt.x' is unexpected");
  EXPECT_EQ(decode_error<qapi::AltMost>(json::array(), "alt"),
            "Invalid parameter type for 'alt', expected: AltMost");
  for (const char* text : {"true", "null", R"({"integer": 1})", R"("1024")", "2.5"}) {
    expect_round_trip<qapi::AltMost>(parse(text));
  }

  // The branch 'u' (uint8, CONFIG_TEST_DISABLED) does not exist.
  EXPECT_EQ(decode_ok<qapi::AltCond>("s").kind(), qapi::AltCond::Kind::kS);
  EXPECT_EQ(decode_ok<qapi::AltCond>(parse(R"({"integer": 1})")).kind(), qapi::AltCond::Kind::kO);
  EXPECT_EQ(decode_error<qapi::AltCond>(7, "c"),
            "Invalid parameter type for 'c', expected: AltCond");

  // The default is the first branch.
  EXPECT_EQ(qapi::AltStrInt().kind(), qapi::AltStrInt::Kind::kS);
}

// Recursive types --------------------------------------------------------------------------------

TEST(QapiTypesTest, RecursiveTypesUseBoxes) {
  json tree = parse(R"({"name": "root",
                        "children": [{"name": "a"},
                                     {"name": "b", "link": "a"}],
                        "link": {"name": "inline", "link": {"name": "deeper"}}})");
  qapi::TreeNode t = decode_ok<qapi::TreeNode>(tree);
  ASSERT_TRUE(t.children.has_value());
  EXPECT_EQ((*t.children)[1].link->get().kind(), qapi::NodeRef::Kind::kName);
  const qapi::NodeRef& link = t.link->get();
  ASSERT_EQ(link.kind(), qapi::NodeRef::Kind::kNode);
  const qapi::TreeNode& inline_node = std::get<q::Box<qapi::TreeNode>>(link.value).get();
  EXPECT_EQ(inline_node.name, "inline");
  EXPECT_EQ(std::get<q::Box<qapi::TreeNode>>(inline_node.link->get().value)->name, "deeper");
  expect_round_trip<qapi::TreeNode>(tree);

  json expr = parse(R"({"op": "neg", "arg": {"op": "neg", "arg": {"op": "lit", "value": 3}}})");
  qapi::Expr e = decode_ok<qapi::Expr>(expr);
  EXPECT_EQ(e.u.neg->arg->u.neg->arg->u.lit.value, 3);
  expect_round_trip<qapi::Expr>(expr);
  EXPECT_EQ(decode_error<qapi::Expr>(parse(R"({"op": "neg", "arg": {"op": "lit"}})")),
            "Parameter 'arg.value' is missing");

  // Copies are deep; empty boxes read as defaults.
  qapi::Expr copy = e;
  copy.u.neg->arg->u.neg->arg->u.lit.value = 4;
  EXPECT_EQ(e.u.neg->arg->u.neg->arg->u.lit.value, 3);
  EXPECT_NE(copy, e);
  const qapi::Expr empty;
  EXPECT_EQ(empty.u.neg->arg->op, qapi::ExprOp::kLit);
  qapi::Expr built;
  built.op = qapi::ExprOp::kNeg;
  built.u.neg->arg->u.lit.value = 8;
  EXPECT_EQ(q::to_json(built), parse(R"({"op": "neg", "arg": {"op": "lit", "value": 8}})"));
}

// Commands ---------------------------------------------------------------------------------------

Result<json> call(QmpContext& ctx, std::string_view name, const json& args = json()) {
  const QmpCommandDef* def = qmp_find_command(name);
  if (def == nullptr)
    return make_error("no command %.*s", int(name.size()), name.data());
  return def->marshal(args, ctx);
}

std::string call_error(std::string_view name, const json& args) {
  QmpContext ctx;
  g_log = HandlerLog();
  Result<json> r = call(ctx, name, args);
  return r.ok() ? std::string() : r.error().message();
}

TEST(QapiCommandsTest, TableListsTheCommandsSorted) {
  std::vector<std::string> names;
  for (const QmpCommandDef& def : qmp_command_table())
    names.emplace_back(def.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "legacy_cmd", "return-any", "return-str", "test-all-types", "test-args",
                       "test-boxed", "test-cond-complex", "test-gen-false", "test-named-args",
                       "test-no-args", "test-no-response", "test-oob", "test-prelaunch",
                       "test-tree", "test-unstable"}));
  EXPECT_EQ(qmp_find_command("test-cond-disabled"), nullptr);
  EXPECT_EQ(qmp_find_command("nope"), nullptr);
  EXPECT_EQ(qmp_find_command("legacy_cmd")->name, "legacy_cmd");
}

TEST(QapiCommandsTest, Flags) {
  const QmpCommandDef* no_args = qmp_find_command("test-no-args");
  EXPECT_TRUE(no_args->allow_preconfig);
  EXPECT_FALSE(no_args->allow_oob);
  EXPECT_TRUE(no_args->success_response);
  EXPECT_EQ(no_args->features, 0u);
  EXPECT_TRUE(qmp_find_command("test-oob")->allow_oob);
  EXPECT_FALSE(qmp_find_command("test-oob")->allow_preconfig);
  EXPECT_TRUE(qmp_find_command("legacy_cmd")->deprecated());
  EXPECT_FALSE(qmp_find_command("legacy_cmd")->unstable());
  EXPECT_EQ(qmp_find_command("legacy_cmd")->features, kQapiFeatureDeprecated);
  EXPECT_TRUE(qmp_find_command("test-unstable")->unstable());
  EXPECT_EQ(qmp_find_command("test-unstable")->features, kQapiFeatureUnstable);
  EXPECT_FALSE(qmp_find_command("test-no-response")->success_response);
  EXPECT_EQ(qmp_find_command("test-gen-false")->marshal, &qmp_marshal_test_gen_false);
}

TEST(QapiCommandsTest, RunStateMasks) {
  using qapi::RunState;
  const QmpCommandDef* no_args = qmp_find_command("test-no-args");
  EXPECT_EQ(no_args->run_state_mask, (uint64_t{1} << 1) | (uint64_t{1} << 2));
  EXPECT_TRUE(no_args->allowed_in(RunState::kRunning));
  EXPECT_TRUE(no_args->allowed_in(RunState::kPaused));
  EXPECT_FALSE(no_args->allowed_in(RunState::kPrelaunch));
  EXPECT_FALSE(no_args->allowed_in(RunState::kShutdown));
  const QmpCommandDef* prelaunch = qmp_find_command("test-prelaunch");
  EXPECT_EQ(prelaunch->run_state_mask, run_state_mask(RunState::kPrelaunch));
  EXPECT_TRUE(prelaunch->allowed_in(RunState::kPrelaunch));
  EXPECT_FALSE(prelaunch->allowed_in(RunState::kRunning));
  const QmpCommandDef* any = qmp_find_command("test-oob");
  EXPECT_EQ(any->run_state_mask, kAnyRunState);
  for (RunState s :
       {RunState::kPrelaunch, RunState::kRunning, RunState::kPaused, RunState::kShutdown}) {
    EXPECT_TRUE(any->allowed_in(s));
  }
}

TEST(QapiCommandsTest, NoArguments) {
  QmpContext ctx;
  g_log = HandlerLog();
  Result<json> r = call(ctx, "test-no-args");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, json::object());
  EXPECT_TRUE(call(ctx, "test-no-args", json::object()).ok());
  EXPECT_EQ(g_log.calls, (std::vector<std::string>{"test-no-args", "test-no-args"}));
  EXPECT_EQ(call_error("test-no-args", parse(R"({"x": 1})")), "Parameter 'x' is unexpected");
  EXPECT_EQ(call_error("test-no-args", json::array()),
            "QMP input member 'arguments' must be an object");
  EXPECT_EQ(call_error("test-no-args", "x"), "QMP input member 'arguments' must be an object");
  // A handler's error is the command's error.
  g_log.fail = true;
  Result<json> failed = call(ctx, "test-no-args");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message(), "test-no-args failed on purpose");
}

TEST(QapiCommandsTest, Arguments) {
  QmpContext ctx;
  g_log = HandlerLog();
  Result<json> r = call(ctx, "test-args", parse(R"({"a": 1, "c": "value-two", "e": true})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(g_log.last_args, parse(R"({"a": 1, "b": null, "c": "value-two", "d": null,
                                     "e": true, "g": null})"));
  EXPECT_EQ(*r, parse(R"({"integer": 1, "string": "none", "enum1": "value-two",
                          "nested": {"integer": 1}})"));

  r = call(ctx, "test-args", parse(R"({"a": -1, "b": "bee", "c": "1024", "e": false, "g": 4096,
                     "d": [{"integer": 1, "string": "s", "nested": {"integer": 2}}]})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(g_log.last_args, parse(R"({"a": -1, "b": "bee", "c": "1024", "d": 1, "e": false,
                                     "g": 4096})"));

  EXPECT_EQ(call_error("test-args", parse(R"({"c": "value-one", "e": true})")),
            "Parameter 'a' is missing");
  EXPECT_EQ(call_error("test-args", json()), "Parameter 'a' is missing");
  EXPECT_EQ(call_error("test-args", parse(R"({"a": 1, "c": "value-one"})")),
            "Parameter 'e' is missing");
  EXPECT_EQ(call_error("test-args", parse(R"({"a": 1, "c": "value-one", "e": true, "f": "x"})")),
            "Parameter 'f' is unexpected");
  EXPECT_EQ(call_error("test-args", parse(R"({"a": "1", "c": "value-one", "e": true})")),
            "Invalid parameter type for 'a', expected: integer");
  EXPECT_EQ(call_error("test-args", parse(R"({"a": 1, "c": "value-9", "e": true})")),
            "Parameter 'c' does not accept value 'value-9'");
  EXPECT_EQ(call_error("test-args", parse(R"({"a": 1, "c": "value-one", "e": true,
                                              "g": "big"})")),
            "Parameter 'g' expects uint64");
  EXPECT_EQ(call_error("test-args", parse(R"({"a": 1, "c": "value-one", "e": true,
                                 "d": [{"integer": 1, "string": "s",
                                        "nested": {"integer": "x"}}]})")),
            "Invalid parameter type for 'd[0].nested.integer', expected: integer");
  EXPECT_EQ(call_error("test-args", parse(R"([1])")),
            "QMP input member 'arguments' must be an object");
}

TEST(QapiCommandsTest, NamedArgumentsAreUnpacked) {
  QmpContext ctx;
  g_log = HandlerLog();
  Result<json> r =
      call(ctx, "test-named-args", parse(R"({"integer": 1, "string": "s", "list": ["x"],
                                  "nested": {"integer": 2}})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(g_log.last_args, parse(R"({"integer": 1, "string": "s", "enum1": null,
                                     "list": ["x"]})"));
  EXPECT_EQ(*r, parse(R"([{"integer": 2}, {"integer": 2}])"));
  EXPECT_EQ(call_error("test-named-args", parse(R"({"integer": 1, "string": "s"})")),
            "Parameter 'nested' is missing");
  EXPECT_EQ(call_error("test-named-args", parse(R"({"integer": 1, "string": "s", "zz": 0,
                                                    "nested": {"integer": 2}})")),
            "Parameter 'zz' is unexpected");
}

TEST(QapiCommandsTest, BoxedArguments) {
  QmpContext ctx;
  g_log = HandlerLog();
  json args = parse(R"({"kind": "two", "common": "c", "integer": 3, "two-data": "t"})");
  Result<json> r = call(ctx, "test-boxed", args);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, args);
  EXPECT_EQ(call_error("test-boxed", parse(R"({"kind": "three", "integer": 3})")),
            "Parameter 'integer' is unexpected");
  r = call(ctx, "test-all-types", all_types_json());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, all_types_json());
}

TEST(QapiCommandsTest, OtherReturnTypes) {
  QmpContext ctx;
  g_log = HandlerLog();
  Result<json> r = call(ctx, "return-str", parse(R"({"keywords": {"default": 7, "class": "k"}})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, json("k:7"));
  r = call(ctx, "return-str");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, json("no keywords"));

  json args = parse(R"({"tree": {"name": "t", "link": {"name": "u"}},
                        "expr": {"op": "lit", "value": 1}, "alt": false})");
  r = call(ctx, "return-any", args);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, parse(R"({"tree": {"name": "t", "link": {"name": "u"}},
                          "expr": {"op": "lit", "value": 1}, "alt-kind": 0})"));
  EXPECT_EQ(call_error("return-any", parse(R"({"tree": {"name": "t", "link": 5}})")),
            "Invalid parameter type for 'tree.link', expected: NodeRef");

  r = call(ctx, "test-cond-complex");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, parse(R"({"always": 1, "enabled": "yes", "old": 2})"));

  // A recursive struct unpacked into arguments: the boxed member is passed unboxed.
  r = call(ctx, "test-tree", parse(R"({"name": "n", "link": {"name": "m"}})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, parse(R"({"name": "n!", "link": {"name": "m"}})"));

  r = call(ctx, "test-gen-false", parse(R"({"raw": [1]})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, parse(R"({"hand-written": true, "args": {"raw": [1]}})"));
}

// Events -----------------------------------------------------------------------------------------

class EventCapture {
 public:
  EventCapture() {
    previous_ = set_qapi_event_sink([this](std::string_view name, json data) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.emplace_back(std::string(name), std::move(data));
    });
  }
  ~EventCapture() { set_qapi_event_sink(std::move(previous_)); }

  std::vector<std::pair<std::string, json>> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(events_, {});
  }

 private:
  QapiEventSink previous_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, json>> events_;
};

using Events = std::vector<std::pair<std::string, json>>;

TEST(QapiEventsTest, SendersBuildTheData) {
  EventCapture capture;
  qapi_event_send_event_no_data();
  qapi_event_send_event_data(1, std::nullopt, qapi::EnumOne::kValueOne, qapi::AltCond{"s"});
  qapi::AltCond obj;
  obj.value = qapi::UserDefZero{7};
  qapi_event_send_event_data(2, std::string("b"), qapi::EnumOne::k1024, obj);
  qapi::UserDefOne boxed;
  boxed.integer = 3;
  boxed.string = "s";
  qapi_event_send_event_boxed(boxed);
  qapi_event_send_event_named(4, "two");
  qapi_event_send_event_deprecated();
  qapi::NodeRef link;
  link.value = std::string("other");
  qapi_event_send_event_tree("t", std::nullopt, link);
  EXPECT_EQ(
      capture.take(),
      (Events{
          {"EVENT_NO_DATA", json()},
          {"EVENT_DATA", parse(R"({"a": 1, "e": "value-one", "c": "s"})")},
          {"EVENT_DATA", parse(R"({"a": 2, "b": "b", "e": "1024", "c": {"integer": 7}})")},
          {"EVENT_BOXED", parse(R"({"integer": 3, "string": "s", "nested": {"integer": 0}})")},
          {"EVENT_NAMED", parse(R"({"integer": 4, "two-data": "two"})")},
          {"EVENT_DEPRECATED", json()},
          {"EVENT_TREE", parse(R"({"name": "t", "link": "other"})")},
      }));
  EXPECT_EQ(to_string(qapi::QAPIEvent::kEventData), "EVENT_DATA");
  EXPECT_EQ(qapi::qapi_event_from_string("EVENT_NAMED"), qapi::QAPIEvent::kEventNamed);
  EXPECT_EQ(qapi::qapi_event_from_string("EVENT_COND"), std::nullopt);
  EXPECT_EQ(q::to_json(qapi::QAPIEvent::kEventNoData), json("EVENT_NO_DATA"));
}

TEST(QapiEventsTest, HookAndSinkReplacement) {
  {
    EventCapture capture;
    qapi_event_emit(qapi::QAPIEvent::kEventNoData, "EVENT_NO_DATA", json());
    EXPECT_EQ(capture.take().size(), 1u);
    {
      EventCapture inner;  // replaces the outer sink until it goes away
      qapi_event_send_event_no_data();
      EXPECT_EQ(inner.take().size(), 1u);
      EXPECT_EQ(capture.take().size(), 0u);
    }
    qapi_event_send_event_no_data();
    EXPECT_EQ(capture.take().size(), 1u);
  }
  // Without a sink, events are dropped.
  QapiEventSink none = set_qapi_event_sink(nullptr);
  EXPECT_FALSE(none);
  qapi_event_send_event_no_data();
}

TEST(QapiEventsTest, ConcurrentSendersAndSinkChanges) {
  std::atomic<int> delivered{0};
  auto counting = [&delivered](std::string_view, json) { delivered++; };
  set_qapi_event_sink(counting);
  constexpr int kThreads = 4;
  constexpr int kEvents = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < kEvents; ++i)
        qapi_event_send_event_named(i, "x");
    });
  }
  for (int i = 0; i < 100; ++i)
    set_qapi_event_sink(counting);  // swap while sending
  for (std::thread& t : threads)
    t.join();
  set_qapi_event_sink(nullptr);
  EXPECT_EQ(delivered.load(), kThreads * kEvents);
}

// Introspection ---------------------------------------------------------------------------------

class Introspection {
 public:
  explicit Introspection(const json& data) : data_(data) {
    for (const json& entry : data) {
      std::string name = entry["name"];
      EXPECT_TRUE(by_name_.emplace(name, &entry).second) << "duplicate " << name;
    }
  }
  const json* find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }
  const json& get(const std::string& name) const {
    const json* entry = find(name);
    EXPECT_NE(entry, nullptr) << name;
    static const json kNull;
    return entry ? *entry : kNull;
  }
  std::vector<std::string> member_names(const json& object) const {
    std::vector<std::string> names;
    for (const json& m : object["members"])
      names.push_back(m["name"]);
    return names;
  }
  const json& member(const json& object, const std::string& name) const {
    for (const json& m : object["members"]) {
      if (m["name"] == name)
        return m;
    }
    static const json kNull;
    ADD_FAILURE() << "no member " << name;
    return kNull;
  }
  const json& data() const { return data_; }

 private:
  const json& data_;
  std::map<std::string, const json*> by_name_;
};

TEST(QapiIntrospectionTest, TestSchema) {
  Introspection in(qapi_introspection_data());
  EXPECT_EQ(in.find("test-cond-disabled"), nullptr);
  EXPECT_EQ(in.find("EVENT_COND"), nullptr);
  EXPECT_NE(in.find("test-cond-complex"), nullptr);

  // Commands and events come first, in schema order; the first argument type is "0".
  EXPECT_EQ(in.data()[0]["name"], "test-no-args");
  EXPECT_EQ(in.data()[0]["meta-type"], "command");
  EXPECT_EQ(in.data()[0]["arg-type"], "0");

  const json& args = in.get(in.get("test-args")["arg-type"]);
  EXPECT_EQ(args["meta-type"], "object");
  EXPECT_EQ(in.member_names(args), (std::vector<std::string>{"a", "b", "c", "d", "e", "g"}));
  EXPECT_EQ(in.member(args, "a"), parse(R"({"name": "a", "type": "int"})"));
  EXPECT_EQ(in.member(args, "b"), parse(R"({"name": "b", "type": "str", "default": null})"));
  EXPECT_EQ(in.member(args, "g")["type"], "int");  // every integer type is "int"

  const json& enum_one = in.get(in.member(args, "c")["type"]);
  EXPECT_EQ(enum_one["meta-type"], "enum");
  EXPECT_EQ(enum_one["values"], parse(R"(["value-one", "value-two", "value-four", "1024"])"));
  EXPECT_EQ(enum_one["members"][2], parse(R"({"name": "value-four", "features": ["deprecated"]})"));

  const json& list = in.get(in.member(args, "d")["type"]);
  EXPECT_EQ(list["meta-type"], "array");
  EXPECT_EQ(list["name"], "[" + list["element-type"].get<std::string>() + "]");

  EXPECT_EQ(in.get("legacy_cmd")["features"], parse(R"(["deprecated"])"));
  EXPECT_EQ(in.get("test-unstable")["features"], parse(R"(["unstable", "custom-thing"])"));
  EXPECT_EQ(in.get("test-oob")["allow-oob"], true);
  EXPECT_FALSE(in.get("test-no-args").contains("allow-oob"));
  EXPECT_EQ(in.get("EVENT_DEPRECATED")["features"], parse(R"(["deprecated"])"));
  EXPECT_EQ(in.get("int"), parse(R"({"name": "int", "meta-type": "builtin", "json-type": "int"})"));
  EXPECT_EQ(in.get("any")["json-type"], "value");

  const json& cond = in.get(in.get("test-cond-complex")["ret-type"]);
  EXPECT_EQ(in.member_names(cond), (std::vector<std::string>{"always", "enabled", "old"}));
  EXPECT_EQ(in.member(cond, "old")["features"], parse(R"(["deprecated"])"));

  const json& boxed = in.get(in.get("test-boxed")["arg-type"]);
  EXPECT_EQ(boxed["tag"], "kind");
  std::vector<std::string> cases;
  for (const json& v : boxed["variants"])
    cases.push_back(v["case"]);
  EXPECT_EQ(cases, (std::vector<std::string>{"one", "two", "four", "three"}));

  const json& event = in.get(in.get("EVENT_DATA")["arg-type"]);
  const json& alt = in.get(in.member(event, "c")["type"]);
  EXPECT_EQ(alt["meta-type"], "alternate");
  EXPECT_EQ(alt["members"].size(), 2u);  // 'u' is compiled out

  // Type names are masked as numbers, built-in names and arrays excepted.
  for (const json& entry : in.data()) {
    std::string name = entry["name"];
    std::string meta = entry["meta-type"];
    if (meta == "object" || meta == "enum" || meta == "alternate") {
      EXPECT_EQ(name.find_first_not_of("0123456789"), std::string::npos) << name;
    }
  }
}

// The real schema (libcolovm-core) -------------------------------------------------------------

TEST(QapiRealSchemaTest, RunStateIsQemus) {
  std::vector<std::string> names(q::EnumTraits<q::RunState>::kNames.begin(),
                                 q::EnumTraits<q::RunState>::kNames.end());
  EXPECT_EQ(names, (std::vector<std::string>{"debug", "inmigrate", "internal-error", "io-error",
                                             "paused", "postmigrate", "prelaunch", "finish-migrate",
                                             "restore-vm", "running", "save-vm", "shutdown",
                                             "suspended", "watchdog", "guest-panicked", "colo"}));
  EXPECT_EQ(q::to_string(q::ShutdownCause::kHostQmpQuit), "host-qmp-quit");
  EXPECT_EQ(q::to_string(q::SysEmuTarget::kX86_64), "x86_64");
}

TEST(QapiRealSchemaTest, TypesInQemuShape) {
  expect_round_trip<q::StatusInfo>(
      parse(R"({"running": true, "singlestep": false, "status": "running"})"));
  expect_round_trip<q::VersionInfo>(
      parse(R"({"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": "colovm"})"));
  expect_round_trip<std::vector<q::CpuInfoFast>>(
      parse(R"([{"cpu-index": 0, "qom-path": "/machine/unattached/device[0]",
                 "thread-id": 1234, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0},
                 "target": "x86_64"}])"));
  expect_round_trip<q::ChardevInfo>(
      parse(R"({"label": "serial0", "filename": "stdio", "frontend-open": true})"));
  expect_round_trip<q::NameInfo>(json::object());
  expect_round_trip<q::StrOrNull>(json());
  EXPECT_EQ(decode_error<q::StrOrNull>(1, "tls-creds"),
            "Invalid parameter type for 'tls-creds', expected: StrOrNull");
}

TEST(QapiRealSchemaTest, Events) {
  EventCapture capture;
  colo::qapi_event_send_shutdown(false, q::ShutdownCause::kHostQmpQuit);
  colo::qapi_event_send_stop();
  colo::qapi_event_send_reset(true, q::ShutdownCause::kGuestReset);
  EXPECT_EQ(capture.take(),
            (Events{{"SHUTDOWN", parse(R"({"guest": false, "reason": "host-qmp-quit"})")},
                    {"STOP", json()},
                    {"RESET", parse(R"({"guest": true, "reason": "guest-reset"})")}}));
}

TEST(QapiRealSchemaTest, IntrospectionMatchesSchemaInfo) {
  const json& data = colo::qapi_introspection_data();
  // query-qmp-schema's own result type describes the data exactly.
  Result<std::vector<q::SchemaInfo>> infos = q::from_json<std::vector<q::SchemaInfo>>(data);
  ASSERT_TRUE(infos.ok()) << infos.error().message();
  EXPECT_EQ(q::to_json(*infos), data);

  Introspection in(data);
  std::set<std::string> commands;
  std::set<std::string> events;
  for (const q::SchemaInfo& info : *infos) {
    if (info.meta_type == q::SchemaMetaType::kCommand)
      commands.insert(info.name);
    if (info.meta_type == q::SchemaMetaType::kEvent)
      events.insert(info.name);
  }
  EXPECT_EQ(commands, (std::set<std::string>{"qmp_capabilities",
                                             "query-version",
                                             "query-commands",
                                             "quit",
                                             "query-qmp-schema",
                                             "query-status",
                                             "stop",
                                             "cont",
                                             "system_reset",
                                             "system_powerdown",
                                             "query-cpus-fast",
                                             "query-kvm",
                                             "query-name",
                                             "query-chardev",
                                             "human-monitor-command",
                                             "yank",
                                             "query-yank",
                                             "debug-sleep",
                                             "query-qtree-lite",
                                             "query-pci",
                                             "query-block",
                                             "query-blockstats",
                                             "query-rx-filter"}));
  EXPECT_EQ(events, (std::set<std::string>{"SHUTDOWN", "POWERDOWN", "RESET", "STOP", "RESUME"}));

  // qmp_capabilities: {"enable": [QMPCapability]}, optional.
  const json& caps = in.get(in.get("qmp_capabilities")["arg-type"]);
  const json& enable = in.member(caps, "enable");
  EXPECT_TRUE(enable.contains("default"));
  const json& array = in.get(enable["type"]);
  EXPECT_EQ(in.get(array["element-type"])["values"], parse(R"(["oob"])"));
  // human-monitor-command returns a string.
  EXPECT_EQ(in.get("human-monitor-command")["ret-type"], "str");
  // SHUTDOWN's data.
  const json& shutdown = in.get(in.get("SHUTDOWN")["arg-type"]);
  EXPECT_EQ(in.member_names(shutdown), (std::vector<std::string>{"guest", "reason"}));
}

}  // namespace
}  // namespace test
}  // namespace colo
