// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/log.h
//
// Messages for humans on stderr, QEMU style: "colovm: <message>". One line each, no trailing
// punctuation. error_report() is for errors the user must see; warn_report() for things that
// work but probably not as intended; info_report() for progress; debug_report() only when
// enabled with -d or COLOVM_DEBUG=1. All of them are thread-safe.
#pragma once

#include "util/error.h"

namespace colo {

void error_report(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warn_report(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info_report(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void debug_report(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Prints an Error as error_report() does, its hint in parentheses on the same line.
void error_report_err(const Error& err);

bool debug_enabled();
void set_debug_enabled(bool on);

// The prefix printed before each message; defaults to "colovm".
void set_log_program_name(const char* name);

}  // namespace colo
