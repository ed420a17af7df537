// SPDX-License-Identifier: GPL-2.0-or-later
/* Small jobs: exit, print, sleep, meminfo, tsc. */
#include "abi.h"
#include "drivers/tsc.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "user/bootinfo.h"
#include "user/pages.h"
#include "user/runtime.h"

void job_exit(struct job_arg_text arg) {
  uint64_t status = job_arg_u64("exit", arg);
  if (status > UINT32_MAX) {
    guest_fail(EXIT_BAD_ARGUMENT, "exit: status %lu does not fit in 32 bits", status);
  }
  guest_exit((uint32_t)status);
}

void job_print(struct job_arg_text arg) {
  log_line("print %.*s", (int)arg.n, arg.s);
}

void job_sleep(struct job_arg_text arg) {
  uint64_t ms = job_arg_u64("sleep", arg);
  bool ok;
  uint64_t khz = tsc_khz(&ok);
  if (!ok) {
    log_warn("sleep: cannot calibrate the TSC (no PIT?), not sleeping");
    return;
  }
  static bool reported;
  if (!reported) {
    log_line("tsc %lu kHz", khz);
    reported = true;
  }
  delay_us(ms * 1000);
  log_line("slept %lu ms", ms);
}

static void print_extent(uint64_t addr, uint64_t pages) {
  log_line("free 0x%lx size 0x%lx pages %lu", addr, pages * PAGE_SIZE, pages);
}

void job_meminfo(struct job_arg_text arg) {
  (void)arg;
  for (uint32_t i = 0; i < boot_info.memmap_entries; i++) {
    const struct hvm_memmap_entry* m = &boot_info.memmap[i];
    log_line("memmap 0x%lx size 0x%lx type %u", m->addr, m->size, m->type);
  }
  log_line("image 0x%lx size 0x%lx mapped-below 0x%lx", (uint64_t)(uintptr_t)__image_start,
           kernel_info.reserved_end - (uint64_t)(uintptr_t)__image_start, kernel_info.mapped_end);
  pages_for_each_free(print_extent);
  log_line("free total pages %lu", pages_free_count());
}

void job_tsc(struct job_arg_text arg) {
  (void)arg;
  log_line("tsc entry %lu ring3 %lu now %lu", kernel_info.tsc_entry, kernel_info.tsc_user, rdtsc());
}
