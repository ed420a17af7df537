// SPDX-License-Identifier: GPL-2.0-or-later
#include "lib/clock.h"

#include <stdbool.h>

#include "lib/log.h"

#define FALLBACK_KHZ 2000000u

uint64_t clock_ticks_per_ms(void) {
  static uint64_t per_ms;
  if (!per_ms) {
    bool ok;
    per_ms = tsc_khz(&ok);
    if (!ok) {
      log_warn("cannot calibrate the TSC (no PIT?), assuming %u kHz", FALLBACK_KHZ);
      per_ms = FALLBACK_KHZ;
    }
  }
  return per_ms;
}
