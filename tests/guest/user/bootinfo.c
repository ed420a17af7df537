// SPDX-License-Identifier: GPL-2.0-or-later
#include "user/bootinfo.h"

#include <stddef.h>

#include "lib/format.h"
#include "lib/string.h"

/* Everything the guest reads must lie in the identity map of 0-4 GiB set up at boot. */
#define LOW_LIMIT 0x100000000ull

struct boot_info boot_info;

const char* bootinfo_init(const struct hvm_start_info* si) {
  struct boot_info* b = &boot_info;
  if (!si || (uint64_t)(uintptr_t)si >= LOW_LIMIT) {
    return "no start info";
  }
  if (si->magic != HVM_START_MAGIC) {
    static char why[64];
    format_buf(why, sizeof(why), "bad start info magic 0x%x", si->magic);
    return why;
  }
  b->start_info = si;
  if (si->version < 1 || si->memmap_entries == 0 || si->memmap_paddr == 0) {
    return "no memory map (start info version 1 with memmap_entries > 0 needed)";
  }
  if (si->memmap_paddr >= LOW_LIMIT) {
    return "memory map above 4 GiB";
  }
  b->memmap = (const struct hvm_memmap_entry*)(uintptr_t)si->memmap_paddr;
  b->memmap_entries = si->memmap_entries;
  for (uint32_t i = 0; i < b->memmap_entries; i++) {
    if (b->memmap[i].type == HVM_MEMMAP_RAM) {
      b->ram_bytes += b->memmap[i].size;
    }
  }
  if (si->cmdline_paddr && si->cmdline_paddr < LOW_LIMIT) {
    const char* src = (const char*)(uintptr_t)si->cmdline_paddr;
    size_t n = strnlen(src, CMDLINE_MAX);
    if (n == CMDLINE_MAX) {
      n = CMDLINE_MAX - 1;
      b->cmdline_truncated = true;
    }
    memcpy(b->cmdline, src, n);
    b->cmdline[n] = '\0';
  }
  return NULL;
}
