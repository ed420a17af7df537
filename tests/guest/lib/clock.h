// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Milliseconds on the TSC for the network stack and the services. The TSC is calibrated
 * once against the PIT (drivers/tsc.c); without a PIT a nominal 2 GHz is assumed (a
 * warning says so), which only stretches or shrinks timeouts.
 */
#ifndef TESTGUEST_LIB_CLOCK_H
#define TESTGUEST_LIB_CLOCK_H

#include <stdint.h>

#include "drivers/tsc.h"

/* TSC ticks per millisecond (calibrates on the first call, ~50 ms). */
uint64_t clock_ticks_per_ms(void);

static inline uint64_t clock_now(void) {
  return rdtsc();
}

static inline uint64_t clock_ms(uint64_t ms) {
  return ms * clock_ticks_per_ms();
}

#endif
