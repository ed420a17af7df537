// SPDX-License-Identifier: GPL-2.0-or-later
/* Ending the VM from ring 3. */
#ifndef TESTGUEST_USER_RUNTIME_H
#define TESTGUEST_USER_RUNTIME_H

#include <stdint.h>

/*
 * Prints "testguest: exit <status>" and ends the VM through the debug-exit port. If no
 * device listens there, warns and stops the vCPU (cli; hlt) instead.
 */
__attribute__((noreturn)) void guest_exit(uint32_t status);

/* Prints "testguest: error: <text>", then guest_exit(status). */
__attribute__((noreturn, format(printf, 2, 3))) void guest_fail(uint32_t status, const char* fmt,
                                                                ...);

#endif
