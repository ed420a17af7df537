// SPDX-License-Identifier: GPL-2.0-or-later
#include "drivers/pic.h"

#include <stdint.h>

#include "drivers/pio.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

#define ICW1_INIT_ICW4 0x11
#define ICW4_8086 0x01
#define OCW2_EOI 0x20

static uint16_t mask = 0xffff; /* bit n: IRQ n masked */

static void write_mask(void) {
  outb(PIC1_DATA, (uint8_t)(mask & 0xff));
  outb(PIC2_DATA, (uint8_t)(mask >> 8));
}

void pic_init_masked(void) {
  outb(PIC1_CMD, ICW1_INIT_ICW4);
  outb(PIC2_CMD, ICW1_INIT_ICW4);
  outb(PIC1_DATA, PIC_VECTOR_BASE); /* ICW2: vector base */
  outb(PIC2_DATA, PIC_VECTOR_BASE + 8);
  outb(PIC1_DATA, 0x04); /* ICW3: slave on IRQ 2 */
  outb(PIC2_DATA, 0x02); /* ICW3: slave identity 2 */
  outb(PIC1_DATA, ICW4_8086);
  outb(PIC2_DATA, ICW4_8086);
  mask = 0xffff;
  write_mask();
}

void pic_unmask(unsigned irq) {
  mask &= (uint16_t) ~(1u << irq);
  if (irq >= 8) {
    mask &= (uint16_t) ~(1u << 2); /* the cascade */
  }
  write_mask();
}

void pic_mask(unsigned irq) {
  mask |= (uint16_t)(1u << irq);
  write_mask();
}

void pic_eoi(unsigned vector) {
  if (vector >= PIC_VECTOR_BASE + 8) {
    outb(PIC2_CMD, OCW2_EOI);
  }
  outb(PIC1_CMD, OCW2_EOI);
}
