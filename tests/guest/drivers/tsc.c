// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PIT channel 2 runs in mode 0 (interrupt on terminal count) with its gate driven by
 * port 0x61 bit 0; bit 5 of port 0x61 shows its output going high when the count ends.
 * Every poll of port 0x61 is a VM exit (~29 us), so a 50 ms window keeps the error
 * around 0.1%.
 */
#include "drivers/tsc.h"

#include "drivers/pio.h"
#include "drivers/pit.h"

#define PIT_CMD_CH2_LOHI_MODE0 0xb0
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20

#define CALIBRATE_MS 50u
/* Give up if the PIT has not finished after this many TSC ticks (> 1 s below 4 GHz). */
#define CALIBRATE_TIMEOUT_TICKS (1ull << 32)

static uint64_t khz;
static bool calibrated;

static uint64_t calibrate(void) {
  const uint32_t latch = PIT_HZ * CALIBRATE_MS / 1000u;
  outb(PORT_B, (uint8_t)((inb(PORT_B) & ~PORT_B_SPEAKER) & ~PORT_B_GATE2));
  outb(PIT_CMD, PIT_CMD_CH2_LOHI_MODE0);
  outb(PIT_CH2, (uint8_t)(latch & 0xff));
  outb(PIT_CH2, (uint8_t)(latch >> 8));
  uint8_t b = inb(PORT_B);
  outb(PORT_B, (uint8_t)(b | PORT_B_GATE2)); /* gate high: counting starts */
  uint64_t start = rdtsc();
  uint64_t now = start;
  while (!(inb(PORT_B) & PORT_B_OUT2)) {
    now = rdtsc();
    if (now - start > CALIBRATE_TIMEOUT_TICKS) {
      return 0;
    }
  }
  now = rdtsc();
  outb(PORT_B, (uint8_t)(b & ~PORT_B_GATE2));
  return (now - start) / CALIBRATE_MS;
}

uint64_t tsc_khz(bool* ok) {
  if (!calibrated) {
    khz = calibrate();
    calibrated = true;
  }
  if (ok) {
    *ok = khz != 0;
  }
  return khz;
}

bool delay_us(uint64_t us) {
  uint64_t k = tsc_khz(0);
  if (!k) {
    return false;
  }
  uint64_t start = rdtsc();
  uint64_t ticks = us * k / 1000u;
  while (rdtsc() - start < ticks) {
    __asm__ volatile("pause");
  }
  return true;
}
