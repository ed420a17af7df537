// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ticks=N: waits for N timer interrupts (PIT channel 0 at 1 kHz through the 8259 and the
 * local APIC's LINT0) with sti; hlt in ring 0. Exercises the whole interrupt path.
 */
#include "drivers/lapic.h"
#include "drivers/pic.h"
#include "drivers/pit.h"
#include "drivers/tsc.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "user/syscall.h"

#define TICK_HZ 1000

void job_ticks(struct job_arg_text arg) {
  uint64_t n = job_arg_u64("ticks", arg);
  lapic_virtual_wire();
  pit_periodic(TICK_HZ);
  pic_unmask(PIT_IRQ);
  uint64_t start = rdtsc();
  for (uint64_t i = 0; i < n; i++) {
    sys_wait(); /* only IRQ 0 is unmasked: one wait, one tick */
  }
  uint64_t end = rdtsc();
  pic_mask(PIT_IRQ);
  pit_stop();
  log_line("ticks %lu at %u Hz took %lu tsc", n, TICK_HZ, end - start);
}
