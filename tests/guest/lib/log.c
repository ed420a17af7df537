// SPDX-License-Identifier: GPL-2.0-or-later
#include "lib/log.h"

#include <stddef.h>

#include "drivers/uart.h"
#include "lib/format.h"
#include "lib/string.h"

/* Collects output so the UART sees a few large writes instead of many small ones. */
struct line_buf {
  char data[64];
  size_t used;
};

static void flush(struct line_buf* b) {
  uart_write(b->data, b->used);
  b->used = 0;
}

static void sink(void* ctx, const char* s, size_t n) {
  struct line_buf* b = ctx;
  while (n) {
    if (b->used == sizeof(b->data)) {
      flush(b);
    }
    size_t k = sizeof(b->data) - b->used;
    if (k > n) {
      k = n;
    }
    memcpy(b->data + b->used, s, k);
    b->used += k;
    s += k;
    n -= k;
  }
}

static void emit_line(const char* tag, const char* fmt, va_list ap) {
  struct line_buf b;
  b.used = 0;
  sink(&b, LOG_PREFIX, sizeof(LOG_PREFIX) - 1);
  sink(&b, tag, strlen(tag));
  format_v(sink, &b, fmt, ap);
  sink(&b, "\n", 1);
  flush(&b);
}

void log_line_v(const char* fmt, va_list ap) {
  emit_line("", fmt, ap);
}

void log_line(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit_line("", fmt, ap);
  va_end(ap);
}

void log_warn(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit_line("warning: ", fmt, ap);
  va_end(ap);
}

void log_error_v(const char* fmt, va_list ap) {
  emit_line("error: ", fmt, ap);
}

void log_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit_line("error: ", fmt, ap);
  va_end(ap);
}
