/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Static processor tables, prebuilt so that ring 0 (emulated, ~1 us per instruction on
 * kvm-pvm) does not have to build them: the identity page tables for 0-4 GiB, the GDT,
 * the TSS with its I/O permission bitmap, the IDT, and the stacks.
 *
 * Everything ring 0 sets up lives in .data (ring 3 clears .bss when it starts); the
 * stacks live in their own NOBITS section .stack, which nobody clears.
 */
#include "abi.h"

#define PTE_P 0x001
#define PTE_RW 0x002
#define PTE_US 0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS 0x080
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)
#define PDE_RAM (PTE_P | PTE_RW | PTE_US | PTE_PS)
#define PDE_MMIO (PDE_RAM | PTE_PCD | PTE_PWT)

/* 512 2-MiB page directory entries mapping [\start, \start + 1 GiB) with \flags. */
.macro pd_identity start, flags
	.set .Lpd_addr, \start
	.rept 512
	.quad .Lpd_addr | (\flags)
	.set .Lpd_addr, .Lpd_addr + 0x200000
	.endr
.endm

	.section .data.pagetables, "aw", @progbits
	.balign 4096
	.globl pml4, pdpt, pd_low, pt_low
pml4:
	.quad pdpt + PTE_TABLE
	.fill 511, 8, 0
/* PDPT entries 4-511 are filled by kernel_setup() for RAM above 4 GiB. */
pdpt:
	.quad pd_low + PTE_TABLE
	.quad pd_low + 0x1000 + PTE_TABLE
	.quad pd_low + 0x2000 + PTE_TABLE
	.quad pd_low + 0x3000 + PTE_TABLE
	.fill 508, 8, 0
/*
 * 0-4 GiB with 2 MiB pages, all user-accessible. The 32-bit MMIO window
 * 0xC0000000-0xFFFFFFFF (PCI BARs, IOAPIC, LAPIC) is mapped uncached; kernel_setup()
 * makes the 2 MiB pages there that the memory map calls RAM write-back again.
 * The first 2 MiB use 4 KiB pages (pt_low) so that the stack guard pages can be left
 * unmapped. Page 0 stays mapped: QEMU's PVH option ROM puts the memory map there.
 */
pd_low:
	.quad pt_low + PTE_TABLE
	.set .Lpd_addr, 0x200000
	.rept 511
	.quad .Lpd_addr | PDE_RAM
	.set .Lpd_addr, .Lpd_addr + 0x200000
	.endr
	pd_identity 0x40000000, PDE_RAM
	pd_identity 0x80000000, PDE_RAM
	pd_identity 0xc0000000, PDE_MMIO
pt_low:
	.set .Lpt_addr, 0
	.rept 512
	.quad .Lpt_addr | PTE_TABLE
	.set .Lpt_addr, .Lpt_addr + 0x1000
	.endr

	.data
/* GDT in Linux's x86-64 layout; the TSS descriptor (0x40) is written by kernel_setup(). */
	.balign 16
	.globl gdt, gdt_descriptor
gdt:
	.quad 0				/* 0x00 null */
	.quad 0x00cf9b000000ffff	/* 0x08 kernel 32-bit code */
	.quad 0x00af9b000000ffff	/* 0x10 kernel 64-bit code */
	.quad 0x00cf93000000ffff	/* 0x18 kernel data */
	.quad 0x00cffb000000ffff	/* 0x23 user 32-bit code */
	.quad 0x00cff3000000ffff	/* 0x2b user data */
	.quad 0x00affb000000ffff	/* 0x33 user 64-bit code */
	.quad 0				/* 0x38 unused */
	.quad 0, 0			/* 0x40 TSS (16 bytes) */
gdt_end:
gdt_descriptor:			/* 10 bytes; the 32-bit lgdt reads the first 6 */
	.word gdt_end - gdt - 1
	.quad gdt

/*
 * 64-bit TSS. kvm-pvm ignores IOPL, so the I/O permission bitmap (all zero: every port
 * allowed) is what lets ring 3 do port I/O. The processor reads two bitmap bytes per
 * check, so a terminating 0xff byte sits inside the limit.
 */
	.balign 16
	.globl tss, tss_end
tss:
	.long 0
	.quad kernel_stack_top		/* RSP0: stack for traps from ring 3 */
	.quad 0, 0			/* RSP1, RSP2 */
	.quad 0
	.quad ist1_stack_top		/* IST1: NMI, #DF, #MC */
	.quad 0, 0, 0, 0, 0, 0		/* IST2-IST7 */
	.quad 0
	.word 0
	.word tss_iobitmap - tss	/* I/O map base */
tss_iobitmap:
	.fill 8192, 1, 0
	.byte 0xff
tss_end:

/*
 * IDT: 64-bit interrupt gates to the stubs of isr.S. Vector 3 has DPL 3: int3 from ring 3
 * is the system call. NMI, #DF and #MC run on the IST1 stack.
 */
	.balign 4096
	.globl idt
idt:
	.set .Lvec, 0
	.rept 256
	.set .Lhandler, ISR_STUBS_ADDR + ISR_STUB_SIZE * .Lvec
	.word .Lhandler & 0xffff
	.word SEL_KERNEL_CS
	.if .Lvec == 2 || .Lvec == 8 || .Lvec == 18
	.byte 1				/* IST1 */
	.else
	.byte 0
	.endif
	.if .Lvec == 3
	.byte 0xee			/* present, DPL 3, interrupt gate */
	.else
	.byte 0x8e			/* present, DPL 0, interrupt gate */
	.endif
	.word (.Lhandler >> 16) & 0xffff
	.long .Lhandler >> 32
	.long 0
	.set .Lvec, .Lvec + 1
	.endr
idt_end:
	.globl idt_descriptor
idt_descriptor:
	.word idt_end - idt - 1
	.quad idt

/* Stacks, each below an unmapped 4 KiB guard page (kernel_setup() unmaps the guards). */
	.section .stack, "aw", @nobits
	.balign 4096
	.globl kernel_stack_guard, ist1_stack_guard, user_stack_guard
	.globl kernel_stack_top, ist1_stack_top, user_stack_top
kernel_stack_guard:
	.skip 4096
	.skip KERNEL_STACK_SIZE
kernel_stack_top:
ist1_stack_guard:
	.skip 4096
	.skip IST_STACK_SIZE
ist1_stack_top:
user_stack_guard:
	.skip 4096
	.skip USER_STACK_SIZE
user_stack_top:

	.section .note.GNU-stack, "", @progbits
