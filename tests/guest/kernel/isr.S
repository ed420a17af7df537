/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Interrupt entry: 256 stubs, ISR_STUB_SIZE bytes apart at ISR_STUBS_ADDR (the prebuilt
 * IDT in tables.S points at ISR_STUBS_ADDR + ISR_STUB_SIZE * vector). Each pushes a dummy
 * error code where the CPU does not push one, then the vector, and jumps to isr_common,
 * which saves the general registers as a struct trap_frame (kernel/kernel.h) and calls
 * trap_dispatch().
 */
#include "abi.h"

	.section .text.isr, "ax", @progbits
	.balign ISR_STUB_SIZE
	.globl isr_stubs, isr_stubs_addr
	.set isr_stubs_addr, ISR_STUBS_ADDR	/* for the check in linker.ld */
isr_stubs:
	.set .Lvec, 0
	.rept 256
	.balign ISR_STUB_SIZE
	/* Exceptions with an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX. */
	.if !(.Lvec == 8 || .Lvec == 10 || .Lvec == 11 || .Lvec == 12 || .Lvec == 13 || \
	      .Lvec == 14 || .Lvec == 17 || .Lvec == 21 || .Lvec == 29 || .Lvec == 30)
	pushq $0
	.endif
	pushq $.Lvec
	jmp isr_common
	.set .Lvec, .Lvec + 1
	.endr
	.balign ISR_STUB_SIZE
	.globl isr_stubs_end
isr_stubs_end:			/* linker.ld checks isr_stubs_end - isr_stubs == 256 * 16 */

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi			/* 16-byte aligned: 22 quadwords above an aligned RSP */
	call trap_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp			/* vector and error code */
	iretq

	.section .note.GNU-stack, "", @progbits
