// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Output lines on the serial console. Every line starts with "testguest: " (LOG_PREFIX);
 * README.md documents the lines. Usable from ring 0 and ring 3.
 */
#ifndef TESTGUEST_LIB_LOG_H
#define TESTGUEST_LIB_LOG_H

#include <stdarg.h>

#define LOG_PREFIX "testguest: "

/* "testguest: <text>\n" */
void log_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_line_v(const char* fmt, va_list ap);

/* "testguest: warning: <text>\n" */
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/* "testguest: error: <text>\n" */
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error_v(const char* fmt, va_list ap);

#endif
