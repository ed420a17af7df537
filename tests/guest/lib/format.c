// SPDX-License-Identifier: GPL-2.0-or-later
#include "lib/format.h"

#include <stdbool.h>
#include <stdint.h>

#include "lib/string.h"

struct spec {
  bool left;     /* '-' */
  bool zero;     /* '0' */
  int width;     /* -1 if none */
  int precision; /* -1 if none */
};

struct out {
  format_sink sink;
  void* ctx;
  size_t count;
};

static void emit(struct out* o, const char* s, size_t n) {
  if (n) {
    o->sink(o->ctx, s, n);
    o->count += n;
  }
}

static void pad(struct out* o, char c, int n) {
  char chunk[16];
  memset(chunk, c, sizeof(chunk));
  while (n > 0) {
    size_t k = n < (int)sizeof(chunk) ? (size_t)n : sizeof(chunk);
    emit(o, chunk, k);
    n -= (int)k;
  }
}

/* Emits s (n bytes) in a field of spec->width, padded with spaces. */
static void emit_field(struct out* o, const struct spec* spec, const char* s, size_t n) {
  int fill = spec->width > (int)n ? spec->width - (int)n : 0;
  if (!spec->left) {
    pad(o, ' ', fill);
  }
  emit(o, s, n);
  if (spec->left) {
    pad(o, ' ', fill);
  }
}

static void emit_number(struct out* o, const struct spec* spec, uint64_t value, unsigned base,
                        bool upper, bool negative, const char* prefix) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char buf[24];
  size_t n = 0;
  do {
    buf[sizeof(buf) - 1 - n++] = digits[value % base];
    value /= base;
  } while (value);
  size_t prefix_len = strlen(prefix) + (negative ? 1 : 0);
  int fill = spec->width > (int)(n + prefix_len) ? spec->width - (int)(n + prefix_len) : 0;
  if (!spec->left && !spec->zero) {
    pad(o, ' ', fill);
  }
  if (negative) {
    emit(o, "-", 1);
  }
  emit(o, prefix, strlen(prefix));
  if (!spec->left && spec->zero) {
    pad(o, '0', fill);
  }
  emit(o, buf + sizeof(buf) - n, n);
  if (spec->left) {
    pad(o, ' ', fill);
  }
}

static int parse_int(const char** p) {
  int v = 0;
  while (**p >= '0' && **p <= '9') {
    v = v * 10 + (**p - '0');
    (*p)++;
  }
  return v;
}

size_t format_v(format_sink sink, void* ctx, const char* fmt, va_list ap) {
  struct out o = {sink, ctx, 0};
  const char* p = fmt;
  while (*p) {
    const char* lit = p;
    while (*p && *p != '%') {
      p++;
    }
    emit(&o, lit, (size_t)(p - lit));
    if (!*p) {
      break;
    }
    p++; /* '%' */

    struct spec spec = {false, false, -1, -1};
    for (;; p++) {
      if (*p == '-') {
        spec.left = true;
      } else if (*p == '0') {
        spec.zero = true;
      } else {
        break;
      }
    }
    if (*p == '*') {
      spec.width = va_arg(ap, int);
      p++;
      if (spec.width < 0) {
        spec.left = true;
        spec.width = -spec.width;
      }
    } else {
      spec.width = parse_int(&p);
    }
    if (*p == '.') {
      p++;
      if (*p == '*') {
        spec.precision = va_arg(ap, int);
        p++;
      } else {
        spec.precision = parse_int(&p);
      }
    }
    int longs = 0; /* 0: int, 1: long, 2: long long / size_t */
    while (*p == 'l' || *p == 'h' || *p == 'z') {
      if (*p == 'l') {
        longs++;
      } else if (*p == 'z') {
        longs = 2;
      }
      p++;
    }

    char conv = *p;
    if (!conv) {
      break;
    }
    p++;
    switch (conv) {
      case 'd':
      case 'i': {
        int64_t v = longs == 0   ? va_arg(ap, int)
                    : longs == 1 ? va_arg(ap, long)
                                 : va_arg(ap, long long);
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        emit_number(&o, &spec, mag, 10, false, v < 0, "");
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        uint64_t v = longs == 0   ? va_arg(ap, unsigned int)
                     : longs == 1 ? va_arg(ap, unsigned long)
                                  : va_arg(ap, unsigned long long);
        emit_number(&o, &spec, v, conv == 'u' ? 10 : 16, conv == 'X', false, "");
        break;
      }
      case 'p':
        emit_number(&o, &spec, (uintptr_t)va_arg(ap, void*), 16, false, false, "0x");
        break;
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) {
          s = "(null)";
        }
        size_t n = spec.precision >= 0 ? strnlen(s, (size_t)spec.precision) : strlen(s);
        emit_field(&o, &spec, s, n);
        break;
      }
      case 'c': {
        char c = (char)va_arg(ap, int);
        emit_field(&o, &spec, &c, 1);
        break;
      }
      case '%':
        emit(&o, "%", 1);
        break;
      default: /* unknown conversion: print it as it was written */
        emit(&o, "%", 1);
        emit(&o, &conv, 1);
        break;
    }
  }
  return o.count;
}

struct buf_ctx {
  char* buf;
  size_t size;
  size_t used;
};

static void buf_sink(void* ctx, const char* s, size_t n) {
  struct buf_ctx* b = ctx;
  if (b->size == 0) {
    return;
  }
  size_t room = b->size - 1 - b->used;
  size_t k = n < room ? n : room;
  memcpy(b->buf + b->used, s, k);
  b->used += k;
}

size_t format_buf_v(char* buf, size_t size, const char* fmt, va_list ap) {
  struct buf_ctx b = {buf, size, 0};
  size_t n = format_v(buf_sink, &b, fmt, ap);
  if (size) {
    buf[b.used] = '\0';
  }
  return n;
}

size_t format_buf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = format_buf_v(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
