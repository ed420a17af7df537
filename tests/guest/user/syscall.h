// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Ring 3 -> ring 0: int3 through the DPL-3 gate of vector 3 (syscall, int n and vmcall
 * do not work on kvm-pvm). Number in rax, argument in rdi, result in rax; the kernel
 * restores every other register.
 */
#ifndef TESTGUEST_USER_SYSCALL_H
#define TESTGUEST_USER_SYSCALL_H

#include <stdint.h>

#include "abi.h"

static inline uint64_t sys_call(uint64_t nr, uint64_t arg) {
  __asm__ volatile("int3" : "+a"(nr) : "D"(arg) : "memory", "cc");
  return nr;
}

/* Returns after the next interrupt has been handled. */
static inline void sys_wait(void) {
  sys_call(SYS_WAIT, 0);
}

/* Idles (sti; hlt) until the VM is stopped. */
static inline __attribute__((noreturn)) void sys_halt(void) {
  sys_call(SYS_HALT, 0);
  __builtin_unreachable();
}

/* cli; hlt forever. */
static inline __attribute__((noreturn)) void sys_stop(void) {
  sys_call(SYS_STOP, 0);
  __builtin_unreachable();
}

#endif
