// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * crash=KIND: raises a CPU exception in ring 3 on purpose, to test the exception report
 * (and a VMM's handling of the guest's exit status), or, with exec-mmio, a KVM internal error.
 */
#include <stdint.h>

#include "abi.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "lib/string.h"
#include "user/runtime.h"

/* Never mapped: PML4 entry 1 (512 GiB and up) is not present. */
#define UNMAPPED_ADDRESS UINT64_C(0x8000000000)
/* Mapped (the 32-bit MMIO window is identity-mapped) but no RAM or device behind it. */
#define MMIO_HOLE_ADDRESS UINT64_C(0xfed00000)

void job_crash(struct job_arg_text arg) {
  log_line("crash %.*s", (int)arg.n, arg.s);
  if (str_equal_n(arg.s, arg.n, "ud")) {
    __asm__ volatile("ud2"); /* #UD, vector 6 */
  } else if (str_equal_n(arg.s, arg.n, "pf")) {
    (void)*(volatile uint64_t*)(uintptr_t)UNMAPPED_ADDRESS; /* #PF, vector 14 */
  } else if (str_equal_n(arg.s, arg.n, "gp")) {
    __asm__ volatile("cli"); /* #GP(0), vector 13: IOPL is 0 */
  } else if (str_equal_n(arg.s, arg.n, "de")) {
    uint32_t zero = 0;
    __asm__ volatile("divl %0" : : "r"(zero), "a"(1), "d"(0)); /* #DE, vector 0 */
  } else if (str_equal_n(arg.s, arg.n, "exec-mmio")) {
    /* Fetching instructions from memory that is not RAM: KVM cannot emulate that and stops
     * the vCPU with an internal error, on any host. */
    ((void (*)(void))(uintptr_t)MMIO_HOLE_ADDRESS)();
  } else {
    guest_fail(EXIT_BAD_ARGUMENT, "crash: unknown kind '%.*s' (ud, pf, gp, de, exec-mmio)",
               (int)arg.n, arg.s);
  }
  guest_fail(EXIT_PANIC, "crash: no exception");
}
