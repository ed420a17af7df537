// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A small printf-style formatter.
 *
 * Conversions: %d %i %u %x %X %p %s %c %%; flags '-' and '0'; a field width and, for %s,
 * a precision (both may be '*'); length modifiers hh h l ll z. %p prints 0x and hex.
 */
#ifndef TESTGUEST_LIB_FORMAT_H
#define TESTGUEST_LIB_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* Receives the formatted output piecewise. */
typedef void (*format_sink)(void* ctx, const char* s, size_t n);

/* Formats into sink; returns the number of characters produced. */
size_t format_v(format_sink sink, void* ctx, const char* fmt, va_list ap);

/* snprintf: always NUL-terminates when size > 0; returns the untruncated length. */
size_t format_buf(char* buf, size_t size, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t format_buf_v(char* buf, size_t size, const char* fmt, va_list ap);

#endif
