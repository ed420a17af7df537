// SPDX-License-Identifier: GPL-2.0-or-later
//
// The list of device types colovm has. Each device file provides a register function; calling
// them from here (not from static initialisers) keeps start-up order explicit.
#include "hw/qdev.h"
#include "hw/virtio/virtio-blk.h"
#include "hw/virtio/virtio-net.h"

namespace colo {

void device_register_builtin_types() {
  static bool done = false;
  if (done)
    return;
  done = true;
  virtio_blk_register_types();
  virtio_net_register_types();
}

}  // namespace colo
