// SPDX-License-Identifier: GPL-2.0-or-later
/* The local APIC (xAPIC MMIO at its reset base, mapped user-accessible and uncached). */
#ifndef TESTGUEST_DRIVERS_LAPIC_H
#define TESTGUEST_DRIVERS_LAPIC_H

#define LAPIC_BASE 0xfee00000u
#define LAPIC_REG_EOI 0xb0
#define LAPIC_SPURIOUS_VECTOR 0xff

/*
 * Virtual-wire mode, as SeaBIOS leaves it: APIC software-enabled, LINT0 = ExtINT (the
 * 8259 PICs), LINT1 = NMI. Without firmware (KVM reset state) the APIC is disabled and
 * PIC interrupts never reach the CPU. Idempotent.
 */
void lapic_virtual_wire(void);

#endif
