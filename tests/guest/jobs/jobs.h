// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Jobs: the words of the kernel command line, run in order. A word is NAME or NAME=ARG.
 * To add a job, write its function and add it to the table in jobs.c (and README.md).
 */
#ifndef TESTGUEST_JOBS_JOBS_H
#define TESTGUEST_JOBS_JOBS_H

#include <stddef.h>
#include <stdint.h>

enum job_arg {
  JOB_ARG_NONE,     /* NAME */
  JOB_ARG_REQUIRED, /* NAME=ARG */
  JOB_ARG_OPTIONAL, /* NAME or NAME=ARG (the job gets n == 0 without one) */
};

/* The argument of the job being run: points into the command line, not NUL-terminated. */
struct job_arg_text {
  const char* s;
  size_t n;
};

struct job {
  const char* name;
  enum job_arg arg;
  void (*run)(struct job_arg_text arg);
};

/* Runs every word of cmdline in order; returns when all have run. */
void jobs_run(const char* cmdline);

/* Parses the argument as a number or ends the VM with EXIT_BAD_ARGUMENT. */
uint64_t job_arg_u64(const char* job, struct job_arg_text arg);

/* The jobs (basic.c, dirty.c, crash.c, ticks.c, machine.c, acpi.c). */
void job_exit(struct job_arg_text arg);
void job_print(struct job_arg_text arg);
void job_sleep(struct job_arg_text arg);
void job_meminfo(struct job_arg_text arg);
void job_tsc(struct job_arg_text arg);
void job_dirty(struct job_arg_text arg);
void job_crash(struct job_arg_text arg);
void job_ticks(struct job_arg_text arg);
void job_count(struct job_arg_text arg);
void job_reset(struct job_arg_text arg);
void job_acpi(struct job_arg_text arg);
void job_poweroff(struct job_arg_text arg);
void job_powerbutton(struct job_arg_text arg);

/* Network, disk and service jobs (net.c). */
void job_ip(struct job_arg_text arg);
void job_gw(struct job_arg_text arg);
void job_mac(struct job_arg_text arg);
void job_seed(struct job_arg_text arg);
void job_net(struct job_arg_text arg);
void job_echo(struct job_arg_text arg);
void job_kv(struct job_arg_text arg);
void job_dirtier(struct job_arg_text arg);
void job_serve(struct job_arg_text arg);
void job_pci(struct job_arg_text arg);
void job_idle(struct job_arg_text arg);

/* Raw disk access (blk.c). */
void job_blk(struct job_arg_text arg);

#endif
