// SPDX-License-Identifier: GPL-2.0-or-later
#include "drivers/lapic.h"

#include <stdint.h>

#define REG_SVR 0xf0
#define REG_LVT_LINT0 0x350
#define REG_LVT_LINT1 0x360

#define SVR_ENABLE 0x100
#define LVT_EXTINT 0x700
#define LVT_NMI 0x400

static void write_reg(unsigned reg, uint32_t v) {
  *(volatile uint32_t*)(uintptr_t)(LAPIC_BASE + reg) = v;
}

void lapic_virtual_wire(void) {
  write_reg(REG_SVR, SVR_ENABLE | LAPIC_SPURIOUS_VECTOR);
  write_reg(REG_LVT_LINT0, LVT_EXTINT);
  write_reg(REG_LVT_LINT1, LVT_NMI);
}
