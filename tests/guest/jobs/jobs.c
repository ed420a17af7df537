// SPDX-License-Identifier: GPL-2.0-or-later
#include "jobs/jobs.h"

#include <stdbool.h>

#include "abi.h"
#include "lib/log.h"
#include "lib/string.h"
#include "user/runtime.h"

static const struct job job_table[] = {
    {"exit", JOB_ARG_REQUIRED, job_exit},
    {"print", JOB_ARG_REQUIRED, job_print},
    {"dirty", JOB_ARG_REQUIRED, job_dirty},
    {"sleep", JOB_ARG_REQUIRED, job_sleep},
    {"meminfo", JOB_ARG_NONE, job_meminfo},
    {"tsc", JOB_ARG_NONE, job_tsc},
    {"crash", JOB_ARG_REQUIRED, job_crash},
    {"ticks", JOB_ARG_REQUIRED, job_ticks},
    {"count", JOB_ARG_NONE, job_count},
    {"reset", JOB_ARG_REQUIRED, job_reset},
    {"acpi", JOB_ARG_NONE, job_acpi},
    {"poweroff", JOB_ARG_NONE, job_poweroff},
    {"powerbutton", JOB_ARG_NONE, job_powerbutton},
    {"ip", JOB_ARG_REQUIRED, job_ip},
    {"gw", JOB_ARG_REQUIRED, job_gw},
    {"mac", JOB_ARG_REQUIRED, job_mac},
    {"seed", JOB_ARG_REQUIRED, job_seed},
    {"net", JOB_ARG_NONE, job_net},
    {"echo", JOB_ARG_OPTIONAL, job_echo},
    {"kv", JOB_ARG_NONE, job_kv},
    {"dirtier", JOB_ARG_REQUIRED, job_dirtier},
    {"serve", JOB_ARG_REQUIRED, job_serve},
    {"pci", JOB_ARG_OPTIONAL, job_pci},
    {"idle", JOB_ARG_REQUIRED, job_idle},
    {"blk", JOB_ARG_REQUIRED, job_blk},
};

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

uint64_t job_arg_u64(const char* job, struct job_arg_text arg) {
  uint64_t v;
  if (!parse_u64(arg.s, arg.n, &v)) {
    guest_fail(EXIT_BAD_ARGUMENT, "%s: bad number '%.*s'", job, (int)arg.n, arg.s);
  }
  return v;
}

static void run_word(const char* word, size_t len) {
  size_t name_len = 0;
  while (name_len < len && word[name_len] != '=') {
    name_len++;
  }
  bool has_arg = name_len < len;
  struct job_arg_text arg = {has_arg ? word + name_len + 1 : word + len,
                             has_arg ? len - name_len - 1 : 0};
  for (size_t i = 0; i < sizeof(job_table) / sizeof(job_table[0]); i++) {
    const struct job* j = &job_table[i];
    if (!str_equal_n(word, name_len, j->name)) {
      continue;
    }
    if (j->arg != JOB_ARG_OPTIONAL && has_arg != (j->arg == JOB_ARG_REQUIRED)) {
      guest_fail(EXIT_BAD_ARGUMENT, "bad job '%.*s': %s", (int)len, word,
                 has_arg ? "takes no argument" : "needs an argument");
    }
    j->run(arg);
    return;
  }
  log_warn("unknown job '%.*s'", (int)len, word);
}

void jobs_run(const char* cmdline) {
  const char* p = cmdline;
  for (;;) {
    while (*p && is_space(*p)) {
      p++;
    }
    if (!*p) {
      return;
    }
    const char* word = p;
    while (*p && !is_space(*p)) {
      p++;
    }
    run_word(word, (size_t)(p - word));
  }
}
