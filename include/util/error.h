// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/error.h
//
// Errors are values. A function that can fail returns `Status` (nothing on success) or
// `Result<T>` (a T on success). An `Error` carries one phrase of text with no trailing
// punctuation or newline, a class that QMP reports as its error class, and an optional hint.
// Each layer adds its context in front:
//
//   Result<Image> open_image(const std::string& path) {
//     COLO_ASSIGN_OR_RETURN(int fd, open_file(path));        // "open 'x.img': No such file"
//     COLO_TRY(check_header(fd).prepend("'" + path + "'"));  // "'x.img': bad magic 0x1234"
//     return Image{fd};
//   }
//
// Exceptions never cross module boundaries; no function in colovm throws.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace colo {

// The error classes QMP reports (QEMU's QapiErrorClass).
enum class ErrorClass {
  kGenericError,
  kCommandNotFound,
  kDeviceNotActive,
  kDeviceNotFound,
  kKvmMissingCap,
};

// Returns QMP's name of an error class, e.g. "GenericError".
std::string_view error_class_name(ErrorClass cls);

// printf-style formatting into a std::string.
std::string string_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

class [[nodiscard]] Error {
 public:
  explicit Error(std::string message, ErrorClass cls = ErrorClass::kGenericError)
      : message_(std::move(message)), class_(cls) {}

  // "what: strerror(err)", e.g. errno_error(ENOENT, "open '/x'") -> "open '/x': No such file..."
  static Error from_errno(int err, std::string_view what);

  const std::string& message() const { return message_; }
  ErrorClass error_class() const { return class_; }
  const std::string& hint() const { return hint_; }

  // Adds context in front: "context: message". Returns *this for chaining.
  Error& prepend(std::string_view context) &;
  Error&& prepend(std::string_view context) &&;
  // A separate line of advice for humans; not part of the message.
  Error& set_hint(std::string hint) &;
  Error&& set_hint(std::string hint) &&;

 private:
  std::string message_;
  ErrorClass class_;
  std::string hint_;
};

// printf-style constructor for the common case.
Error make_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// "formatted: strerror(err)".
Error errno_error(int err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  // Adds context in front of the error, if any.
  Result&& prepend(std::string_view context) && {
    if (!ok())
      std::get<1>(v_).prepend(context);
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }

  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

  Result&& prepend(std::string_view context) && {
    if (error_)
      error_->prepend(context);
    return std::move(*this);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok_status() {
  return {};
}

}  // namespace colo

#define COLO_CONCAT_INNER_(a, b) a##b
#define COLO_CONCAT_(a, b) COLO_CONCAT_INNER_(a, b)

// Returns the error of a Status/Result expression from the enclosing function.
#define COLO_TRY(expr)                            \
  do {                                            \
    auto colo_try_status_ = (expr);               \
    if (!colo_try_status_.ok()) [[unlikely]] {    \
      return std::move(colo_try_status_).error(); \
    }                                             \
  } while (0)

// `COLO_ASSIGN_OR_RETURN(auto x, f());` declares/assigns x from a Result or returns its error.
#define COLO_ASSIGN_OR_RETURN(lhs, expr) \
  COLO_ASSIGN_OR_RETURN_IMPL_(COLO_CONCAT_(colo_result_, __LINE__), lhs, expr)
#define COLO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) [[unlikely]] {                     \
    return std::move(tmp).error();                  \
  }                                                 \
  lhs = std::move(tmp).value()
