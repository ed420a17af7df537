// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: qapi/qapi-runtime.h
//
// The QAPI runtime: what the C++ code generated from the QAPI schema (qapi/*.json, by
// scripts/qapi-gen.py) needs, and the contract between that code and the QMP/HMP monitor.
// docs/devel/qapi.md explains the schema language; this comment is the C++ API.
//
// GENERATED FILES (in the build tree, included as "qapi/qapi-*.h")
//
//   qapi-types.h       every enum, struct, union and alternate, in namespace colo::qapi, and
//                      their JSON codecs (specializations of colo::qapi::Codec<T>)
//   qapi-commands.h    a prototype for each command's hand-written handler, in namespace colo,
//                      and the dispatch table qmp_command_table()
//   qapi-events.h      qapi::QAPIEvent and one qapi_event_send_*() function per event
//   qapi-introspect.h  qapi_introspection_data(): the reply of query-qmp-schema
//   qmp-reference.md   the QMP reference (committed as docs/qmp-reference.md)
//
// Types, events and introspection are part of libcolovm-core. The commands file calls the
// handlers; monitor/meson.build adds it (Meson variable qapi_commands_sources) to
// libcolovm-core, where the handlers are.
//
// TYPES (namespace colo::qapi; names as in the schema)
//
//   enum:      enum class RunState { kDebug, kInmigrate, kInternalError, ... };
//              values in schema order, 'internal-error' -> kInternalError, 'x86_64' -> kX86_64.
//              std::string_view to_string(RunState);                     // "" if out of range
//              std::optional<RunState> run_state_from_string(std::string_view);
//              EnumTraits<RunState>::kNames / kTypeName for generic code.
//   struct:    struct StatusInfo { bool running = false; ...; RunState status{}; };
//              members in schema order, 'cpu-index' -> cpu_index, C++ keywords get a '_'
//              suffix ('default' -> default_). Optional members are std::optional<T>, arrays
//              std::vector<T>. Builtins: str std::string, int/int64 int64_t, intN/uintN the
//              fixed-width ints, size uint64_t, number double, bool bool, null std::nullptr_t,
//              any nlohmann::json. A struct with a 'base' derives from the base struct.
//              operator== compares all members.
//   union:     the base members (inherited from a named base, or declared inline for an
//              anonymous base), the discriminator among them, and `u`, a struct with one
//              member per branch that has members:
//                SchemaInfo info;  info.name = "int";  info.meta_type = SchemaMetaType::kBuiltin;
//                info.u.builtin.json_type = JSONType::kInt;
//              Only the branch selected by the discriminator is encoded and compared; the
//              others stay default-constructed. Values without a branch carry no extra data.
//   alternate: struct StrOrNull { enum class Kind { kS, kN };
//                                 std::variant<std::string, std::nullptr_t> value;
//                                 Kind kind() const; };
//              the variant alternatives in schema order; kind() names the one held. The
//              default is the first branch.
//   recursion: a member whose type contains the member's own type (BlockdevOptions ->
//              BlockdevRef -> BlockdevOptions) is held in a Box<T>, a copyable value that is
//              allocated on first write (read access to an empty Box sees a default T).
//
// JSON (nlohmann::json, no exceptions anywhere)
//
//   nlohmann::json j = qapi::to_json(info);                        // any generated type,
//   Result<qapi::StatusInfo> r = qapi::from_json<qapi::StatusInfo>(j);   // vectors too
//
//   Decoding checks everything QEMU's QObject input visitor checks, with QEMU's texts and the
//   full path of the offending member ("a.b[2].c"):
//     Parameter 'PATH' is missing                   a required member is absent
//     Parameter 'PATH' is unexpected                an object has a member the type lacks
//     Invalid parameter type for 'PATH', expected: T    T = object, array, string, integer,
//                                                   number, boolean, null, or an alternate's name
//     Parameter 'PATH' expects int8_t|...|uint32_t  an integer out of the member's range
//     Parameter 'PATH' expects uint64              not a non-negative integer (negative values
//                                                   are accepted and wrap, as QEMU does)
//     Parameter 'PATH' does not accept value 'V'    not a value of the enum
//   QEMU prints only the member's own name (or 'null' inside lists) for the last three; colovm
//   always prints the full path. Missing and type errors come first, in member order;
//   unexpected members are reported after all known members decoded. A member whose 'if'
//   condition is false does not exist (it is unexpected on input).
//
// COMMANDS (qapi-commands.h, namespace colo)
//
//   Handlers are written by hand, one per command, with arguments in schema order:
//     Result<qapi::VersionInfo> qmp_query_version(QmpContext& ctx);
//     Status qmp_stop(QmpContext& ctx);                              // no 'returns'
//     Result<std::string> qmp_human_monitor_command(const std::string& command_line,
//                                                   std::optional<int64_t> cpu_index,
//                                                   QmpContext& ctx);
//   Scalars (ints, bool, double, enums) are passed by value, everything else by const
//   reference; optional arguments as std::optional. 'boxed': true passes the arguments struct
//   (const qapi::Foo& arg, QmpContext& ctx). 'gen': false generates no marshaller: the
//   monitor writes qmp_marshal_NAME() itself (query-qmp-schema).
//
//   QmpContext is only declared here; the monitor defines `class colo::QmpContext` (which
//   monitor/session is calling).
//
//   qmp_command_table() lists every command compiled in, sorted by name, as QmpCommandDef
//   entries (below); qmp_find_command(name) looks one up. A marshaller takes the request's
//   'arguments' (null when absent, which it treats as {}), returns QMP's "QMP input member
//   'arguments' must be an object" for anything but an object or null, decodes and checks the
//   arguments as above, calls the handler and encodes its result ({} without 'returns').
//   (QEMU also rejects an explicit "arguments": null; a dispatcher that wants that must check
//   before calling the marshaller.) It does not check allow_oob, allow_preconfig, run states
//   or features: the dispatcher does, from the table.
//
// EVENTS (qapi-events.h, namespace colo)
//
//   void qapi_event_send_shutdown(bool guest, qapi::ShutdownCause reason);
//   void qapi_event_send_stop();
//   Each sender builds the event's 'data' (null for events without data: QMP then omits the
//   key) and calls the generated hook qapi_event_emit(qapi::QAPIEvent, name, data), which
//   hands it to qapi_event_forward() here, which calls the sink registered with
//   set_qapi_event_sink(). Senders may be called from any thread; the sink is called on the
//   sender's thread, synchronously, so it should only queue (and timestamp) the event.
//   Without a sink, events are dropped.
//
// INTROSPECTION (qapi-introspect.h, namespace colo)
//
//   const nlohmann::json& qapi_introspection_data();
//   The SchemaInfo array of query-qmp-schema in QEMU 7.2's format: commands and events first,
//   by name, in schema order; then the types they use, in order of first use, named by number
//   ("0", "1", ...; clients must not rely on the numbers), built-in types by name, arrays as
//   "[ELEMENT]", every integer type as "int". Entities, members, values, branches and features
//   whose 'if' is false are absent. query-commands is built from qmp_command_table().
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace colo {

// Defined by the monitor: the session a command runs in.
class QmpContext;

// QmpCommandDef::features bits: the special features of a command.
inline constexpr uint32_t kQapiFeatureDeprecated = 1u << 0;
inline constexpr uint32_t kQapiFeatureUnstable = 1u << 1;

// QmpCommandDef::run_state_mask when the command has no 'run-states': allowed in every state.
inline constexpr uint64_t kAnyRunState = ~uint64_t{0};

// The bit of each given RunState value (colovm's 'run-states' extension).
template <typename... RunStates>
constexpr uint64_t run_state_mask(RunStates... states) {
  return ((uint64_t{1} << static_cast<unsigned>(states)) | ... | uint64_t{0});
}

using QmpMarshalFn = Result<nlohmann::json> (*)(const nlohmann::json& args, QmpContext& ctx);

// One entry of the generated command table.
struct QmpCommandDef {
  std::string_view name;  // "query-status"
  QmpMarshalFn marshal = nullptr;
  bool allow_oob = false;        // 'allow-oob': may run out of band, on the monitor I/O thread
  bool allow_preconfig = false;  // 'allow-preconfig': allowed before the machine is built
  uint64_t run_state_mask = kAnyRunState;  // bit N set: allowed in RunState value N
  uint32_t features = 0;                   // kQapiFeatureDeprecated | kQapiFeatureUnstable
  bool success_response = true;            // 'success-response': false: no reply on success

  bool deprecated() const { return (features & kQapiFeatureDeprecated) != 0; }
  bool unstable() const { return (features & kQapiFeatureUnstable) != 0; }
  // Whether the command may run in `state` (a value of the schema's RunState enum).
  template <typename RunState>
  bool allowed_in(RunState state) const {
    return ((run_state_mask >> static_cast<unsigned>(state)) & 1) != 0;
  }
};

// Receives every event: its name ("SHUTDOWN") and its 'data' (null if the event has none).
using QapiEventSink = std::function<void(std::string_view name, nlohmann::json data)>;

// Registers the event sink (an empty function removes it); returns the previous one.
// Thread-safe; a sink being called while it is replaced finishes normally.
QapiEventSink set_qapi_event_sink(QapiEventSink sink);

// Passes an event to the sink. Called by the generated qapi_event_emit().
void qapi_event_forward(std::string_view name, nlohmann::json data);

namespace qapi {

// Where a value sits in the JSON being decoded, for error messages: "a.b[2].c". Frames live
// on the stack of the decoder and point at their parent.
class JsonPath {
 public:
  // The root: the arguments object itself (empty name) or a named value.
  JsonPath() = default;
  explicit JsonPath(std::string_view root_name) : name_(root_name) {}

  JsonPath member(std::string_view name) const { return JsonPath(this, name, 0, false); }
  JsonPath element(size_t index) const { return JsonPath(this, {}, index, true); }

  // QEMU's "full name" of the value: "cpu-index", "a.b", "list[0].x"; "<anonymous>" for an
  // unnamed root.
  std::string str() const;

 private:
  JsonPath(const JsonPath* parent, std::string_view name, size_t index, bool is_index)
      : parent_(parent), name_(name), index_(index), is_index_(is_index) {}

  const JsonPath* parent_ = nullptr;
  std::string_view name_;
  size_t index_ = 0;
  bool is_index_ = false;
};

// JSON conversion of T. Specialized below for the builtin types, std::vector and Box, and by
// the generated code for every schema type:
//   static nlohmann::json encode(const T& value);
//   static Status decode(const nlohmann::json& json, const JsonPath& path, T* out);
// Object types (structs, unions) also have encode_members(), decode_members() and is_member(),
// which work on the members of an object shared with a derived type.
template <typename T>
struct Codec;

// Names of an enum's values, indexed by value; specialized by the generated code:
//   static constexpr std::string_view kTypeName;
//   static constexpr std::array<std::string_view, N> kNames;
template <typename E>
struct EnumTraits;

template <typename E>
std::string_view enum_to_string(E value) {
  const auto& names = EnumTraits<E>::kNames;
  auto index = static_cast<size_t>(value);
  return index < names.size() ? names[index] : std::string_view();
}

template <typename E>
std::optional<E> enum_from_string(std::string_view name) {
  const auto& names = EnumTraits<E>::kNames;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name)
      return static_cast<E>(i);
  }
  return std::nullopt;
}

// A value of type T on the heap, for members that would otherwise contain themselves. Copies
// deeply; empty until first written (reading an empty Box sees a default-constructed T, so
// recursive types have finite defaults).
template <typename T>
class Box {
 public:
  Box() = default;
  Box(T value) : ptr_(std::make_unique<T>(std::move(value))) {}  // NOLINT(runtime/explicit)
  Box(const Box& other) : ptr_(other.ptr_ ? std::make_unique<T>(*other.ptr_) : nullptr) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& other) {
    if (this != &other)
      ptr_ = other.ptr_ ? std::make_unique<T>(*other.ptr_) : nullptr;
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  ~Box() = default;

  const T& get() const { return ptr_ ? *ptr_ : default_value(); }
  T& mut() {
    if (!ptr_)
      ptr_ = std::make_unique<T>();
    return *ptr_;
  }
  const T& operator*() const { return get(); }
  T& operator*() { return mut(); }
  const T* operator->() const { return &get(); }
  T* operator->() { return &mut(); }

  bool operator==(const Box& other) const { return get() == other.get(); }

 private:
  static const T& default_value() {
    static const T kDefault{};
    return kDefault;
  }

  std::unique_ptr<T> ptr_;
};

template <typename T>
nlohmann::json to_json(const T& value) {
  return Codec<T>::encode(value);
}

// Decodes and type-checks `json` as a T. `root_name` names the value in error messages.
template <typename T>
Result<T> from_json(const nlohmann::json& json, std::string_view root_name = {}) {
  T out{};
  JsonPath path(root_name);
  Status status = Codec<T>::decode(json, path, &out);
  if (!status.ok())
    return std::move(status).error();
  return out;
}

// Helpers of the generated code. Not for other callers.
namespace internal {

Error missing_parameter(const JsonPath& path);
Error unexpected_parameter(const JsonPath& path);
Error invalid_type(const JsonPath& path, std::string_view expected);
Error invalid_value(const JsonPath& path, std::string_view expected);
Error invalid_enum_value(const JsonPath& path, std::string_view value);

// The member `key` of an object, or null if absent.
const nlohmann::json* find_member(const nlohmann::json& object, std::string_view key);

// A command's arguments as an object: {} for null, an error for anything but an object.
Result<const nlohmann::json*> arguments_object(const nlohmann::json& args);

// For commands without arguments: accepts null or {}.
Status check_no_arguments(const nlohmann::json& args);

// "Parameter 'x' is unexpected" for the first member of `object` not in `names`.
Status check_unexpected(const nlohmann::json& object, const JsonPath& path,
                        std::initializer_list<std::string_view> names);

template <typename T>
Status decode_required(const nlohmann::json& object, const JsonPath& path, std::string_view name,
                       T* out) {
  JsonPath member = path.member(name);
  const nlohmann::json* value = find_member(object, name);
  if (value == nullptr)
    return missing_parameter(member);
  return Codec<T>::decode(*value, member, out);
}

template <typename T>
Status decode_optional(const nlohmann::json& object, const JsonPath& path, std::string_view name,
                       std::optional<T>* out) {
  const nlohmann::json* value = find_member(object, name);
  if (value == nullptr) {
    out->reset();
    return ok_status();
  }
  return Codec<T>::decode(*value, path.member(name), &out->emplace());
}

// Decodes an object type: checks for an object, decodes the members, then rejects members the
// (selected variant of the) type does not have.
template <typename T>
Status decode_object(const nlohmann::json& json, const JsonPath& path, T* out) {
  if (!json.is_object())
    return invalid_type(path, "object");
  COLO_TRY(Codec<T>::decode_members(json, path, out));
  for (const auto& [key, value] : json.items()) {
    if (!Codec<T>::is_member(key, *out))
      return unexpected_parameter(path.member(key));
  }
  return ok_status();
}

// A boxed member as a handler argument.
template <typename T>
const T& unbox(const Box<T>& value) {
  return value.get();
}
template <typename T>
std::optional<T> unbox(const std::optional<Box<T>>& value) {
  if (!value)
    return std::nullopt;
  return value->get();
}

template <typename E>
Status decode_enum(const nlohmann::json& json, const JsonPath& path, E* out) {
  if (!json.is_string())
    return invalid_type(path, "string");
  const auto& name = json.get_ref<const std::string&>();
  std::optional<E> value = enum_from_string<E>(name);
  if (!value)
    return invalid_enum_value(path, name);
  *out = *value;
  return ok_status();
}

Status decode_int64(const nlohmann::json& json, const JsonPath& path, int64_t* out);
Status decode_uint64(const nlohmann::json& json, const JsonPath& path, uint64_t* out);

template <typename Int>
Status decode_int(const nlohmann::json& json, const JsonPath& path, const char* type_name,
                  Int* out) {
  if constexpr (std::is_signed_v<Int>) {
    int64_t value = 0;
    COLO_TRY(decode_int64(json, path, &value));
    if (value < std::numeric_limits<Int>::min() || value > std::numeric_limits<Int>::max()) {
      return invalid_value(path, type_name);
    }
    *out = static_cast<Int>(value);
  } else {
    uint64_t value = 0;
    COLO_TRY(decode_uint64(json, path, &value));
    if (value > std::numeric_limits<Int>::max())
      return invalid_value(path, type_name);
    *out = static_cast<Int>(value);
  }
  return ok_status();
}

}  // namespace internal

// Builtin types ---------------------------------------------------------------------------

template <>
struct Codec<std::string> {
  static nlohmann::json encode(const std::string& value) { return value; }
  static Status decode(const nlohmann::json& json, const JsonPath& path, std::string* out);
};

template <>
struct Codec<bool> {
  static nlohmann::json encode(bool value) { return value; }
  static Status decode(const nlohmann::json& json, const JsonPath& path, bool* out);
};

template <>
struct Codec<double> {
  static nlohmann::json encode(double value) { return value; }
  static Status decode(const nlohmann::json& json, const JsonPath& path, double* out);
};

template <>
struct Codec<std::nullptr_t> {
  static nlohmann::json encode(std::nullptr_t) { return nullptr; }
  static Status decode(const nlohmann::json& json, const JsonPath& path, std::nullptr_t* out);
};

// 'any': every JSON value.
template <>
struct Codec<nlohmann::json> {
  static nlohmann::json encode(const nlohmann::json& value) { return value; }
  static Status decode(const nlohmann::json& json, const JsonPath& path, nlohmann::json* out);
};

template <>
struct Codec<int64_t> {
  static nlohmann::json encode(int64_t value) { return value; }
  static Status decode(const nlohmann::json& json, const JsonPath& path, int64_t* out) {
    return internal::decode_int64(json, path, out);
  }
};

template <>
struct Codec<uint64_t> {
  static nlohmann::json encode(uint64_t value) { return value; }
  static Status decode(const nlohmann::json& json, const JsonPath& path, uint64_t* out) {
    return internal::decode_uint64(json, path, out);
  }
};

#define COLO_QAPI_SIZED_INT_CODEC(Int, Wide, type_name)                                \
  template <>                                                                          \
  struct Codec<Int> {                                                                  \
    static nlohmann::json encode(Int value) { return static_cast<Wide>(value); }       \
    static Status decode(const nlohmann::json& json, const JsonPath& path, Int* out) { \
      return internal::decode_int(json, path, type_name, out);                         \
    }                                                                                  \
  };
COLO_QAPI_SIZED_INT_CODEC(int8_t, int64_t, "int8_t")
COLO_QAPI_SIZED_INT_CODEC(int16_t, int64_t, "int16_t")
COLO_QAPI_SIZED_INT_CODEC(int32_t, int64_t, "int32_t")
COLO_QAPI_SIZED_INT_CODEC(uint8_t, uint64_t, "uint8_t")
COLO_QAPI_SIZED_INT_CODEC(uint16_t, uint64_t, "uint16_t")
COLO_QAPI_SIZED_INT_CODEC(uint32_t, uint64_t, "uint32_t")
#undef COLO_QAPI_SIZED_INT_CODEC

template <typename T>
struct Codec<std::vector<T>> {
  static nlohmann::json encode(const std::vector<T>& value) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& element : value)
      array.push_back(Codec<T>::encode(element));
    return array;
  }
  static Status decode(const nlohmann::json& json, const JsonPath& path, std::vector<T>* out) {
    if (!json.is_array())
      return internal::invalid_type(path, "array");
    out->clear();
    out->reserve(json.size());
    size_t index = 0;
    for (const auto& element : json) {
      T value{};
      COLO_TRY(Codec<T>::decode(element, path.element(index++), &value));
      out->push_back(std::move(value));
    }
    return ok_status();
  }
};

template <typename T>
struct Codec<Box<T>> {
  static nlohmann::json encode(const Box<T>& value) { return Codec<T>::encode(value.get()); }
  static Status decode(const nlohmann::json& json, const JsonPath& path, Box<T>* out) {
    return Codec<T>::decode(json, path, &out->mut());
  }
};

}  // namespace qapi
}  // namespace colo
