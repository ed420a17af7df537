// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/keyval.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace colo {

namespace {

// Reads up to the next unescaped `stop` character (or end); ",," becomes ','.
std::string read_part(std::string_view s, size_t* pos, char stop, bool* hit_stop) {
  std::string out;
  *hit_stop = false;
  while (*pos < s.size()) {
    char c = s[*pos];
    if (c == ',') {
      if (*pos + 1 < s.size() && s[*pos + 1] == ',') {
        out += ',';
        *pos += 2;
        continue;
      }
      break;
    }
    if (c == stop) {
      *hit_stop = true;
      (*pos)++;
      return out;
    }
    out += c;
    (*pos)++;
  }
  return out;
}

bool valid_key(std::string_view key) {
  if (key.empty())
    return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '+';
    if (!ok)
      return false;
  }
  return key.front() != '.' && key.back() != '.';
}

}  // namespace

Result<KeyvalList> keyval_parse_list(std::string_view params, std::string_view implied_key) {
  KeyvalList items;
  size_t pos = 0;
  bool first = true;
  if (params.empty())
    return items;
  while (pos <= params.size()) {
    size_t start = pos;
    bool has_eq = false;
    std::string key = read_part(params, &pos, '=', &has_eq);
    if (has_eq) {
      if (!valid_key(key)) {
        return make_error("Invalid parameter '%s'", key.c_str());
      }
      bool dummy;
      std::string value = read_part(params, &pos, '\0', &dummy);
      items.push_back({std::move(key), std::move(value)});
    } else if (first && !implied_key.empty()) {
      // The whole element is the implied key's value (it may contain '.' or ':' etc.).
      pos = start;
      bool dummy;
      std::string value = read_part(params, &pos, '\0', &dummy);
      items.push_back({std::string(implied_key), std::move(value)});
    } else {
      if (key.empty()) {
        if (pos >= params.size())
          break;  // trailing comma
        return make_error("Invalid parameter ''");
      }
      if (!valid_key(key) && key[0] != '-') {
        return make_error("Invalid parameter '%s'", key.c_str());
      }
      items.push_back({std::move(key), "on"});
    }
    first = false;
    if (pos >= params.size())
      break;
    pos++;  // skip ','
  }
  return items;
}

Result<KeyvalDict> keyval_parse(std::string_view params, std::string_view implied_key) {
  COLO_ASSIGN_OR_RETURN(KeyvalList list, keyval_parse_list(params, implied_key));
  KeyvalDict dict;
  for (auto& item : list)
    dict[item.key] = std::move(item.value);
  return dict;
}

Result<bool> parse_bool(std::string_view name, std::string_view value) {
  if (value == "on" || value == "yes" || value == "true" || value == "y")
    return true;
  if (value == "off" || value == "no" || value == "false" || value == "n")
    return false;
  return make_error("Parameter '%.*s' expects 'on' or 'off'", static_cast<int>(name.size()),
                    name.data());
}

Result<uint64_t> parse_uint(std::string_view name, std::string_view value) {
  std::string s(value);
  if (s.empty() || s[0] == '-' || s[0] == '+' || s[0] == ' ') {
    return make_error("Parameter '%.*s' expects a non-negative number",
                      static_cast<int>(name.size()), name.data());
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = strtoull(s.c_str(), &end, 0);
  if (errno != 0 || end == s.c_str() || *end != '\0') {
    return make_error("Parameter '%.*s' expects a non-negative number",
                      static_cast<int>(name.size()), name.data());
  }
  return static_cast<uint64_t>(v);
}

Result<uint64_t> parse_size(std::string_view name, std::string_view value, uint64_t default_unit) {
  auto short_bad = [&]() {
    return make_error(
        "Parameter '%.*s' expects a size (a number with an optional suffix B, K, M, "
        "G, T, P or E)",
        static_cast<int>(name.size()), name.data());
  };
  std::string s(value);
  if (s.empty() || !(isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) {
    return short_bad();
  }
  errno = 0;
  char* end = nullptr;
  // Integers are parsed exactly; a fraction is allowed only with a unit.
  unsigned long long whole = strtoull(s.c_str(), &end, 10);
  if (errno != 0)
    return short_bad();
  bool digits = end != s.c_str();
  double frac = 0;
  if (*end == '.') {
    // Decimal digits only: strtod would also take an exponent ("1.5e3M") or "0x".
    size_t n = 1 + strspn(end + 1, "0123456789");
    digits = digits || n > 1;
    frac = strtod(std::string(end, n).c_str(), nullptr);
    end += n;
  }
  if (!digits)
    return short_bad();
  uint64_t unit = default_unit;
  if (*end != '\0') {
    switch (*end) {
      case 'B':
      case 'b':
        unit = 1;
        break;
      case 'K':
      case 'k':
        unit = 1ULL << 10;
        break;
      case 'M':
      case 'm':
        unit = 1ULL << 20;
        break;
      case 'G':
      case 'g':
        unit = 1ULL << 30;
        break;
      case 'T':
      case 't':
        unit = 1ULL << 40;
        break;
      case 'P':
      case 'p':
        unit = 1ULL << 50;
        break;
      case 'E':
      case 'e':
        unit = 1ULL << 60;
        break;
      default:
        return short_bad();
    }
    end++;
    if (*end != '\0')
      return short_bad();
  }
  if (frac != 0 && unit == 1)
    return short_bad();
  if (unit != 0 && whole > UINT64_MAX / unit)
    return short_bad();
  uint64_t result = whole * unit;
  if (frac != 0) {
    double extra = frac * static_cast<double>(unit);
    if (extra >= static_cast<double>(UINT64_MAX - result))
      return short_bad();
    result += static_cast<uint64_t>(extra);
  }
  return result;
}

std::string format_size(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int i = 0;
  double v = static_cast<double>(bytes);
  while (v >= 1024 && i < 6) {
    v /= 1024;
    i++;
  }
  if (v == std::floor(v))
    return string_printf("%.0f %s", v, kUnits[i]);
  // %.3g would print 1023.9 as "1.02e+03": use the next unit, as QEMU's size_to_str() does.
  if (v >= 999.5 && i < 6) {
    v /= 1024;
    i++;
  }
  return string_printf("%.3g %s", v, kUnits[i]);
}

std::optional<std::string> OptionReader::take(const std::string& key) {
  auto it = dict_.find(key);
  if (it == dict_.end())
    return std::nullopt;
  std::string v = std::move(it->second);
  dict_.erase(it);
  return v;
}

std::string OptionReader::take_or(const std::string& key, std::string dflt) {
  auto v = take(key);
  return v ? *v : std::move(dflt);
}

Result<bool> OptionReader::take_bool(const std::string& key, bool dflt) {
  auto v = take(key);
  if (!v)
    return dflt;
  return parse_bool(key, *v);
}

Result<uint64_t> OptionReader::take_uint(const std::string& key, uint64_t dflt) {
  auto v = take(key);
  if (!v)
    return dflt;
  return parse_uint(key, *v);
}

Result<uint64_t> OptionReader::take_size(const std::string& key, uint64_t dflt,
                                         uint64_t default_unit) {
  auto v = take(key);
  if (!v)
    return dflt;
  return parse_size(key, *v, default_unit);
}

KeyvalDict OptionReader::take_prefix(const std::string& prefix) {
  KeyvalDict out;
  std::string p = prefix + ".";
  for (auto it = dict_.lower_bound(p);
       it != dict_.end() && it->first.compare(0, p.size(), p) == 0;) {
    out[it->first.substr(p.size())] = std::move(it->second);
    it = dict_.erase(it);
  }
  return out;
}

Status OptionReader::finish() const {
  if (dict_.empty())
    return ok_status();
  return make_error("Invalid parameter '%s'", dict_.begin()->first.c_str());
}

}  // namespace colo
