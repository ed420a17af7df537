// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The services (echo, kv, net, dirtier) run together in one poll loop: each round polls
 * the network (receive, TCP timers, the TCP services, transmit) and then every periodic
 * service. The loop starts after the last job of the command line (or for a while with
 * serve=MS) and, in the first case, runs until the VM is stopped.
 */
#ifndef TESTGUEST_SERVICES_SERVICE_H
#define TESTGUEST_SERVICES_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Registers a service by name. poll (may be NULL) runs once per round with the TSC; next
 * (may be NULL) tells when poll has something to do next (TSC), for idle=hlt.
 */
void service_add(const char* name, void (*poll)(uint64_t now), uint64_t (*next)(void));
bool service_added(const char* name);

/* Runs the loop for ms milliseconds (prints "serving ..." first). */
void services_serve_ms(uint64_t ms);

/* After the last job: if any service was added, prints "serving ..." and never returns. */
void services_run_if_any(void);

/* The services (echo.c, kv.c, dirtier.c). */
void echo_start(bool tsc_mode);
void kv_start(void);
void dirtier_start(uint64_t pages, uint64_t interval_ms, uint64_t region_pages);
uint64_t dirtier_generation(void); /* 0 if no dirtier runs */
void netstat_start(void);          /* UDP port 9999, started with the network */

/* idle.c: idle=hlt (see there). */
void idle_enable(void);
bool idle_enabled(void);
uint64_t idle_after_ticks(void);
uint64_t idle_sleeps(void);
/* Halts until a frame arrives or the TSC reaches wake (whichever is first, roughly). */
void idle_sleep(uint64_t now, uint64_t wake);

#endif
