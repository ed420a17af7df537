// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/virtio/virtio-blk.h
//
// virtio-blk (virtio 1.2, 5.2) on a BlockBackend: one request queue, requests IN, OUT, FLUSH,
// GET_ID, DISCARD and WRITE_ZEROES, 512-byte sectors. The block layer is synchronous, so
// requests run one after another on the device's worker thread; data read from the disk is
// written into guest memory with the pages marked dirty.
//
//   -device virtio-blk-pci,drive=ID[,id=...][,serial=...][,discard=on|off]
//           [,write-zeroes=on|off][,queue-size=N][,addr=..][,vectors=..][,ioeventfd=on|off]
//
// drive= names a -drive id (its BlockBackend) or a -blockdev node-name (the device then gets
// an anonymous backend on that node, as in QEMU). A read-only drive offers VIRTIO_BLK_F_RO and
// fails writes with VIRTIO_BLK_S_IOERR. Errors of the disk are reported to the guest as
// VIRTIO_BLK_S_IOERR (werror/rerror=report; stopping the VM on errors is not implemented).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "block/block-backend.h"
#include "hw/qdev.h"
#include "hw/virtio/virtio.h"

namespace colo {

// Feature bits.
constexpr int kVirtioBlkFSizeMax = 1;
constexpr int kVirtioBlkFSegMax = 2;
constexpr int kVirtioBlkFRo = 5;
constexpr int kVirtioBlkFBlkSize = 6;
constexpr int kVirtioBlkFFlush = 9;
constexpr int kVirtioBlkFDiscard = 13;
constexpr int kVirtioBlkFWriteZeroes = 14;

// Request types and status values.
constexpr uint32_t kVirtioBlkTIn = 0;
constexpr uint32_t kVirtioBlkTOut = 1;
constexpr uint32_t kVirtioBlkTFlush = 4;
constexpr uint32_t kVirtioBlkTGetId = 8;
constexpr uint32_t kVirtioBlkTDiscard = 11;
constexpr uint32_t kVirtioBlkTWriteZeroes = 13;
constexpr uint8_t kVirtioBlkSOk = 0;
constexpr uint8_t kVirtioBlkSIoerr = 1;
constexpr uint8_t kVirtioBlkSUnsupp = 2;
constexpr uint32_t kVirtioBlkWriteZeroesUnmap = 1;

constexpr uint32_t kVirtioBlkIdBytes = 20;
constexpr uint32_t kVirtioBlkConfigSize = 60;
// Largest request data accepted (bigger requests fail with IOERR instead of a huge buffer).
constexpr uint64_t kVirtioBlkMaxRequestBytes = 32ULL << 20;

struct VirtioBlkOptions {
  std::string drive;   // the drive= value, for queries
  std::string serial;  // GET_ID (at most 20 bytes are returned)
  bool discard = true;
  bool write_zeroes = true;
  uint16_t queue_size = 256;
};

class VirtioBlk : public VirtioDevice {
 public:
  VirtioBlk(GuestMemory* mem, std::shared_ptr<block::BlockBackend> blk, VirtioBlkOptions options);
  ~VirtioBlk() override;

  const std::shared_ptr<block::BlockBackend>& backend() const { return blk_; }
  const VirtioBlkOptions& options() const { return options_; }

  uint64_t host_features() const override;
  size_t config_size() const override { return kVirtioBlkConfigSize; }
  void get_config(std::span<uint8_t> config) override;
  void handle_queue(VirtQueue& vq) override;
  std::vector<std::pair<std::string, std::string>> properties() const override;

 private:
  // Runs one request; false when the chain was malformed (the device is broken now).
  bool handle_request(const VirtqElement& e, uint32_t* used_len);
  uint8_t do_rw(const VirtqElement& e, bool write, uint64_t sector, uint64_t bytes);
  uint8_t do_discard_zeroes(const VirtqElement& e, uint32_t type);

  std::shared_ptr<block::BlockBackend> blk_;
  VirtioBlkOptions options_;
  std::vector<uint8_t> bounce_;  // worker thread only
};

// Registers virtio-blk-pci (called from device_register_builtin_types()).
void virtio_blk_register_types();

// A -device virtio-blk-pci's disk, for query-block: the backend, the drive= value and whether
// it names a -drive (true) or a node (false, an anonymous backend).
struct VirtioBlkDisk {
  std::shared_ptr<block::BlockBackend> backend;
  std::string drive;
  bool named_backend = false;
};
// The disk of `dev` if it is a virtio-blk-pci, else nullopt.
std::optional<VirtioBlkDisk> virtio_blk_disk(Device& dev);

}  // namespace colo
