// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/error.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace colo {

namespace {

std::string vformat(const char* fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  char small[256];
  int n = vsnprintf(small, sizeof(small), fmt, copy);
  va_end(copy);
  if (n < 0)
    return std::string(fmt);
  if (static_cast<size_t>(n) < sizeof(small))
    return std::string(small, n);
  std::string out(static_cast<size_t>(n), '\0');
  vsnprintf(out.data(), out.size() + 1, fmt, ap);
  return out;
}

}  // namespace

std::string_view error_class_name(ErrorClass cls) {
  switch (cls) {
    case ErrorClass::kGenericError:
      return "GenericError";
    case ErrorClass::kCommandNotFound:
      return "CommandNotFound";
    case ErrorClass::kDeviceNotActive:
      return "DeviceNotActive";
    case ErrorClass::kDeviceNotFound:
      return "DeviceNotFound";
    case ErrorClass::kKvmMissingCap:
      return "KVMMissingCap";
  }
  return "GenericError";
}

std::string string_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  return s;
}

Error Error::from_errno(int err, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += strerror(err);
  return Error(std::move(msg));
}

Error& Error::prepend(std::string_view context) & {
  if (!context.empty()) {
    std::string msg(context);
    msg += ": ";
    msg += message_;
    message_ = std::move(msg);
  }
  return *this;
}

Error&& Error::prepend(std::string_view context) && {
  prepend(context);
  return std::move(*this);
}

Error& Error::set_hint(std::string hint) & {
  hint_ = std::move(hint);
  return *this;
}

Error&& Error::set_hint(std::string hint) && {
  hint_ = std::move(hint);
  return std::move(*this);
}

Error make_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  return Error(std::move(s));
}

Error errno_error(int err, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vformat(fmt, ap);
  va_end(ap);
  return Error::from_errno(err, s);
}

}  // namespace colo
