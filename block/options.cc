// SPDX-License-Identifier: GPL-2.0-or-later
#include "block/options.h"

#include "util/keyval.h"

namespace colo::block {

namespace {

bool starts_with_key_prefix(std::string_view key, std::string_view prefix) {
  return key.size() > prefix.size() && key.substr(0, prefix.size()) == prefix &&
         key[prefix.size()] == '.';
}

}  // namespace

OptionReader::OptionReader(KeyvalDict options, std::string prefix, OptionSyntax syntax)
    : options_(std::move(options)), prefix_(std::move(prefix)), syntax_(syntax) {}

std::string OptionReader::full_name(std::string_view key) const {
  return prefix_ + std::string(key);
}

bool OptionReader::has(std::string_view key) const {
  return options_.find(std::string(key)) != options_.end();
}

bool OptionReader::has_prefix(std::string_view key) const {
  if (has(key))
    return true;
  for (const auto& [k, v] : options_) {
    if (starts_with_key_prefix(k, key))
      return true;
  }
  return false;
}

void OptionReader::mark_used(std::string_view key) {
  used_[std::string(key)] = true;
}

std::optional<std::string> OptionReader::take_string(std::string_view key) {
  auto it = options_.find(std::string(key));
  if (it == options_.end())
    return std::nullopt;
  mark_used(key);
  return it->second;
}

Result<std::string> OptionReader::take_required_string(std::string_view key) {
  auto v = take_string(key);
  if (!v)
    return make_error("Parameter '%s' is missing", full_name(key).c_str());
  return *v;
}

Result<std::optional<bool>> OptionReader::take_bool(std::string_view key) {
  auto v = take_string(key);
  if (!v)
    return std::optional<bool>();
  COLO_ASSIGN_OR_RETURN(bool b, colo::parse_bool(full_name(key), *v));
  return std::optional<bool>(b);
}

Result<std::optional<uint64_t>> OptionReader::take_uint(std::string_view key) {
  auto v = take_string(key);
  if (!v)
    return std::optional<uint64_t>();
  auto n = colo::parse_uint(full_name(key), *v);
  if (!n.ok())
    return make_error("Parameter '%s' expects an integer", full_name(key).c_str());
  return std::optional<uint64_t>(*n);
}

Result<std::optional<uint64_t>> OptionReader::take_size(std::string_view key) {
  auto v = take_string(key);
  if (!v)
    return std::optional<uint64_t>();
  auto n = colo::parse_size(full_name(key), *v);
  if (!n.ok())
    return make_error("Parameter '%s' expects a size value", full_name(key).c_str());
  return std::optional<uint64_t>(*n);
}

Result<std::optional<size_t>> OptionReader::take_enum(
    std::string_view key, std::initializer_list<std::string_view> values) {
  auto v = take_string(key);
  if (!v)
    return std::optional<size_t>();
  size_t i = 0;
  for (std::string_view candidate : values) {
    if (*v == candidate)
      return std::optional<size_t>(i);
    i++;
  }
  return make_error("Parameter '%s' does not accept value '%s'", full_name(key).c_str(),
                    v->c_str());
}

KeyvalDict OptionReader::take_subdict(std::string_view key) {
  KeyvalDict sub;
  for (const auto& [k, v] : options_) {
    if (!starts_with_key_prefix(k, key))
      continue;
    if (used_.count(k))
      continue;
    sub[k.substr(key.size() + 1)] = v;
    mark_used(k);
  }
  return sub;
}

Result<ChildOptions> OptionReader::take_child(std::string_view key) {
  ChildOptions child;
  child.prefix = full_name(key) + ".";
  bool has_plain = has(key);
  KeyvalDict sub = take_subdict(key);
  if (has_plain && !sub.empty()) {
    return make_error("Parameters '%s.*' used inconsistently", full_name(key).c_str());
  }
  if (has_plain) {
    auto it = options_.find(std::string(key));
    mark_used(key);
    if (it->second == "null" || it->second.empty()) {
      child.kind = ChildOptions::Kind::kNull;
    } else {
      child.kind = ChildOptions::Kind::kReference;
      child.reference = it->second;
    }
  } else if (!sub.empty()) {
    child.kind = ChildOptions::Kind::kInline;
    child.options = std::move(sub);
  }
  return child;
}

KeyvalDict OptionReader::take_unused() {
  KeyvalDict out;
  for (const auto& [k, v] : options_) {
    if (used_.count(k))
      continue;
    out[k] = v;
  }
  for (const auto& [k, v] : out)
    mark_used(k);
  return out;
}

std::optional<std::string> OptionReader::first_unused() const {
  for (const auto& [k, v] : options_) {
    if (!used_.count(k))
      return k;
  }
  return std::nullopt;
}

Status OptionReader::check_all_used(std::string_view driver, bool protocol) const {
  auto unused = first_unused();
  if (!unused)
    return ok_status();
  if (syntax_ == OptionSyntax::kDrive && !driver.empty()) {
    if (protocol) {
      return make_error("Block protocol '%s' doesn't support the option '%s'",
                        std::string(driver).c_str(), full_name(*unused).c_str());
    }
    return make_error("Block format '%s' does not support the option '%s'",
                      std::string(driver).c_str(), full_name(*unused).c_str());
  }
  return make_error("Parameter '%s' is unexpected", full_name(*unused).c_str());
}

}  // namespace colo::block
