// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: block/options.h
//
// Block options arrive as QEMU's flattened keyval dictionary: dotted keys exactly as the command
// line spells them, e.g. `-blockdev driver=qcow2,file.driver=file,file.filename=a.qcow2` becomes
// {"driver": "qcow2", "file.driver": "file", "file.filename": "a.qcow2"}. An OptionReader hands
// out the keys a driver understands and remembers which ones it took, so whatever is left over
// can be reported as unexpected ("Parameter 'file.foo' is unexpected").
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.h"
#include "util/keyval.h"

namespace colo::block {

using KeyvalDict = colo::KeyvalDict;  // util/keyval.h

// Which command line the options came from; it only changes the wording of errors.
enum class OptionSyntax {
  kBlockdev,  // -blockdev / blockdev-add: QAPI wording ("Parameter 'x' is unexpected")
  kDrive,     // -drive: legacy wording ("Block format 'raw' does not support the option 'x'")
};

// A child given in the options: absent, `backing=null`, a reference to an existing node
// (`file=proto0`), or an inline definition (`file.driver=file,file.filename=a.img`).
struct ChildOptions {
  enum class Kind { kAbsent, kNull, kReference, kInline };
  Kind kind = Kind::kAbsent;
  std::string reference;  // kReference: a node-name or a drive id
  KeyvalDict options;     // kInline: the sub-dictionary with the "file." prefix removed
  std::string prefix;     // "file." (or "backing.file.") for the full names in error messages
};

class OptionReader {
 public:
  // `prefix` is prepended to key names in error messages ("file." for a child's options).
  explicit OptionReader(KeyvalDict options, std::string prefix = "",
                        OptionSyntax syntax = OptionSyntax::kBlockdev);

  OptionSyntax syntax() const { return syntax_; }
  const std::string& prefix() const { return prefix_; }
  // The full dotted name of `key` for messages: prefix + key.
  std::string full_name(std::string_view key) const;

  bool has(std::string_view key) const;
  // True if `key` or any "key.*" is present.
  bool has_prefix(std::string_view key) const;

  std::optional<std::string> take_string(std::string_view key);
  // Like take_string(), but a missing key is an error ("Parameter 'filename' is missing").
  Result<std::string> take_required_string(std::string_view key);
  // on/off (also yes/no, true/false).
  Result<std::optional<bool>> take_bool(std::string_view key);
  // A non-negative integer (decimal or 0x hex).
  Result<std::optional<uint64_t>> take_uint(std::string_view key);
  // A size: an integer with an optional k/M/G/T/P/E suffix (binary units), e.g. "64k".
  Result<std::optional<uint64_t>> take_size(std::string_view key);
  // One of `values`; returns the index of the match.
  Result<std::optional<size_t>> take_enum(std::string_view key,
                                          std::initializer_list<std::string_view> values);
  // A child (see ChildOptions). "key" together with "key.*" is an error.
  Result<ChildOptions> take_child(std::string_view key);

  // Marks every remaining key that starts with "key." as used and returns them as a dictionary
  // without the prefix.
  KeyvalDict take_subdict(std::string_view key);

  // Marks every remaining key as used and returns them.
  KeyvalDict take_unused();

  // The keys nobody took, in order.
  std::optional<std::string> first_unused() const;
  // An error for the first unused key, worded for the syntax; `driver` and `protocol` describe
  // who rejected it (for -drive wording). OK if every key was used.
  Status check_all_used(std::string_view driver = "", bool protocol = false) const;

 private:
  KeyvalDict options_;
  std::map<std::string, bool, std::less<>> used_;
  std::string prefix_;
  OptionSyntax syntax_;

  void mark_used(std::string_view key);
};

}  // namespace colo::block
