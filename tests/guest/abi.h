// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Interfaces shared by the ring-0 kernel and the ring-3 runtime of the test guest:
 * segment selectors, the int3 "system call" numbers, the debug-exit port and the
 * documented exit statuses (README.md lists them too; keep both in sync).
 */
#ifndef TESTGUEST_ABI_H
#define TESTGUEST_ABI_H

/* GDT in Linux's x86-64 layout (kvm-pvm runs ring 3 with CS 0x33 / SS 0x2b). */
#define SEL_KERNEL32_CS 0x08
#define SEL_KERNEL_CS 0x10
#define SEL_KERNEL_DS 0x18
#define SEL_USER32_CS 0x23
#define SEL_USER_DS 0x2b
#define SEL_USER_CS 0x33
#define SEL_TSS 0x40

/*
 * The 256 interrupt stubs (kernel/isr.S), 16 bytes each, sit at this fixed address so
 * that tables.S can prebuild the IDT; linker.ld places them and checks the address.
 */
#define ISR_STUBS_ADDR 0x101000
#define ISR_STUB_SIZE 16

/* Kernel stack (TSS.RSP0) and the IST1 stack used for NMI, #DF and #MC. */
#define KERNEL_STACK_SIZE 16384
#define IST_STACK_SIZE 4096
#define USER_STACK_SIZE 65536

/*
 * System calls: ring 3 executes int3 (vector 3, a DPL-3 interrupt gate) with the call
 * number in rax and the argument in rdi; the result comes back in rax.
 */
#define SYS_NOP 0       /* return at once (measures the round trip) */
#define SYS_WAIT 1      /* sti; hlt; cli: return after one interrupt has been handled */
#define SYS_HALT 2      /* sti; hlt forever: the guest idles until the VM is stopped */
#define SYS_STOP 3      /* cli; hlt forever: used when the debug-exit port is missing */
#define SYS_IRQ_COUNT 4 /* number of interrupts (vector >= 32) handled so far */

/* isa-debug-exit: a 32-bit write of N ends the VM (colovm: status N, QEMU: (N << 1) | 1). */
#define DEBUG_EXIT_PORT 0xf4

/* Exit statuses the guest uses on its own (exit=N passes N through unchanged). */
#define EXIT_BAD_BOOT 101       /* no or bad hvm_start_info / memory map */
#define EXIT_EXCEPTION 102      /* unexpected CPU exception (ring 0 or ring 3) */
#define EXIT_BAD_ARGUMENT 103   /* a known job got an argument it cannot parse */
#define EXIT_DIRTY_MISMATCH 104 /* dirty= read back a value it did not write */
#define EXIT_NO_MEMORY 105      /* not enough free RAM for the job */
#define EXIT_PANIC 106          /* internal inconsistency (a bug in the guest) */
#define EXIT_NO_ACPI 107        /* acpi, poweroff, powerbutton: no usable ACPI tables */
#define EXIT_NO_DEVICE 110      /* a job needs a device (virtio-net, virtio-blk) that is missing */
#define EXIT_DEVICE_ERROR 111   /* a device failed (setup refused, I/O error, timeout) */

/* Offsets into struct kernel_info for assembly. */
#define KERNEL_INFO_TSC_ENTRY 0

#ifndef __ASSEMBLER__
#include <stdint.h>

/* What ring 0 leaves for ring 3 (in .data, written before the first iretq). */
struct kernel_info {
  uint64_t tsc_entry;    /* TSC at the PVH entry point */
  uint64_t tsc_user;     /* TSC just before the iretq to ring 3 */
  uint64_t mapped_end;   /* all RAM below this address is identity-mapped */
  uint64_t reserved_end; /* the image and the page tables kernel_setup() added end here */
};
extern struct kernel_info kernel_info;

/* The guest image in physical memory (linker.ld): __image_start is 1 MiB. */
extern char __image_start[], __image_end[];
_Static_assert(__builtin_offsetof(struct kernel_info, tsc_entry) == KERNEL_INFO_TSC_ENTRY,
               "kernel_info layout");
#endif

#endif
