// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/qdev.h"

namespace colo {

namespace {

std::vector<DeviceType>& registry() {
  static auto* types = new std::vector<DeviceType>();
  return *types;
}

}  // namespace

void device_register_type(DeviceType type) {
  for (auto& t : registry()) {
    if (t.name == type.name) {
      t = std::move(type);
      return;
    }
  }
  registry().push_back(std::move(type));
}

const std::vector<DeviceType>& device_types() {
  return registry();
}

Result<std::unique_ptr<Device>> device_create(const KeyvalDict& opts, DeviceContext& ctx) {
  OptionReader r(opts);
  auto driver = r.take("driver");
  if (!driver)
    return make_error("Parameter 'driver' is missing");
  const DeviceType* type = nullptr;
  for (const auto& t : registry()) {
    if (t.name == *driver)
      type = &t;
  }
  if (type == nullptr) {
    return make_error("'%s' is not a valid device model name", driver->c_str())
        .set_hint("use -device help to list the device types");
  }
  std::string id = r.take_or("id", "");
  COLO_ASSIGN_OR_RETURN(std::unique_ptr<Device> dev, type->create(r, ctx).prepend(*driver));
  if (!r.remaining().empty()) {
    return make_error("%s: Property '%s.%s' not found", driver->c_str(), driver->c_str(),
                      r.remaining().begin()->first.c_str());
  }
  dev->set_id(std::move(id));
  return dev;
}

}  // namespace colo
