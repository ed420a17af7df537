// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/qdev.h
//
// Devices as the machine, the monitor and migration see them, and the -device registry.
//
// A Device has a type name ("virtio-net-pci"), an id (-device ...,id=), a reset, and state it
// declares once (migration/vmstate.h). Devices with worker threads can be paused: pause()
// returns once no worker touches guest memory or device state, which is what a checkpoint
// needs before it saves anything.
//
// Device types register a factory; `-device TYPE,prop=value,...` finds it by name:
//
//   device_register_type({"virtio-blk-pci", "virtio block device (PCI)", create_virtio_blk});
//   COLO_ASSIGN_OR_RETURN(auto dev, device_create(keyval, ctx));   // "Property '...' not found"
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/bytes.h"
#include "util/error.h"
#include "util/keyval.h"

namespace colo {

struct VmStateDescription;
class GuestMemory;
class PciBus;
class MsiSink;
class IoEventNotifier;
class MachineEvents;
class NetdevRegistry;
namespace block {
class BlockGraph;
}

class Device {
 public:
  virtual ~Device() = default;

  // The -device driver name, e.g. "virtio-net-pci".
  virtual std::string_view type_name() const = 0;
  const std::string& id() const { return id_; }
  void set_id(std::string id) { id_ = std::move(id); }

  // Back to power-on state (machine reset).
  virtual void reset() {}
  // Stop and restart worker threads around a checkpoint or migration.
  virtual void pause() {}
  virtual void resume() {}

  // Migratable state. A device without state returns nullptr from vmsd().
  virtual const VmStateDescription* vmsd() const { return nullptr; }
  virtual void save_state(ByteWriter& out) const {}
  virtual Status load_state(std::span<const uint8_t> data, int version_id) { return ok_status(); }

  // Properties for `info qtree` and query commands: name -> value.
  virtual std::vector<std::pair<std::string, std::string>> properties() const { return {}; }

 private:
  std::string id_;
};

// What a device factory gets to connect the device to the machine.
struct DeviceContext {
  GuestMemory* memory = nullptr;
  PciBus* pci = nullptr;
  MsiSink* msi = nullptr;
  IoEventNotifier* ioeventfd = nullptr;
  MachineEvents* events = nullptr;
  block::BlockGraph* blocks = nullptr;
  NetdevRegistry* netdevs = nullptr;
};

// Creates a device from the options left after "driver" and "id" were taken; the factory
// takes the properties it knows, and device_create() rejects the rest.
using DeviceFactory =
    std::function<Result<std::unique_ptr<Device>>(OptionReader& opts, DeviceContext& ctx)>;

struct DeviceType {
  std::string name;
  std::string description;
  DeviceFactory create;
};

void device_register_type(DeviceType type);
const std::vector<DeviceType>& device_types();

// `-device` / device_add: {"driver": TYPE, "id": ..., props...}.
Result<std::unique_ptr<Device>> device_create(const KeyvalDict& opts, DeviceContext& ctx);

// Registers every built-in device type (called once at start-up; explicit, not static
// initialisers).
void device_register_builtin_types();

}  // namespace colo
