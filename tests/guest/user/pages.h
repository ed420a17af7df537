// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Physical page allocator over free RAM: the memory map's RAM entries above 1 MiB, minus
 * the guest image (with the page tables kernel_setup() added) and everything the start
 * info points to. Keeps a sorted list of free extents; first fit.
 */
#ifndef TESTGUEST_USER_PAGES_H
#define TESTGUEST_USER_PAGES_H

#include <stdint.h>

#include "user/bootinfo.h"

#define PAGE_SIZE UINT64_C(4096)
#define PAGE_SHIFT 12

void pages_init(const struct boot_info* b);

/* Allocates n contiguous pages; returns their address, or 0. */
uint64_t pages_alloc(uint64_t n);

/*
 * Allocates between 1 and n contiguous pages from the lowest free extent; returns the
 * address (0 if nothing is free) and the number of pages in *got.
 */
uint64_t pages_alloc_upto(uint64_t n, uint64_t* got);

/* Returns n pages at addr. */
void pages_free(uint64_t addr, uint64_t n);

/* Free pages in all. */
uint64_t pages_free_count(void);

/* Calls fn for each free extent, lowest first. */
void pages_for_each_free(void (*fn)(uint64_t addr, uint64_t pages));

#endif
