// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/json-streamer.h
//
// Splits a byte stream (a QMP connection) into JSON texts and parses each one, as QEMU's
// json-streamer + json-parser do. Input is hostile: every limit is enforced before memory is
// spent, and errors are values, never crashes.
//
//   JsonStreamer s;
//   s.feed(bytes, [&](Result<nlohmann::json> value) { handle(value); return true; });
//
// - A text ends when its braces and brackets balance; a top-level scalar ends at the next
//   whitespace or structural character ("1 2" is two texts). Whitespace between texts is
//   skipped.
// - Single-quoted strings are accepted, as QEMU does ({'execute': 'cont'}).
// - A byte 0xFF (outside strings) throws away the text being read: clients send it to
//   resynchronise after an error, as with QEMU.
// - Limits: kMaxMessageSize bytes per text ("JSON token size limit exceeded") and kMaxDepth
//   levels of nesting ("JSON nesting depth limit exceeded"). After such an error the rest of
//   the offending text is skipped (its nesting is still tracked), so one oversized request
//   gives one error.
// - Syntax errors give "JSON parse error, <what>"; the streamer then continues with the next
//   text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace colo {

class JsonStreamer {
 public:
  static constexpr size_t kMaxMessageSize = 10u << 20;  // 10 MiB
  static constexpr int kMaxDepth = 1024;

  // Gets each parsed text or error; returns false to stop feed() after this text.
  using Handler = std::function<bool(Result<nlohmann::json> value)>;

  explicit JsonStreamer(size_t max_message_size = kMaxMessageSize, int max_depth = kMaxDepth)
      : max_size_(max_message_size), max_depth_(max_depth) {}

  // Consumes bytes until all are consumed or the handler returns false; returns the number of
  // bytes consumed. Bytes not consumed must be fed again later.
  size_t feed(std::span<const uint8_t> data, const Handler& handler);
  // Forgets any partial text (a new connection).
  void reset();
  // Whether a text has started but not ended.
  bool in_message() const { return state_ != State::kIdle; }

 private:
  enum class State {
    kIdle,       // between texts
    kStructure,  // inside {...} or [...]
    kScalar,     // a top-level number or keyword
    kDqString,   // inside "..."
    kDqEscape,   // after a backslash in "..."
    kSqString,   // inside '...'
    kSqEscape,   // after a backslash in '...'
    kSkip,       // skipping the rest of a text that broke a limit
  };

  // Returns false when the handler asked to stop.
  bool emit(const Handler& handler);
  bool fail(const Handler& handler, std::string message);
  void append(char c);
  // Skips the rest of the current text; `quote` is the string being skipped (0: none).
  void enter_skip(char quote, bool escape);

  size_t max_size_;
  int max_depth_;
  State state_ = State::kIdle;
  bool string_top_level_ = false;  // the string is the whole text
  int64_t depth_ = 0;
  bool too_big_ = false;
  char skip_quote_ = 0;
  bool skip_escape_ = false;
  bool skip_scalar_ = false;
  std::string buf_;
};

// Parses one JSON text (RFC 8259); errors read "JSON parse error, <what>".
Result<nlohmann::json> json_parse_text(std::string_view text);

// Serializes as QEMU does: {"a": 1, "b": [true, null]}, non-ASCII as \uXXXX, invalid UTF-8
// replaced. Object members in the json's order.
std::string json_to_qemu_text(const nlohmann::json& value);
void json_append_qemu_text(const nlohmann::json& value, std::string* out);
// A JSON string literal, with QEMU's escaping.
std::string json_quote(std::string_view s);

}  // namespace colo
