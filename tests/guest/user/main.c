// SPDX-License-Identifier: GPL-2.0-or-later
/* Ring 3 main: boot line, devices, page allocator, then the command line's jobs. */
#include "abi.h"
#include "drivers/pic.h"
#include "drivers/uart.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "pvh.h"
#include "services/service.h"
#include "user/bootinfo.h"
#include "user/pages.h"
#include "user/runtime.h"
#include "user/syscall.h"

#define MIB (UINT64_C(1024) * 1024)

__attribute__((noreturn)) void user_main(const struct hvm_start_info* si);

void user_main(const struct hvm_start_info* si) {
  uart_init();
  /* Firmware output (SeaBIOS: "Booting from ROM..") may not end in a newline. */
  uart_write("\n", 1);
  const char* why = bootinfo_init(si);
  if (why) {
    log_line("boot failed: %s", why);
    guest_exit(EXIT_BAD_BOOT);
  }
  log_line("boot ok, %lu MiB RAM, cmdline '%s'", (boot_info.ram_bytes + MIB / 2) / MIB,
           boot_info.cmdline);
  if (boot_info.cmdline_truncated) {
    log_warn("command line longer than %u bytes, truncated", CMDLINE_MAX - 1);
  }
  pic_init_masked();
  pages_init(&boot_info);

  jobs_run(boot_info.cmdline);
  services_run_if_any(); /* net, echo, kv, dirtier: serve until the VM is stopped */

  log_line("idle");
  sys_halt();
}
