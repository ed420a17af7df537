// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/json-streamer.h"

#include <cstdio>

namespace colo {

namespace {

bool is_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_structural(uint8_t c) {
  return c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':' || c == '"' ||
         c == '\'';
}

constexpr uint8_t kResync = 0xff;

// nlohmann's DOM builder, with the parse error captured instead of thrown.
class CapturingSax : public nlohmann::detail::json_sax_dom_parser<nlohmann::json> {
 public:
  explicit CapturingSax(nlohmann::json& root)
      : nlohmann::detail::json_sax_dom_parser<nlohmann::json>(root, false) {}

  template <class Exception>
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const Exception& ex) {
    error_ = ex.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

}  // namespace

Result<nlohmann::json> json_parse_text(std::string_view text) {
  nlohmann::json root;
  CapturingSax sax(root);
  bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &sax,
                                      nlohmann::json::input_format_t::json, true, false);
  if (!ok || root.is_discarded()) {
    std::string what = sax.error();
    // "[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while
    // parsing value - unexpected '}'; expected ..." -> the part after the position.
    auto col = what.find("column ");
    if (col != std::string::npos) {
      auto colon = what.find(": ", col);
      if (colon != std::string::npos)
        what = what.substr(colon + 2);
    }
    if (what.empty())
      what = "invalid syntax";
    return make_error("JSON parse error, %s", what.c_str());
  }
  return root;
}

void JsonStreamer::reset() {
  state_ = State::kIdle;
  depth_ = 0;
  too_big_ = false;
  buf_.clear();
}

void JsonStreamer::append(char c) {
  if (buf_.size() >= max_size_) {
    too_big_ = true;
    return;
  }
  buf_.push_back(c);
}

bool JsonStreamer::emit(const Handler& handler) {
  std::string text;
  text.swap(buf_);
  state_ = State::kIdle;
  depth_ = 0;
  return handler(json_parse_text(text));
}

bool JsonStreamer::fail(const Handler& handler, std::string message) {
  buf_.clear();
  buf_.shrink_to_fit();
  too_big_ = false;
  return handler(Error(std::move(message)));
}

size_t JsonStreamer::feed(std::span<const uint8_t> data, const Handler& handler) {
  size_t i = 0;
  while (i < data.size()) {
    const uint8_t c = data[i];
    bool go_on = true;
    switch (state_) {
      case State::kIdle:
        if (c == kResync || is_space(c))
          break;
        if (c == '{' || c == '[') {
          state_ = State::kStructure;
          depth_ = 1;
          buf_.assign(1, static_cast<char>(c));
        } else if (c == '"' || c == '\'') {
          state_ = c == '"' ? State::kDqString : State::kSqString;
          string_top_level_ = true;
          buf_.assign(1, '"');
        } else if (c == '}' || c == ']' || c == ',' || c == ':') {
          go_on = fail(handler, "JSON parse error, expecting value");
        } else {
          state_ = State::kScalar;
          buf_.assign(1, static_cast<char>(c));
        }
        break;

      case State::kScalar:
        if (c == kResync) {
          reset();
          break;
        }
        if (is_space(c) || is_structural(c)) {
          // The scalar ended; this byte starts what comes next.
          if (!emit(handler))
            return i;
          continue;
        }
        append(static_cast<char>(c));
        if (too_big_) {
          // Skip the rest of the scalar.
          go_on = fail(handler, "JSON token size limit exceeded");
          state_ = State::kSkip;
          depth_ = 0;
          skip_quote_ = 0;
          skip_escape_ = false;
          skip_scalar_ = true;
        }
        break;

      case State::kStructure:
        if (c == kResync) {
          reset();
          break;
        }
        if (c == '"') {
          state_ = State::kDqString;
          string_top_level_ = false;
          append('"');
        } else if (c == '\'') {
          state_ = State::kSqString;
          string_top_level_ = false;
          append('"');
        } else if (c == '{' || c == '[') {
          depth_++;
          append(static_cast<char>(c));
          if (depth_ > max_depth_) {
            go_on = fail(handler, "JSON nesting depth limit exceeded");
            enter_skip(0, false);
            break;
          }
        } else if (c == '}' || c == ']') {
          depth_--;
          append(static_cast<char>(c));
          if (depth_ == 0 && !too_big_) {
            i++;
            if (!emit(handler))
              return i;
            continue;
          }
        } else {
          append(static_cast<char>(c));
        }
        if (too_big_) {
          char quote = state_ == State::kDqString ? '"' : state_ == State::kSqString ? '\'' : 0;
          go_on = fail(handler, "JSON token size limit exceeded");
          enter_skip(quote, false);
        }
        break;

      case State::kDqString:
      case State::kDqEscape:
      case State::kSqString:
      case State::kSqEscape: {
        bool ended = false;
        if (state_ == State::kDqString) {
          append(static_cast<char>(c));
          if (c == '\\') {
            state_ = State::kDqEscape;
          } else if (c == '"') {
            ended = true;
          }
        } else if (state_ == State::kDqEscape) {
          append(static_cast<char>(c));
          state_ = State::kDqString;
        } else if (state_ == State::kSqString) {
          if (c == '\\') {
            state_ = State::kSqEscape;
          } else if (c == '\'') {
            append('"');
            ended = true;
          } else if (c == '"') {
            append('\\');
            append('"');
          } else {
            append(static_cast<char>(c));
          }
        } else {  // kSqEscape: \' is a quote; other escapes are JSON's
          if (c != '\'')
            append('\\');
          append(static_cast<char>(c));
          state_ = State::kSqString;
        }
        if (too_big_) {
          bool single = state_ == State::kSqString || state_ == State::kSqEscape;
          bool escape = state_ == State::kDqEscape || state_ == State::kSqEscape;
          bool top = string_top_level_;
          go_on = fail(handler, "JSON token size limit exceeded");
          if (ended) {
            if (top) {
              state_ = State::kIdle;
              depth_ = 0;
            } else {
              enter_skip(0, false);
            }
          } else {
            enter_skip(single ? '\'' : '"', escape);
          }
          break;
        }
        if (ended) {
          if (string_top_level_) {
            i++;
            if (!emit(handler))
              return i;
            continue;
          }
          state_ = State::kStructure;
        }
        break;
      }

      case State::kSkip:
        if (skip_quote_ != 0) {
          if (skip_escape_) {
            skip_escape_ = false;
          } else if (c == '\\') {
            skip_escape_ = true;
          } else if (c == skip_quote_) {
            skip_quote_ = 0;
            if (depth_ == 0)
              state_ = State::kIdle;
          }
          break;
        }
        if (c == kResync) {
          reset();
          break;
        }
        if (skip_scalar_) {
          if (is_space(c) || is_structural(c)) {
            state_ = State::kIdle;
            continue;
          }
          break;
        }
        if (c == '"' || c == '\'') {
          skip_quote_ = static_cast<char>(c);
        } else if (c == '{' || c == '[') {
          depth_++;
        } else if (c == '}' || c == ']') {
          depth_--;
          if (depth_ <= 0)
            reset();
        }
        break;
    }
    i++;
    if (!go_on)
      return i;
  }
  return i;
}

void JsonStreamer::enter_skip(char quote, bool escape) {
  state_ = depth_ > 0 || quote != 0 ? State::kSkip : State::kIdle;
  skip_quote_ = quote;
  skip_escape_ = escape;
  skip_scalar_ = false;
  buf_.clear();
  buf_.shrink_to_fit();
}

// Serialization ----------------------------------------------------------------------------

namespace {

// Decodes one UTF-8 sequence at s[*i]; returns the code point or -1 (and skips one byte).
int32_t next_code_point(std::string_view s, size_t* i) {
  auto b0 = static_cast<uint8_t>(s[*i]);
  if (b0 < 0x80) {
    (*i)++;
    return b0;
  }
  int len = 0;
  int32_t cp = 0;
  int32_t min = 0;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    (*i)++;
    return -1;
  }
  if (*i + static_cast<size_t>(len) > s.size()) {
    (*i)++;
    return -1;
  }
  for (int k = 1; k < len; k++) {
    auto b = static_cast<uint8_t>(s[*i + static_cast<size_t>(k)]);
    if ((b & 0xc0) != 0x80) {
      (*i)++;
      return -1;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    (*i)++;
    return -1;
  }
  *i += static_cast<size_t>(len);
  return cp;
}

void append_escaped(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  char tmp[16];
  while (i < s.size()) {
    int32_t cp = next_code_point(s, &i);
    switch (cp) {
      case '"':
        out->append("\\\"");
        continue;
      case '\\':
        out->append("\\\\");
        continue;
      case '\b':
        out->append("\\b");
        continue;
      case '\f':
        out->append("\\f");
        continue;
      case '\n':
        out->append("\\n");
        continue;
      case '\r':
        out->append("\\r");
        continue;
      case '\t':
        out->append("\\t");
        continue;
      default:
        break;
    }
    if (cp < 0)
      cp = 0xfffd;
    if (cp >= 0x20 && cp < 0x7f) {
      out->push_back(static_cast<char>(cp));
    } else if (cp >= 0x10000) {
      int32_t v = cp - 0x10000;
      snprintf(tmp, sizeof(tmp), "\\u%04X\\u%04X", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
      out->append(tmp);
    } else {
      snprintf(tmp, sizeof(tmp), "\\u%04X", cp);
      out->append(tmp);
    }
  }
  out->push_back('"');
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out;
  append_escaped(s, &out);
  return out;
}

void json_append_qemu_text(const nlohmann::json& value, std::string* out) {
  switch (value.type()) {
    case nlohmann::json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, member] : value.items()) {
        if (!first)
          out->append(", ");
        first = false;
        append_escaped(key, out);
        out->append(": ");
        json_append_qemu_text(member, out);
      }
      out->push_back('}');
      break;
    }
    case nlohmann::json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& element : value) {
        if (!first)
          out->append(", ");
        first = false;
        json_append_qemu_text(element, out);
      }
      out->push_back(']');
      break;
    }
    case nlohmann::json::value_t::string:
      append_escaped(value.get_ref<const std::string&>(), out);
      break;
    case nlohmann::json::value_t::discarded:
      out->append("null");
      break;
    default:
      out->append(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      break;
  }
}

std::string json_to_qemu_text(const nlohmann::json& value) {
  std::string out;
  json_append_qemu_text(value, &out);
  return out;
}

}  // namespace colo
