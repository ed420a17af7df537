// SPDX-License-Identifier: GPL-2.0-or-later
#include "hw/virtio/virtio-blk.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

#include "block/blockdev.h"
#include "hw/virtio/virtio-pci.h"
#include "system/guest-memory.h"
#include "util/bytes.h"
#include "util/keyval.h"
#include "util/log.h"

namespace colo {

namespace {

constexpr uint64_t kSectorSize = 512;
constexpr uint32_t kBlkSize = 512;
constexpr uint32_t kReqHeaderSize = 16;        // type, reserved (ioprio), sector
constexpr uint32_t kDwzSegmentSize = 16;       // sector, num_sectors, flags
constexpr uint32_t kMaxDwzSectors = 0x3fffff;  // QEMU's BDRV_REQUEST_MAX_SECTORS
constexpr int kRequestsPerRound = 64;          // then yield the worker (pause latency)

// Backends and nodes in use by a device: one device per disk, as QEMU's permissions enforce.
std::mutex g_attached_mutex;
std::set<const void*>& attached() {
  static auto* s = new std::set<const void*>();
  return *s;
}

}  // namespace

VirtioBlk::VirtioBlk(GuestMemory* mem, std::shared_ptr<block::BlockBackend> blk,
                     VirtioBlkOptions options)
    : VirtioDevice(kVirtioIdBlock, "virtio-blk", mem),
      blk_(std::move(blk)),
      options_(std::move(options)) {
  add_queue(options_.queue_size);
}

VirtioBlk::~VirtioBlk() {
  std::lock_guard<std::mutex> lock(g_attached_mutex);
  attached().erase(blk_.get());
  attached().erase(blk_->root().get());
}

uint64_t VirtioBlk::host_features() const {
  uint64_t f =
      virtio_bit(kVirtioBlkFSegMax) | virtio_bit(kVirtioBlkFBlkSize) | virtio_bit(kVirtioBlkFFlush);
  if (blk_->read_only())
    f |= virtio_bit(kVirtioBlkFRo);
  if (options_.discard)
    f |= virtio_bit(kVirtioBlkFDiscard);
  if (options_.write_zeroes)
    f |= virtio_bit(kVirtioBlkFWriteZeroes);
  return f;
}

void VirtioBlk::get_config(std::span<uint8_t> c) {
  std::fill(c.begin(), c.end(), 0);
  store_le64(&c[0], blk_->size() / kSectorSize);  // capacity
  store_le32(&c[12], options_.queue_size - 2u);   // seg_max, as QEMU
  store_le32(&c[20], kBlkSize);                   // blk_size
  store_le16(&c[34], 1);                          // num_queues
  store_le32(&c[36], kMaxDwzSectors);             // max_discard_sectors
  store_le32(&c[40], 1);                          // max_discard_seg
  store_le32(&c[44], kBlkSize / kSectorSize);     // discard_sector_alignment
  store_le32(&c[48], kMaxDwzSectors);             // max_write_zeroes_sectors
  store_le32(&c[52], 1);                          // max_write_zeroes_seg
  c[56] = 1;                                      // write_zeroes_may_unmap
}

void VirtioBlk::handle_queue(VirtQueue& vq) {
  int done = 0;
  do {
    vq.set_notification(false);
    while (done < kRequestsPerRound) {
      std::optional<VirtqElement> e = vq.pop();
      if (!e)
        break;
      uint32_t used = 0;
      if (!handle_request(*e, &used))
        return;  // broken: the rings are not touched again
      vq.push(*e, used);
      done++;
    }
    vq.set_notification(true);
    if (done >= kRequestsPerRound) {
      // Let pause() and other work in between; carry on in a fresh round.
      notify(vq);
      schedule_queue(vq.index());
      return;
    }
  } while (vq.has_available());
  if (done > 0)
    notify(vq);
}

bool VirtioBlk::handle_request(const VirtqElement& e, uint32_t* used_len) {
  if (e.out_bytes() < kReqHeaderSize || e.in_bytes() < 1) {
    set_broken("virtio-blk request without its header or status byte");
    return false;
  }
  uint8_t hdr[kReqHeaderSize];
  e.read(0, hdr);
  uint32_t type = load_le32(hdr);
  uint64_t sector = load_le64(hdr + 8);
  uint64_t data_in = e.in_bytes() - 1;  // the status byte is the last device-writable byte
  uint64_t data_out = e.out_bytes() - kReqHeaderSize;
  uint8_t status;
  switch (type) {
    case kVirtioBlkTIn:
      status = do_rw(e, false, sector, data_in);
      break;
    case kVirtioBlkTOut:
      status = do_rw(e, true, sector, data_out);
      break;
    case kVirtioBlkTFlush:
      status = blk_->flush().ok() ? kVirtioBlkSOk : kVirtioBlkSIoerr;
      break;
    case kVirtioBlkTGetId: {
      // As QEMU: the serial, NUL-terminated only when shorter than 20 bytes.
      size_t n = std::min<uint64_t>({options_.serial.size() + 1, data_in, kVirtioBlkIdBytes});
      e.write(0, {reinterpret_cast<const uint8_t*>(options_.serial.c_str()), n});
      status = kVirtioBlkSOk;
      break;
    }
    case kVirtioBlkTDiscard:
    case kVirtioBlkTWriteZeroes:
      if (!has_feature(type == kVirtioBlkTDiscard ? kVirtioBlkFDiscard : kVirtioBlkFWriteZeroes)) {
        status = kVirtioBlkSUnsupp;
        break;
      }
      if (data_out != kDwzSegmentSize) {
        set_broken("virtio-blk discard/write_zeroes request without exactly one segment");
        return false;
      }
      status = do_discard_zeroes(e, type);
      break;
    default:
      status = kVirtioBlkSUnsupp;
      break;
  }
  e.write(data_in, {&status, 1});
  *used_len = static_cast<uint32_t>(std::min<uint64_t>(e.in_bytes(), UINT32_MAX));
  return true;
}

uint8_t VirtioBlk::do_rw(const VirtqElement& e, bool write, uint64_t sector, uint64_t bytes) {
  if (bytes % kBlkSize != 0 || bytes > kVirtioBlkMaxRequestBytes ||
      sector > UINT64_MAX / kSectorSize) {
    debug_report("virtio-blk: %s of %llu bytes at sector %llu refused", write ? "write" : "read",
                 static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(sector));
    return kVirtioBlkSIoerr;
  }
  uint64_t offset = sector * kSectorSize;
  // The buffers that carry the data: out after the header, or in before the status byte.
  std::vector<std::span<uint8_t>> segs;
  std::vector<uint64_t> gpas;
  uint64_t skip = write ? kReqHeaderSize : 0;
  uint64_t left = bytes;
  for (const VirtqBuffer& b : write ? e.out() : e.in()) {
    if (left == 0)
      break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(b.len - skip, left);
    segs.emplace_back(b.host + skip, n);
    gpas.push_back(b.gpa + skip);
    left -= n;
    skip = 0;
  }
  Status st = ok_status();
  if (segs.size() == 1) {
    // One buffer (the usual case): straight between the disk and guest memory.
    st = write ? blk_->write(offset, segs[0]) : blk_->read(offset, segs[0]);
  } else {
    // One block-layer request per guest request, as QEMU accounts them.
    bounce_.resize(bytes);
    if (write) {
      uint64_t pos = 0;
      for (auto s : segs) {
        if (!s.empty())
          memcpy(bounce_.data() + pos, s.data(), s.size());
        pos += s.size();
      }
      st = blk_->write(offset, {bounce_.data(), bytes});
    } else {
      st = blk_->read(offset, {bounce_.data(), bytes});
      if (st.ok()) {
        uint64_t pos = 0;
        for (auto s : segs) {
          if (!s.empty())
            memcpy(s.data(), bounce_.data() + pos, s.size());
          pos += s.size();
        }
      }
    }
  }
  if (!write) {
    // Even a failed read may have written part of the buffers.
    for (size_t i = 0; i < segs.size(); i++)
      memory()->mark_dirty(gpas[i], segs[i].size());
  }
  if (!st.ok()) {
    debug_report("virtio-blk: %s", st.error().message().c_str());
    return kVirtioBlkSIoerr;
  }
  return kVirtioBlkSOk;
}

uint8_t VirtioBlk::do_discard_zeroes(const VirtqElement& e, uint32_t type) {
  uint8_t seg[kDwzSegmentSize];
  e.read(kReqHeaderSize, seg);
  uint64_t sector = load_le64(seg);
  uint32_t num = load_le32(seg + 8);
  uint32_t flags = load_le32(seg + 12);
  bool discard = type == kVirtioBlkTDiscard;
  if (discard ? flags != 0 : (flags & ~kVirtioBlkWriteZeroesUnmap) != 0) {
    return kVirtioBlkSUnsupp;
  }
  if (num > kMaxDwzSectors || sector > UINT64_MAX / kSectorSize)
    return kVirtioBlkSIoerr;
  uint64_t offset = sector * kSectorSize;
  uint64_t bytes = uint64_t{num} * kSectorSize;
  if (bytes == 0)
    return kVirtioBlkSOk;
  Status st = discard ? blk_->discard(offset, bytes)
                      : blk_->write_zeroes(offset, bytes,
                                           (flags & kVirtioBlkWriteZeroesUnmap)
                                               ? block::ZeroMode::kMayUnmap
                                               : block::ZeroMode::kAllocate);
  if (!st.ok()) {
    debug_report("virtio-blk: %s", st.error().message().c_str());
    return kVirtioBlkSIoerr;
  }
  return kVirtioBlkSOk;
}

std::vector<std::pair<std::string, std::string>> VirtioBlk::properties() const {
  return {{"drive", options_.drive},
          {"serial", options_.serial},
          {"discard", options_.discard ? "on" : "off"},
          {"write-zeroes", options_.write_zeroes ? "on" : "off"},
          {"queue-size", std::to_string(options_.queue_size)}};
}

namespace {

Result<std::unique_ptr<Device>> create_virtio_blk_pci(OptionReader& opts, DeviceContext& ctx) {
  auto drive = opts.take("drive");
  if (!drive)
    return make_error("drive property not set");
  if (ctx.blocks == nullptr)
    return make_error("no block devices");
  std::shared_ptr<block::BlockBackend> blk = ctx.blocks->find_backend(*drive);
  if (!blk) {
    std::shared_ptr<block::BlockNode> node = ctx.blocks->find_node(*drive);
    if (!node) {
      return make_error("Property 'virtio-blk-device.drive' can't find value '%s'", drive->c_str());
    }
    // A node-name: the device's own backend (QEMU creates an anonymous BlockBackend).
    block::BackendOptions bo;
    bo.read_only = node->read_only();
    blk = std::make_shared<block::BlockBackend>("", node, bo);
  }
  VirtioBlkOptions o;
  o.drive = *drive;
  o.serial = opts.take_or("serial", blk->options().serial);
  COLO_ASSIGN_OR_RETURN(o.discard, opts.take_bool("discard", true));
  COLO_ASSIGN_OR_RETURN(o.write_zeroes, opts.take_bool("write-zeroes", true));
  COLO_ASSIGN_OR_RETURN(uint64_t qs, opts.take_uint("queue-size", 256));
  if (qs < 4 || qs > kVirtqMaxSize || (qs & (qs - 1)) != 0) {
    return make_error("Property 'queue-size': %llu is not a power of 2 from 4 to %u",
                      static_cast<unsigned long long>(qs), kVirtqMaxSize);
  }
  o.queue_size = static_cast<uint16_t>(qs);
  COLO_ASSIGN_OR_RETURN(uint64_t nq, opts.take_uint("num-queues", 1));
  if (nq != 1)
    return make_error("Property 'num-queues': only 1 queue is supported");
  {
    std::lock_guard<std::mutex> lock(g_attached_mutex);
    if (attached().count(blk.get()) || attached().count(blk->root().get())) {
      return make_error("Property 'virtio-blk-device.drive' can't take value '%s', it's in use",
                        drive->c_str());
    }
    attached().insert(blk.get());
    attached().insert(blk->root().get());
  }
  auto vdev = std::make_unique<VirtioBlk>(ctx.memory, blk, std::move(o));
  return virtio_pci_create("virtio-blk-pci", std::move(vdev), opts, ctx);
}

}  // namespace

void virtio_blk_register_types() {
  device_register_type(
      {"virtio-blk-pci", "virtio block device (PCI, modern)", create_virtio_blk_pci});
}

std::optional<VirtioBlkDisk> virtio_blk_disk(Device& dev) {
  auto* pci = dynamic_cast<VirtioPciDevice*>(&dev);
  if (pci == nullptr)
    return std::nullopt;
  auto* blk = dynamic_cast<VirtioBlk*>(&pci->vdev());
  if (blk == nullptr)
    return std::nullopt;
  return VirtioBlkDisk{blk->backend(), blk->options().drive, !blk->backend()->name().empty()};
}

}  // namespace colo
