// SPDX-License-Identifier: GPL-2.0-or-later
/* Time from the TSC, calibrated once against PIT channel 2. */
#ifndef TESTGUEST_DRIVERS_TSC_H
#define TESTGUEST_DRIVERS_TSC_H

#include <stdbool.h>
#include <stdint.h>

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/*
 * TSC frequency in kHz. The first call calibrates against the PIT (~50 ms); if the PIT
 * does not count, it returns 0 and *ok (if given) is false.
 */
uint64_t tsc_khz(bool* ok);

/* Busy-waits (in ring 3) for the given time; returns false if the TSC is uncalibrated. */
bool delay_us(uint64_t us);

#endif
