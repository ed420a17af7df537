// SPDX-License-Identifier: GPL-2.0-or-later
/* The two 8259A interrupt controllers. */
#ifndef TESTGUEST_DRIVERS_PIC_H
#define TESTGUEST_DRIVERS_PIC_H

#define PIC_VECTOR_BASE 0x20 /* IRQ 0-15 arrive on vectors 0x20-0x2f */

/*
 * Moves IRQ 0-15 off the exception vectors (firmware leaves them at 0x08) and masks all
 * of them. Must run before anything executes sti.
 */
void pic_init_masked(void);

/* Lets IRQ irq (0-15) through, or masks it again. */
void pic_unmask(unsigned irq);
void pic_mask(unsigned irq);

/* End of interrupt for a vector in PIC_VECTOR_BASE..PIC_VECTOR_BASE+15. */
void pic_eoi(unsigned vector);

#endif
