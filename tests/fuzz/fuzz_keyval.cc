// SPDX-License-Identifier: GPL-2.0-or-later
//
// Fuzz target: QEMU option syntax (keyval) and the value parsers, which also parse options
// that arrive over QMP (object-add, chardev-add, ...).
#include <cstddef>
#include <cstdint>
#include <string>

#include "util/keyval.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  auto list = colo::keyval_parse_list(s, "type");
  if (list.ok()) {
    for (const auto& item : *list) {
      (void)colo::parse_bool(item.key, item.value);
      (void)colo::parse_uint(item.key, item.value);
      (void)colo::parse_size(item.key, item.value, 1ULL << 20);
    }
  }
  auto dict = colo::keyval_parse(s, "");
  if (dict.ok()) {
    colo::OptionReader r(*dict);
    (void)r.take_prefix("file");
    (void)r.finish();
  }
  return 0;
}
