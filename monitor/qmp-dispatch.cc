// SPDX-License-Identifier: GPL-2.0-or-later
//
// QMP requests -> handlers (QEMU's qapi/qmp-dispatch.c), the texts of responses, events and the
// greeting, and the commands of the QMP protocol itself (qmp_capabilities, query-commands,
// query-qmp-schema, query-version).
#include <sys/time.h>

#include <atomic>

#include "colovm-config.h"
#include "monitor/monitor.h"
#include "qapi/qapi-introspect.h"
#include "system/vm.h"
#include "util/json-streamer.h"

namespace colo {

namespace {

std::atomic<VirtualMachine*> g_vm{nullptr};

constexpr int kQemuMajor = 7;
constexpr int kQemuMinor = 2;
constexpr int kQemuMicro = 0;

// Checks the members of a request (QEMU's qmp_dispatch_check_obj); returns the command name.
Result<std::string> check_request(const nlohmann::json& request, bool allow_oob) {
  if (!request.is_object())
    return make_error("QMP input must be a JSON object");
  const char* exec_key = nullptr;
  std::string command;
  for (const auto& [key, value] : request.items()) {
    if (key == "execute" || (key == "exec-oob" && allow_oob)) {
      if (!value.is_string()) {
        return make_error("QMP input member '%s' must be a string", key.c_str());
      }
      if (exec_key != nullptr) {
        // QEMU names them in the order its dict yields them: 'execute' clashes with 'exec-oob'.
        return make_error("QMP input member 'execute' clashes with 'exec-oob'");
      }
      exec_key = key == "execute" ? "execute" : "exec-oob";
      command = value.get<std::string>();
    } else if (key == "arguments") {
      if (!value.is_object())
        return make_error("QMP input member 'arguments' must be an object");
    } else if (key == "id") {
      continue;
    } else {
      return make_error("QMP input member '%s' is unexpected", key.c_str());
    }
  }
  if (exec_key == nullptr)
    return make_error("QMP input lacks member 'execute'");
  return command;
}

}  // namespace

Result<VirtualMachine*> QmpContext::vm() const {
  VirtualMachine* vm = g_vm.load(std::memory_order_acquire);
  if (vm == nullptr)
    return make_error("the machine is not created yet");
  return vm;
}

void monitor_set_vm(VirtualMachine* vm) {
  g_vm.store(vm, std::memory_order_release);
}

VirtualMachine* monitor_vm() {
  return g_vm.load(std::memory_order_acquire);
}

bool qmp_request_is_oob(const nlohmann::json& request) {
  return request.is_object() && request.contains("exec-oob") && !request.contains("execute");
}

QmpResponse qmp_dispatch(const nlohmann::json& request, QmpContext& ctx,
                         const QmpDispatchOptions& opts) {
  QmpResponse rsp;
  if (request.is_object()) {
    auto it = request.find("id");
    if (it != request.end()) {
      rsp.id = *it;
      rsp.has_id = true;
    }
  }
  auto fail = [&](Error e) {
    rsp.result = std::move(e);
    return std::move(rsp);
  };
  Result<std::string> name = check_request(request, opts.oob_enabled);
  if (!name.ok())
    return fail(std::move(name).error());
  bool oob = qmp_request_is_oob(request);
  const QmpCommandDef* cmd = opts.find(*name);
  if (opts.negotiating && (cmd == nullptr || cmd->name != "qmp_capabilities")) {
    // QEMU replaces CommandNotFound during negotiation with this hint.
    return fail(Error("Expecting capabilities negotiation with 'qmp_capabilities'",
                      ErrorClass::kCommandNotFound));
  }
  if (cmd == nullptr) {
    return fail(Error(string_printf("The command %s has not been found", name->c_str()),
                      ErrorClass::kCommandNotFound));
  }
  if (oob && !cmd->allow_oob) {
    return fail(make_error("The command %s does not support OOB", name->c_str()));
  }
  if (opts.run_state && !cmd->allowed_in(*opts.run_state)) {
    return fail(make_error("The command %s is not available in state '%s'", name->c_str(),
                           std::string(to_string(*opts.run_state)).c_str()));
  }
  nlohmann::json args;  // null when absent
  if (auto it = request.find("arguments"); it != request.end())
    args = *it;
  Result<nlohmann::json> ret = cmd->marshal(args, ctx);
  if (!ret.ok()) {
    Error e = std::move(ret).error();
    if (opts.negotiating && e.error_class() == ErrorClass::kCommandNotFound) {
      e = Error("Expecting capabilities negotiation with 'qmp_capabilities'",
                ErrorClass::kCommandNotFound);
    }
    return fail(std::move(e));
  }
  rsp.suppressed = !cmd->success_response;
  rsp.result = std::move(ret);
  return rsp;
}

std::string qmp_response_text(const QmpResponse& response) {
  std::string out;
  if (response.result.ok()) {
    out = "{\"return\": ";
    json_append_qemu_text(*response.result, &out);
  } else {
    const Error& e = response.result.error();
    out = "{\"error\": {\"class\": ";
    out += json_quote(error_class_name(e.error_class()));
    out += ", \"desc\": ";
    out += json_quote(e.message());
    out += "}";
  }
  if (response.has_id) {
    out += ", \"id\": ";
    json_append_qemu_text(response.id, &out);
  }
  out += "}";
  return out;
}

std::string qmp_greeting_text(bool offer_oob) {
  return string_printf(
      "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": %d, \"minor\": %d, \"major\": %d}, "
      "\"package\": %s}, \"capabilities\": [%s]}}",
      kQemuMicro, kQemuMinor, kQemuMajor, json_quote("colovm " COLOVM_VERSION).c_str(),
      offer_oob ? "\"oob\"" : "");
}

std::string qmp_event_text(std::string_view name, const nlohmann::json& data) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  std::string out =
      string_printf("{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %lld}, \"event\": ",
                    static_cast<long long>(tv.tv_sec), static_cast<long long>(tv.tv_usec));
  out += json_quote(name);
  if (!data.is_null()) {
    out += ", \"data\": ";
    json_append_qemu_text(data, &out);
  }
  out += "}";
  return out;
}

// The commands of the protocol itself -------------------------------------------------------

Status qmp_qmp_capabilities(const std::optional<std::vector<qapi::QMPCapability>>& enable,
                            QmpContext& ctx) {
  QmpSession* session = ctx.session();
  if (session == nullptr || session->negotiated.load()) {
    return Error("Capabilities negotiation is already complete, command ignored",
                 ErrorClass::kCommandNotFound);
  }
  bool oob = false;
  for (qapi::QMPCapability cap : enable.value_or(std::vector<qapi::QMPCapability>{})) {
    if (cap == qapi::QMPCapability::kOob) {
      if (!session->oob_offered.load()) {
        return make_error("Capability %s not available", std::string(to_string(cap)).c_str());
      }
      oob = true;
    }
  }
  session->oob_enabled.store(oob);
  session->negotiated.store(true);
  return ok_status();
}

Result<qapi::VersionInfo> qmp_query_version(QmpContext& ctx) {
  qapi::VersionInfo info;
  info.qemu.major = kQemuMajor;
  info.qemu.minor = kQemuMinor;
  info.qemu.micro = kQemuMicro;
  info.package = "colovm " COLOVM_VERSION;
  return info;
}

Result<std::vector<qapi::CommandInfo>> qmp_query_commands(QmpContext& ctx) {
  std::vector<qapi::CommandInfo> out;
  for (const QmpCommandDef& def : qmp_command_table()) {
    out.push_back(qapi::CommandInfo{std::string(def.name)});
  }
  return out;
}

Result<nlohmann::json> qmp_marshal_query_qmp_schema(const nlohmann::json& args, QmpContext& ctx) {
  COLO_TRY(qapi::internal::check_no_arguments(args));
  return qapi_introspection_data();
}

Result<std::string> qmp_human_monitor_command(const std::string& command_line,
                                              std::optional<int64_t> cpu_index, QmpContext& ctx) {
  if (cpu_index) {
    VirtualMachine* vm = monitor_vm();
    int64_t cpus = vm != nullptr ? static_cast<int64_t>(vm->config().machine.smp) : 1;
    if (*cpu_index < 0 || *cpu_index >= cpus) {
      return make_error("Parameter 'cpu-index' expects a CPU number");
    }
  }
  QmpContext hmp_ctx(nullptr, false);
  return hmp_execute(command_line, hmp_ctx);
}

}  // namespace colo
