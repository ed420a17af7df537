// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Everything that brings the CPU back to ring 0 lands here: the int3 system call from
 * ring 3, interrupts (counted and acknowledged) and exceptions (reported, then the VM is
 * ended with EXIT_EXCEPTION).
 */
#include "drivers/debugexit.h"
#include "drivers/lapic.h"
#include "drivers/pic.h"
#include "drivers/uart.h"
#include "kernel/kernel.h"
#include "lib/log.h"

#define LAPIC_EOI ((volatile uint32_t*)(uintptr_t)(LAPIC_BASE + LAPIC_REG_EOI))

KERNEL_DATA static uint64_t irq_count;
KERNEL_DATA static int in_exception;

/* Mnemonics of the exception vectors (SDM vol. 3, 6.3.1; AMD APM vol. 2, 8.2). */
static const char* const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE",  "#CP",
    "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};

static __attribute__((noreturn)) void stop(void) {
  for (;;) {
    __asm__ volatile("cli; hlt");
  }
}

static __attribute__((noreturn)) void halt_forever(void) {
  for (;;) {
    __asm__ volatile("sti; hlt; cli" : : : "memory");
  }
}

static void system_call(struct trap_frame* f) {
  switch (f->rax) {
    case SYS_NOP:
      f->rax = 0;
      break;
    case SYS_WAIT:
      __asm__ volatile("sti; hlt; cli" : : : "memory");
      f->rax = 0;
      break;
    case SYS_HALT:
      halt_forever();
    case SYS_STOP:
      stop();
    case SYS_IRQ_COUNT:
      f->rax = irq_count;
      break;
    default:
      f->rax = (uint64_t)-1;
      break;
  }
}

static void interrupt(const struct trap_frame* f) {
  irq_count++;
  if (f->vector < PIC_VECTOR_BASE + 16) {
    pic_eoi((unsigned)f->vector);
  } else if (f->vector != LAPIC_SPURIOUS_VECTOR) { /* spurious: no EOI */
    *LAPIC_EOI = 0;
  }
}

static __attribute__((noreturn)) void exception(const struct trap_frame* f) {
  if (in_exception++) {
    debug_exit(EXIT_EXCEPTION); /* an exception while reporting one: no more output */
    stop();
  }
  uint64_t v = f->vector;
  if (v == VEC_PF) {
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    log_line("exception %lu error 0x%lx rip 0x%lx cr2 0x%lx", v, f->error, f->rip, cr2);
  } else {
    log_line("exception %lu error 0x%lx rip 0x%lx", v, f->error, f->rip);
  }
  log_line("exception detail: %s, cpl %lu, rsp 0x%lx, rflags 0x%lx", exception_names[v & 31],
           f->cs & 3, f->rsp, f->rflags);
  log_line("exit %u", EXIT_EXCEPTION);
  uart_drain();
  debug_exit(EXIT_EXCEPTION);
  stop();
}

void trap_dispatch(struct trap_frame* f) {
  if (f->vector == VEC_BP && (f->cs & 3) == 3) {
    system_call(f);
  } else if (f->vector >= VEC_FIRST_IRQ) {
    interrupt(f);
  } else {
    exception(f);
  }
}
