// SPDX-License-Identifier: GPL-2.0-or-later
#include "user/pages.h"

#include <stdbool.h>

#include "abi.h"
#include "lib/log.h"
#include "lib/string.h"

/* Memory below 1 MiB holds firmware data and, with QEMU, the PVH start info: not used. */
#define LOW_MEMORY_END 0x100000ull
#define MAX_EXTENTS 128

struct extent {
  uint64_t start; /* page-aligned, [start, end) */
  uint64_t end;
};

static struct extent free_list[MAX_EXTENTS];
static unsigned free_count;
static bool overflow_warned;

static void remove_at(unsigned i) {
  memmove(&free_list[i], &free_list[i + 1], (free_count - i - 1) * sizeof(free_list[0]));
  free_count--;
}

static bool insert_at(unsigned i, uint64_t start, uint64_t end) {
  if (free_count == MAX_EXTENTS) {
    if (!overflow_warned) {
      log_warn("page allocator: more than %u free extents, some memory is lost", MAX_EXTENTS);
      overflow_warned = true;
    }
    return false;
  }
  memmove(&free_list[i + 1], &free_list[i], (free_count - i) * sizeof(free_list[0]));
  free_list[i].start = start;
  free_list[i].end = end;
  free_count++;
  return true;
}

/* Adds [start, end) to the free list, merging with neighbours. */
static void add_free(uint64_t start, uint64_t end) {
  if (start >= end) {
    return;
  }
  unsigned i = 0;
  while (i < free_count && free_list[i].start < start) {
    i++;
  }
  bool merge_prev = i > 0 && free_list[i - 1].end == start;
  bool merge_next = i < free_count && free_list[i].start == end;
  if (merge_prev && merge_next) {
    free_list[i - 1].end = free_list[i].end;
    remove_at(i);
  } else if (merge_prev) {
    free_list[i - 1].end = end;
  } else if (merge_next) {
    free_list[i].start = start;
  } else {
    insert_at(i, start, end);
  }
}

/* Removes [start, end) from the free list wherever it overlaps. */
static void reserve(uint64_t start, uint64_t end) {
  start &= ~(PAGE_SIZE - 1);
  end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  for (unsigned i = 0; i < free_count;) {
    struct extent* e = &free_list[i];
    if (e->end <= start || e->start >= end) {
      i++;
    } else if (start <= e->start && end >= e->end) {
      remove_at(i);
    } else if (start <= e->start) {
      e->start = end;
      i++;
    } else if (end >= e->end) {
      e->end = start;
      i++;
    } else {
      uint64_t tail = e->end;
      e->end = start;
      insert_at(i + 1, end, tail);
      i += 2;
    }
  }
}

static void reserve_len(uint64_t addr, uint64_t len) {
  if (addr && len) {
    reserve(addr, addr + len);
  }
}

void pages_init(const struct boot_info* b) {
  uint64_t limit = kernel_info.mapped_end;
  for (uint32_t i = 0; i < b->memmap_entries; i++) {
    const struct hvm_memmap_entry* m = &b->memmap[i];
    if (m->type != HVM_MEMMAP_RAM) {
      continue;
    }
    uint64_t start = (m->addr + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint64_t end = (m->addr + m->size) & ~(PAGE_SIZE - 1);
    if (start < LOW_MEMORY_END) {
      start = LOW_MEMORY_END;
    }
    if (end > limit) {
      end = limit;
    }
    add_free(start, end);
  }
  /* Memory map entries may overlap: reserved entries win over RAM. */
  for (uint32_t i = 0; i < b->memmap_entries; i++) {
    if (b->memmap[i].type != HVM_MEMMAP_RAM) {
      reserve_len(b->memmap[i].addr, b->memmap[i].size);
    }
  }
  reserve((uint64_t)(uintptr_t)__image_start, kernel_info.reserved_end);
  const struct hvm_start_info* si = b->start_info;
  reserve_len((uint64_t)(uintptr_t)si, sizeof(*si));
  reserve_len(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_entry));
  if (si->cmdline_paddr) {
    reserve_len(si->cmdline_paddr, CMDLINE_MAX);
  }
  if (si->modlist_paddr && si->nr_modules) {
    const struct hvm_modlist_entry* mods =
        (const struct hvm_modlist_entry*)(uintptr_t)si->modlist_paddr;
    reserve_len(si->modlist_paddr, (uint64_t)si->nr_modules * sizeof(*mods));
    for (uint32_t i = 0; i < si->nr_modules; i++) {
      reserve_len(mods[i].paddr, mods[i].size);
      if (mods[i].cmdline_paddr) {
        reserve_len(mods[i].cmdline_paddr, CMDLINE_MAX);
      }
    }
  }
}

uint64_t pages_alloc(uint64_t n) {
  for (unsigned i = 0; i < free_count && n; i++) {
    struct extent* e = &free_list[i];
    if ((e->end - e->start) >> PAGE_SHIFT >= n) {
      uint64_t addr = e->start;
      e->start += n << PAGE_SHIFT;
      if (e->start == e->end) {
        remove_at(i);
      }
      return addr;
    }
  }
  return 0;
}

uint64_t pages_alloc_upto(uint64_t n, uint64_t* got) {
  *got = 0;
  if (free_count == 0 || n == 0) {
    return 0;
  }
  uint64_t avail = (free_list[0].end - free_list[0].start) >> PAGE_SHIFT;
  *got = n < avail ? n : avail;
  return pages_alloc(*got);
}

void pages_free(uint64_t addr, uint64_t n) {
  add_free(addr, addr + (n << PAGE_SHIFT));
}

uint64_t pages_free_count(void) {
  uint64_t n = 0;
  for (unsigned i = 0; i < free_count; i++) {
    n += (free_list[i].end - free_list[i].start) >> PAGE_SHIFT;
  }
  return n;
}

void pages_for_each_free(void (*fn)(uint64_t addr, uint64_t pages)) {
  for (unsigned i = 0; i < free_count; i++) {
    fn(free_list[i].start, (free_list[i].end - free_list[i].start) >> PAGE_SHIFT);
  }
}
