// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PVH boot protocol (Xen's public/arch-x86/hvm/start_info.h, restated): the VMM enters
 * the 32-bit entry point named by the XEN_ELFNOTE_PHYS32_ENTRY note in protected mode with
 * paging off and EBX = physical address of struct hvm_start_info.
 */
#ifndef TESTGUEST_PVH_H
#define TESTGUEST_PVH_H

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578u

/* Memory map entry types (E820). */
#define HVM_MEMMAP_RAM 1
#define HVM_MEMMAP_RESERVED 2
#define HVM_MEMMAP_ACPI 3
#define HVM_MEMMAP_NVS 4
#define HVM_MEMMAP_UNUSABLE 5

#ifndef __ASSEMBLER__
#include <stdint.h>

struct hvm_start_info {
  uint32_t magic;          /*  0: HVM_START_MAGIC */
  uint32_t version;        /*  4: 0 or 1; memmap_* exist from version 1 on */
  uint32_t flags;          /*  8 */
  uint32_t nr_modules;     /* 12 */
  uint64_t modlist_paddr;  /* 16: array of struct hvm_modlist_entry */
  uint64_t cmdline_paddr;  /* 24: NUL-terminated ASCII, 0 = none */
  uint64_t rsdp_paddr;     /* 32 */
  uint64_t memmap_paddr;   /* 40: array of struct hvm_memmap_entry (version >= 1) */
  uint32_t memmap_entries; /* 48 (version >= 1) */
  uint32_t reserved;       /* 52 */
};

struct hvm_modlist_entry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};

struct hvm_memmap_entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "hvm_memmap_entry layout");
#endif

#endif
