// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: hw/ioeventfd.h
//
// Guest writes that only need to wake a worker (virtio queue notifications) should not stop the
// vCPU in user space. A device hands an eventfd and an address to the machine; with KVM the
// write then signals the eventfd inside the kernel (KVM_IOEVENTFD, ~1-3 us instead of a ~10-30
// us exit here). Devices never see KVM: they get this interface.
#pragma once

#include <cstdint>
#include <optional>

#include "util/error.h"

namespace colo {

enum class IoSpace { kPio, kMmio };

class IoEventNotifier {
 public:
  virtual ~IoEventNotifier() = default;
  // Writes of `len` bytes to `addr` (matching `datamatch` when given) signal `eventfd`.
  virtual Status add_ioeventfd(IoSpace space, uint64_t addr, uint32_t len, int eventfd,
                               std::optional<uint64_t> datamatch) = 0;
  virtual Status remove_ioeventfd(IoSpace space, uint64_t addr, uint32_t len, int eventfd,
                                  std::optional<uint64_t> datamatch) = 0;
};

}  // namespace colo
