// SPDX-License-Identifier: GPL-2.0-or-later
//
// QMP commands of the block layer (QEMU's block/qapi.c): query-block and query-blockstats, from
// the structs BlockGraph's query functions return.
#include "block/blockdev.h"
#include "hw/i386/pc.h"
#include "hw/qdev.h"
#include "monitor/monitor.h"
#include "qapi/qapi-commands.h"
#include "system/vm.h"

namespace colo {

namespace {

qapi::ImageInfo image_info(const block::ImageInfo& in, int depth = 0) {
  qapi::ImageInfo out;
  out.filename = in.filename;
  out.format = in.format;
  // A format without a dirty flag (raw) is never dirty; QEMU reports false too.
  out.dirty_flag = in.dirty_flag.value_or(false);
  if (in.actual_size)
    out.actual_size = static_cast<int64_t>(*in.actual_size);
  out.virtual_size = static_cast<int64_t>(in.virtual_size);
  if (in.cluster_size)
    out.cluster_size = static_cast<int64_t>(*in.cluster_size);
  if (in.encrypted)
    out.encrypted = true;
  if (!in.backing_filename.empty()) {
    out.backing_filename = in.backing_filename;
    out.full_backing_filename = in.full_backing_filename;
    if (!in.backing_filename_format.empty())
      out.backing_filename_format = in.backing_filename_format;
  }
  if (in.backing_image && depth < 1024)
    out.backing_image = qapi::Box<qapi::ImageInfo>(image_info(*in.backing_image, depth + 1));
  return out;
}

qapi::BlockDeviceInfo block_device_info(const block::BlockDeviceInfo& in) {
  qapi::BlockDeviceInfo out;
  out.file = in.file;
  out.node_name = in.node_name;
  out.ro = in.ro;
  out.drv = in.drv;
  if (!in.backing_file.empty())
    out.backing_file = in.backing_file;
  out.backing_file_depth = in.backing_file_depth;
  out.encrypted = in.encrypted;
  out.detect_zeroes = qapi::blockdev_detect_zeroes_options_from_string(in.detect_zeroes)
                          .value_or(qapi::BlockdevDetectZeroesOptions::kOff);
  // No I/O throttling and no write threshold: the limits are all 0, as QEMU reports "none".
  out.image = image_info(in.image);
  out.cache.writeback = in.cache.writeback;
  out.cache.direct = in.cache.direct;
  out.cache.no_flush = in.cache.no_flush;
  return out;
}

qapi::BlockDeviceStats device_stats(const block::BlockDeviceStats& s) {
  qapi::BlockDeviceStats out;
  auto i = [](uint64_t v) { return static_cast<int64_t>(v); };
  out.rd_bytes = i(s.rd_bytes);
  out.wr_bytes = i(s.wr_bytes);
  out.unmap_bytes = i(s.unmap_bytes);
  out.rd_operations = i(s.rd_operations);
  out.wr_operations = i(s.wr_operations);
  out.flush_operations = i(s.flush_operations);
  out.unmap_operations = i(s.unmap_operations);
  out.rd_total_time_ns = i(s.rd_total_time_ns);
  out.wr_total_time_ns = i(s.wr_total_time_ns);
  out.flush_total_time_ns = i(s.flush_total_time_ns);
  out.unmap_total_time_ns = i(s.unmap_total_time_ns);
  out.wr_highest_offset = i(s.wr_highest_offset);
  // colovm does not merge requests: the merged counters are honestly 0.
  out.failed_rd_operations = i(s.failed_rd_operations);
  out.failed_wr_operations = i(s.failed_wr_operations);
  out.failed_flush_operations = i(s.failed_flush_operations);
  out.failed_unmap_operations = i(s.failed_unmap_operations);
  out.invalid_rd_operations = i(s.invalid_rd_operations);
  out.invalid_wr_operations = i(s.invalid_wr_operations);
  out.invalid_flush_operations = i(s.invalid_flush_operations);
  out.invalid_unmap_operations = i(s.invalid_unmap_operations);
  out.account_invalid = true;
  out.account_failed = true;
  return out;
}

qapi::BlockStats block_stats(const block::BlockStatsInfo& in) {
  qapi::BlockStats out;
  if (!in.device.empty())
    out.device = in.device;
  if (!in.node_name.empty())
    out.node_name = in.node_name;
  out.stats = device_stats(in.stats);
  if (in.parent)
    out.parent = qapi::Box<qapi::BlockStats>(block_stats(*in.parent));
  if (in.backing)
    out.backing = qapi::Box<qapi::BlockStats>(block_stats(*in.backing));
  return out;
}

// The guest device using drive `name`: its id, or its QOM path as QEMU names an anonymous
// device's backend ("/machine/peripheral-anon/device[N]/virtio-backend").
std::optional<std::string> attached_device(VirtualMachine* vm, const std::string& name) {
  if (vm == nullptr)
    return std::nullopt;
  int anon = 0;
  for (const auto& dev : vm->machine().devices()) {
    bool uses = false;
    for (const auto& [prop, value] : dev->properties()) {
      if (prop == "drive" && value == name)
        uses = true;
    }
    if (uses) {
      if (!dev->id().empty())
        return dev->id();
      return string_printf("/machine/peripheral-anon/device[%d]/virtio-backend", anon);
    }
    if (dev->id().empty())
      anon++;
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<qapi::BlockInfo>> qmp_query_block(QmpContext& ctx) {
  VirtualMachine* vm = monitor_vm();
  std::vector<qapi::BlockInfo> out;
  for (const block::BlockInfo& bi : block::default_block_graph().query_block()) {
    qapi::BlockInfo info;
    info.device = bi.device;
    info.qdev = attached_device(vm, bi.device);
    // QEMU reports the status of devices that can stop the VM on errors; colovm's never do.
    if (info.qdev)
      info.io_status = qapi::BlockDeviceIoStatus::kOk;
    info.type = bi.type;
    info.removable = bi.removable;
    info.locked = bi.locked;
    if (bi.inserted)
      info.inserted = block_device_info(*bi.inserted);
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<qapi::BlockStats>> qmp_query_blockstats(std::optional<bool> query_nodes,
                                                           QmpContext& ctx) {
  VirtualMachine* vm = monitor_vm();
  bool nodes = query_nodes.value_or(false);
  std::vector<qapi::BlockStats> out;
  for (const block::BlockStatsInfo& s : block::default_block_graph().query_blockstats(nodes)) {
    qapi::BlockStats st = block_stats(s);
    if (!nodes)
      st.qdev = attached_device(vm, s.device);
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace colo
