// SPDX-License-Identifier: GPL-2.0-or-later
/* isa-debug-exit: ends the VM (colovm: status N; QEMU: status (N << 1) | 1). */
#ifndef TESTGUEST_DRIVERS_DEBUGEXIT_H
#define TESTGUEST_DRIVERS_DEBUGEXIT_H

#include <stdint.h>

#include "abi.h"
#include "drivers/pio.h"

/* Returns only if no debug-exit device listens on the port. */
static inline void debug_exit(uint32_t status) {
  outl(DEBUG_EXIT_PORT, status);
}

#endif
