// SPDX-License-Identifier: GPL-2.0-or-later
//
// File: util/thread.h
//
// Every colovm thread has a named role ("main", "vcpu0", "colo-compare", ...); the name shows in
// ps, top and gdb.
#pragma once

#include <string_view>

namespace colo {

// Sets the calling thread's name (truncated to the 15 characters Linux keeps).
void set_thread_name(std::string_view name);

}  // namespace colo
