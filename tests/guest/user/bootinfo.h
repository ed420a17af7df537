// SPDX-License-Identifier: GPL-2.0-or-later
/* What the PVH start info tells the guest, checked and copied once at boot. */
#ifndef TESTGUEST_USER_BOOTINFO_H
#define TESTGUEST_USER_BOOTINFO_H

#include <stdbool.h>
#include <stdint.h>

#include "pvh.h"

#define CMDLINE_MAX 4096

struct boot_info {
  const struct hvm_start_info* start_info;
  const struct hvm_memmap_entry* memmap;
  uint32_t memmap_entries;
  uint64_t ram_bytes; /* sum of the RAM entries */
  char cmdline[CMDLINE_MAX];
  bool cmdline_truncated;
};

extern struct boot_info boot_info;

/* Fills boot_info; returns NULL or why the start info is unusable. */
const char* bootinfo_init(const struct hvm_start_info* si);

#endif
