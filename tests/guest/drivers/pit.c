// SPDX-License-Identifier: GPL-2.0-or-later
#include "drivers/pit.h"

#include "drivers/pio.h"

#define CMD_CH0_LOHI_MODE0 0x30
#define CMD_CH0_LOHI_MODE2 0x34

static void load_ch0(uint8_t cmd, uint16_t count) {
  outb(PIT_CMD, cmd);
  outb(PIT_CH0, (uint8_t)(count & 0xff));
  outb(PIT_CH0, (uint8_t)(count >> 8));
}

void pit_periodic(uint32_t hz) {
  uint32_t count = hz ? PIT_HZ / hz : 0;
  if (count < 2) {
    count = 2;
  } else if (count > 0xffff) {
    count = 0; /* 65536 */
  }
  load_ch0(CMD_CH0_LOHI_MODE2, (uint16_t)count);
}

void pit_stop(void) {
  load_ch0(CMD_CH0_LOHI_MODE0, 0);
}
