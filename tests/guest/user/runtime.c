// SPDX-License-Identifier: GPL-2.0-or-later
#include "user/runtime.h"

#include <stdarg.h>

#include "drivers/debugexit.h"
#include "drivers/uart.h"
#include "lib/log.h"
#include "user/syscall.h"

void guest_exit(uint32_t status) {
  log_line("exit %u", status);
  uart_drain();
  debug_exit(status);
  log_warn("no debug-exit device at port 0x%x, stopping the vCPU", DEBUG_EXIT_PORT);
  sys_stop();
}

void guest_fail(uint32_t status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_error_v(fmt, ap);
  va_end(ap);
  guest_exit(status);
}
