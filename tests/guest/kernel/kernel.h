// SPDX-License-Identifier: GPL-2.0-or-later
/* Ring-0 internals: the trap frame and the symbols of boot.S, tables.S and isr.S. */
#ifndef TESTGUEST_KERNEL_KERNEL_H
#define TESTGUEST_KERNEL_KERNEL_H

#include <stdint.h>

#include "abi.h"
#include "pvh.h"

/*
 * Ring 0 writes its state only to .data: ring 3 clears .bss when it starts. Use this
 * for zero-initialised variables that ring 0 sets.
 */
#define KERNEL_DATA __attribute__((section(".data")))

/* Page table entry bits. */
#define PTE_P 0x001ull
#define PTE_RW 0x002ull
#define PTE_US 0x004ull
#define PTE_PWT 0x008ull
#define PTE_PCD 0x010ull
#define PTE_PS 0x080ull
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)
#define PDE_RAM (PTE_P | PTE_RW | PTE_US | PTE_PS)

#define SIZE_2M 0x200000ull
#define SIZE_1G 0x40000000ull
#define SIZE_4G 0x100000000ull
#define MMIO_WINDOW_START 0xc0000000ull

/* What isr_common pushes (lowest address first), then what the CPU pushed. */
struct trap_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector;
  uint64_t error; /* 0 for vectors without an error code */
  uint64_t rip, cs, rflags, rsp, ss;
};

/* Exception vectors. */
#define VEC_BP 3
#define VEC_PF 14
#define VEC_FIRST_IRQ 32

/* tables.S / isr.S / linker.ld */
extern uint64_t gdt[];
extern const struct __attribute__((packed)) descriptor_pointer {
  uint16_t limit;
  uint64_t base;
} idt_descriptor;
extern uint8_t tss[], tss_end[];
extern uint64_t pdpt[512], pd_low[4 * 512], pt_low[512];
extern char kernel_stack_guard[], ist1_stack_guard[], user_stack_guard[];

/* setup.c, called by boot.S in long mode on the kernel stack. */
void kernel_setup(const struct hvm_start_info* si);

/* trap.c, called by isr_common. */
void trap_dispatch(struct trap_frame* f);

#endif
