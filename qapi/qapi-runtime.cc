// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: qapi/qapi-runtime.cc
//
// The schema-independent half of the QAPI runtime: JSON type checks with QEMU's error texts,
// and the event sink. See qapi-runtime.h.
#include "qapi/qapi-runtime.h"

#include <mutex>

namespace colo {

namespace {

// The sink is replaced rarely and called often: callers copy the shared_ptr under the lock
// and call it outside, so a sink may emit events or replace itself.
std::mutex g_sink_mutex;
std::shared_ptr<const QapiEventSink> g_sink;  // guarded by g_sink_mutex

}  // namespace

QapiEventSink set_qapi_event_sink(QapiEventSink sink) {
  std::shared_ptr<const QapiEventSink> next;
  if (sink)
    next = std::make_shared<const QapiEventSink>(std::move(sink));
  std::shared_ptr<const QapiEventSink> previous;
  {
    std::lock_guard<std::mutex> lock(g_sink_mutex);
    previous = std::move(g_sink);
    g_sink = std::move(next);
  }
  return previous ? *previous : QapiEventSink();
}

void qapi_event_forward(std::string_view name, nlohmann::json data) {
  std::shared_ptr<const QapiEventSink> sink;
  {
    std::lock_guard<std::mutex> lock(g_sink_mutex);
    sink = g_sink;
  }
  if (sink)
    (*sink)(name, std::move(data));
}

namespace qapi {

std::string JsonPath::str() const {
  // Collect the frames root first.
  std::vector<const JsonPath*> frames;
  for (const JsonPath* p = this; p != nullptr; p = p->parent_)
    frames.push_back(p);
  std::string out;
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    const JsonPath* frame = *it;
    if (frame->is_index_) {
      out += '[';
      out += std::to_string(frame->index_);
      out += ']';
    } else if (!frame->name_.empty()) {
      if (!out.empty())
        out += '.';
      out += frame->name_;
    }
  }
  return out.empty() ? std::string("<anonymous>") : out;
}

namespace internal {

Error missing_parameter(const JsonPath& path) {
  return make_error("Parameter '%s' is missing", path.str().c_str());
}

Error unexpected_parameter(const JsonPath& path) {
  return make_error("Parameter '%s' is unexpected", path.str().c_str());
}

Error invalid_type(const JsonPath& path, std::string_view expected) {
  return make_error("Invalid parameter type for '%s', expected: %.*s", path.str().c_str(),
                    static_cast<int>(expected.size()), expected.data());
}

Error invalid_value(const JsonPath& path, std::string_view expected) {
  return make_error("Parameter '%s' expects %.*s", path.str().c_str(),
                    static_cast<int>(expected.size()), expected.data());
}

Error invalid_enum_value(const JsonPath& path, std::string_view value) {
  return make_error("Parameter '%s' does not accept value '%.*s'", path.str().c_str(),
                    static_cast<int>(value.size()), value.data());
}

const nlohmann::json* find_member(const nlohmann::json& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Result<const nlohmann::json*> arguments_object(const nlohmann::json& args) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (args.is_null())
    return &kEmpty;
  if (!args.is_object())
    return make_error("QMP input member 'arguments' must be an object");
  return &args;
}

Status check_no_arguments(const nlohmann::json& args) {
  COLO_ASSIGN_OR_RETURN(const nlohmann::json* object, arguments_object(args));
  return check_unexpected(*object, JsonPath(), {});
}

Status check_unexpected(const nlohmann::json& object, const JsonPath& path,
                        std::initializer_list<std::string_view> names) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      return unexpected_parameter(path.member(key));
    }
  }
  return ok_status();
}

Status decode_int64(const nlohmann::json& json, const JsonPath& path, int64_t* out) {
  if (json.is_number_unsigned()) {
    auto value = json.get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return invalid_type(path, "integer");
    }
    *out = static_cast<int64_t>(value);
    return ok_status();
  }
  if (json.is_number_integer()) {
    *out = json.get<int64_t>();
    return ok_status();
  }
  return invalid_type(path, "integer");
}

Status decode_uint64(const nlohmann::json& json, const JsonPath& path, uint64_t* out) {
  if (json.is_number_unsigned()) {
    *out = json.get<uint64_t>();
    return ok_status();
  }
  if (json.is_number_integer()) {
    // QEMU accepts negative values for uint64 and wraps them, for backward compatibility.
    *out = static_cast<uint64_t>(json.get<int64_t>());
    return ok_status();
  }
  return invalid_value(path, "uint64");
}

}  // namespace internal

Status Codec<std::string>::decode(const nlohmann::json& json, const JsonPath& path,
                                  std::string* out) {
  if (!json.is_string())
    return internal::invalid_type(path, "string");
  *out = json.get_ref<const std::string&>();
  return ok_status();
}

Status Codec<bool>::decode(const nlohmann::json& json, const JsonPath& path, bool* out) {
  if (!json.is_boolean())
    return internal::invalid_type(path, "boolean");
  *out = json.get<bool>();
  return ok_status();
}

Status Codec<double>::decode(const nlohmann::json& json, const JsonPath& path, double* out) {
  if (!json.is_number())
    return internal::invalid_type(path, "number");
  *out = json.get<double>();
  return ok_status();
}

Status Codec<std::nullptr_t>::decode(const nlohmann::json& json, const JsonPath& path,
                                     std::nullptr_t* out) {
  if (!json.is_null())
    return internal::invalid_type(path, "null");
  *out = nullptr;
  return ok_status();
}

Status Codec<nlohmann::json>::decode(const nlohmann::json& json, const JsonPath& /*path*/,
                                     nlohmann::json* out) {
  *out = json;
  return ok_status();
}

}  // namespace qapi
}  // namespace colo
