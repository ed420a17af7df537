// SPDX-License-Identifier: GPL-2.0-or-later
/* The 8254 programmable interval timer. */
#ifndef TESTGUEST_DRIVERS_PIT_H
#define TESTGUEST_DRIVERS_PIT_H

#include <stdint.h>

#define PIT_HZ 1193182u
#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_IRQ 0

/* Channel 0 interrupts (IRQ 0) at about hz per second (rate generator, mode 2). */
void pit_periodic(uint32_t hz);

/* Channel 0 back to a single, maximal count: no more periodic interrupts. */
void pit_stop(void);

#endif
