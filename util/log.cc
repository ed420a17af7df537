// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace colo {

namespace {

std::mutex log_mutex;
const char* program_name = "colovm";
std::atomic<int> debug_state{-1};  // -1: not decided yet

void vreport(const char* kind, const char* fmt, va_list ap) {
  std::string line = string_printf("%s: %s", program_name, kind);
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n > 0) {
    std::string msg(static_cast<size_t>(n), '\0');
    vsnprintf(msg.data(), msg.size() + 1, fmt, ap);
    line += msg;
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(log_mutex);
  fputs(line.c_str(), stderr);
  fflush(stderr);
}

}  // namespace

void error_report(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("", fmt, ap);
  va_end(ap);
}

void warn_report(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("warning: ", fmt, ap);
  va_end(ap);
}

void info_report(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("", fmt, ap);
  va_end(ap);
}

void debug_report(const char* fmt, ...) {
  if (!debug_enabled())
    return;
  va_list ap;
  va_start(ap, fmt);
  vreport("debug: ", fmt, ap);
  va_end(ap);
}

void error_report_err(const Error& err) {
  // One line, so that scripts and management software get the whole story from one read.
  if (err.hint().empty()) {
    error_report("%s", err.message().c_str());
  } else {
    error_report("%s (%s)", err.message().c_str(), err.hint().c_str());
  }
}

bool debug_enabled() {
  int s = debug_state.load(std::memory_order_relaxed);
  if (s < 0) {
    const char* env = getenv("COLOVM_DEBUG");
    s = (env != nullptr && env[0] != '\0' && env[0] != '0') ? 1 : 0;
    debug_state.store(s, std::memory_order_relaxed);
  }
  return s == 1;
}

void set_debug_enabled(bool on) {
  debug_state.store(on ? 1 : 0, std::memory_order_relaxed);
}

void set_log_program_name(const char* name) {
  program_name = name;
}

}  // namespace colo
