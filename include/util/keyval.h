// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/keyval.h
//
// QEMU's option syntax: "value,key=value,key.sub=value,flag". The first element may omit its key
// (the "implied" key, e.g. `-m 512` is size=512, `-netdev tap,id=n0` is type=tap). A comma inside
// a value is written ",,". An element without '=' after the first is a flag and means "on".
// Dotted keys stay flattened: -blockdev driver=qcow2,file.driver=file gives
// {"driver": "qcow2", "file.driver": "file"}.
//
//   COLO_ASSIGN_OR_RETURN(KeyvalDict opts, keyval_parse("tap,id=n0,script=no", "type"));
//   OptionReader r(std::move(opts));
//   std::string id = r.take("id").value_or("");
//   COLO_ASSIGN_OR_RETURN(bool vhost, r.take_bool("vhost", false));
//   COLO_TRY(r.finish());   // "Invalid parameter 'script'" for anything not taken
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace colo {

struct KeyvalItem {
  std::string key;
  std::string value;
};
using KeyvalList = std::vector<KeyvalItem>;
using KeyvalDict = std::map<std::string, std::string>;

// Parses keeping order and duplicates (for options such as -cpu host,+x,-y where order matters).
Result<KeyvalList> keyval_parse_list(std::string_view params, std::string_view implied_key);
// Parses into a dictionary; a key given twice keeps the last value, as QEMU does.
Result<KeyvalDict> keyval_parse(std::string_view params, std::string_view implied_key);

// Value parsers; errors name the parameter as QEMU does: "Parameter 'x' expects ...".
Result<bool> parse_bool(std::string_view name, std::string_view value);
Result<uint64_t> parse_uint(std::string_view name, std::string_view value);
// Sizes with optional suffix B/K/M/G/T/P/E (powers of 1024) and fractions ("1.5G"); without a
// suffix the number is multiplied by `default_unit` (QEMU's -m uses MiB).
Result<uint64_t> parse_size(std::string_view name, std::string_view value,
                            uint64_t default_unit = 1);

// Formats a size as QEMU does in messages: "128 MiB", "4 KiB", "1.5 GiB".
std::string format_size(uint64_t bytes);

// Takes parameters out of a dictionary; finish() rejects whatever nobody took.
class OptionReader {
 public:
  explicit OptionReader(KeyvalDict dict) : dict_(std::move(dict)) {}

  bool has(const std::string& key) const { return dict_.count(key) != 0; }
  std::optional<std::string> take(const std::string& key);
  std::string take_or(const std::string& key, std::string dflt);
  Result<bool> take_bool(const std::string& key, bool dflt);
  Result<uint64_t> take_uint(const std::string& key, uint64_t dflt);
  Result<uint64_t> take_size(const std::string& key, uint64_t dflt, uint64_t default_unit = 1);
  // Takes every key that starts with "prefix." and returns them without the prefix.
  KeyvalDict take_prefix(const std::string& prefix);
  // Error "Invalid parameter 'x'" for the first key nobody took.
  Status finish() const;
  const KeyvalDict& remaining() const { return dict_; }

 private:
  KeyvalDict dict_;
};

}  // namespace colo
