// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Jobs that exercise the VMM rather than the guest:
 *   count        increments a 64-bit counter in RAM forever (a host test reads it at the
 *                printed physical address to see whether the vCPU runs)
 *   reset=KIND   resets the machine through port 0xcf9 (cf9) or the 8042 controller (kbd)
 */
#include <stdint.h>

#include "abi.h"
#include "drivers/pio.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "lib/string.h"
#include "user/runtime.h"

static volatile uint64_t counter;

void job_count(struct job_arg_text arg) {
  (void)arg;
  /* The image is identity-mapped: the virtual address is the physical one. */
  log_line("count at 0x%lx", (unsigned long)(uintptr_t)&counter);
  for (;;) {
    counter = counter + 1;
  }
}

void job_reset(struct job_arg_text arg) {
  log_line("reset %.*s", (int)arg.n, arg.s);
  if (str_equal_n(arg.s, arg.n, "cf9")) {
    outb(0xcf9, 0x02);
    outb(0xcf9, 0x06); /* hard reset */
  } else if (str_equal_n(arg.s, arg.n, "kbd")) {
    outb(0x64, 0xfe); /* pulse the CPU reset line */
  } else {
    guest_fail(EXIT_BAD_ARGUMENT, "reset: unknown kind '%.*s' (cf9, kbd)", (int)arg.n, arg.s);
  }
  guest_fail(EXIT_PANIC, "reset: the machine did not reset");
}
