// SPDX-License-Identifier: GPL-2.0-or-later
#include "services/service.h"

#include "abi.h"
#include "lib/clock.h"
#include "lib/format.h"
#include "lib/log.h"
#include "lib/string.h"
#include "net/net.h"
#include "net/tcp.h"
#include "user/runtime.h"

#define MAX_SERVICES 8

struct service {
  const char* name;
  void (*poll)(uint64_t now);
  uint64_t (*next)(void);
};

static struct service services[MAX_SERVICES];
static unsigned nservices;

void service_add(const char* name, void (*poll)(uint64_t now), uint64_t (*next)(void)) {
  if (service_added(name)) {
    return;
  }
  if (nservices == MAX_SERVICES) {
    guest_fail(EXIT_PANIC, "more than %u services", MAX_SERVICES);
  }
  services[nservices].name = name;
  services[nservices].poll = poll;
  services[nservices].next = next;
  nservices++;
}

bool service_added(const char* name) {
  for (unsigned i = 0; i < nservices; i++) {
    if (strcmp(services[i].name, name) == 0) {
      return true;
    }
  }
  return false;
}

static void announce(void) {
  char names[128];
  size_t used = 0;
  names[0] = 0;
  for (unsigned i = 0; i < nservices && used < sizeof(names); i++) {
    used += format_buf(names + used, sizeof(names) - used, " %s", services[i].name);
  }
  log_line("serving%s%s", names, idle_enabled() ? " (idle=hlt)" : "");
}

/* One round; true if a frame arrived. */
static bool poll_round(uint64_t now) {
  bool active = net_is_up() && net_poll(now);
  for (unsigned i = 0; i < nservices; i++) {
    if (services[i].poll) {
      services[i].poll(now);
    }
  }
  return active;
}

/* The earliest timer of the network and the services (TSC), not after `until`. */
static uint64_t next_deadline(uint64_t until) {
  uint64_t next = until;
  if (net_is_up()) {
    uint64_t t = tcp_next_deadline();
    next = t < next ? t : next;
  }
  for (unsigned i = 0; i < nservices; i++) {
    if (services[i].next) {
      uint64_t t = services[i].next();
      next = t < next ? t : next;
    }
  }
  return next;
}

/* Polls until the TSC reaches `until` (UINT64_MAX: forever). */
static void serve_until(uint64_t until) {
  announce();
  uint64_t idle_after = idle_enabled() ? idle_after_ticks() : 0;
  uint64_t last_active = clock_now();
  for (;;) {
    uint64_t now = clock_now();
    if (now >= until) {
      return;
    }
    if (poll_round(now)) {
      last_active = now;
    } else if (idle_after && now - last_active >= idle_after) {
      idle_sleep(now, next_deadline(until));
    }
  }
}

void services_serve_ms(uint64_t ms) {
  serve_until(clock_now() + clock_ms(ms));
}

void services_run_if_any(void) {
  if (nservices) {
    serve_until(UINT64_MAX);
  }
}
