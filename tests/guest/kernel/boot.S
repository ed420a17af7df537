/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PVH entry: 32-bit protected mode, paging off, EBX = struct hvm_start_info.
 * Switches to long mode with the static page tables of tables.S, lets kernel_setup()
 * finish the ring-0 state and drops to ring 3 at user_entry. Every instruction here runs
 * emulated on kvm-pvm (~1 us each), so this path is kept short.
 */
#include "abi.h"
#include "pvh.h"

#define CR0_PE 0x00000001
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/* The ELF note that makes this a PVH kernel: name "Xen", type 18, 32-bit entry address. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4				/* namesz */
	.long 4				/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY	/* type */
	.asciz "Xen"
	.balign 4
	.long pvh_entry

	.section .text.entry, "ax", @progbits
	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	rdtsc
	movl %eax, kernel_info + KERNEL_INFO_TSC_ENTRY
	movl %edx, kernel_info + KERNEL_INFO_TSC_ENTRY + 4
	movl %ebx, %esi			/* hvm_start_info, kept for ring 0 and ring 3 */

	lgdt gdt_descriptor		/* the 32-bit form reads limit + low 4 bytes of base */
	movl $CR4_PAE, %eax		/* exactly PAE: SMEP/SMAP stay off (ring 0 runs U=1 pages) */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $SEL_KERNEL_CS, $long_mode

	.code64
long_mode:
	movl $SEL_KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq $kernel_stack_top, %rsp
	movl %esi, %edi			/* zero-extends: start_info is below 4 GiB */
	movl %esi, %ebx
	call kernel_setup		/* IDT, TSS, high RAM (kernel/setup.c) */

	/* iretq to ring 3 with interrupts off: the guest works polled. */
	pushq $SEL_USER_DS
	pushq $user_stack_top
	pushq $0x2			/* RFLAGS: IF=0, IOPL=0 */
	pushq $SEL_USER_CS
	pushq $user_entry
	movl %ebx, %edi			/* user_entry(start_info) */
	xorl %esi, %esi
	xorl %ebp, %ebp
	iretq

	.section .note.GNU-stack, "", @progbits
