// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/thread.h"

#include <pthread.h>

#include <string>

namespace colo {

void set_thread_name(std::string_view name) {
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

}  // namespace colo
