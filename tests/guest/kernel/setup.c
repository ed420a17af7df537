// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ring-0 setup that is not prebuilt in tables.S: the TSS descriptor (its base is
 * split into three fields), the stack guard pages, and the identity map of RAM above
 * 4 GiB. Runs emulated (~1 us per instruction on kvm-pvm): keep loops short.
 */
#include <stddef.h>

#include "kernel/kernel.h"

#define TSS_AVAILABLE 0x89ull /* present, DPL 0, available 64-bit TSS */

KERNEL_DATA struct kernel_info kernel_info;

static void load_idt(void) {
  __asm__ volatile("lidt %0" : : "m"(idt_descriptor));
}

static void setup_tss(void) {
  uint64_t base = (uint64_t)(uintptr_t)tss;
  uint64_t limit = (uint64_t)(tss_end - tss) - 1;
  gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | TSS_AVAILABLE << 40 |
                     ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
  gdt[SEL_TSS / 8 + 1] = base >> 32;
  __asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

static void unmap_guard(const char* page) {
  uint64_t addr = (uint64_t)(uintptr_t)page;
  if (addr < SIZE_2M) {
    pt_low[addr >> 12] = 0;
  }
}

/* The RAM entry holding the image: page tables for high RAM are taken right after it. */
static uint64_t image_ram_end(const struct hvm_memmap_entry* map, uint32_t n) {
  uint64_t start = (uint64_t)(uintptr_t)__image_start;
  for (uint32_t i = 0; i < n; i++) {
    if (map[i].type == HVM_MEMMAP_RAM && map[i].addr <= start &&
        start - map[i].addr < map[i].size) {
      return map[i].addr + map[i].size;
    }
  }
  return 0;
}

static uint64_t align_up_2m(uint64_t a) {
  return (a + SIZE_2M - 1) & ~(SIZE_2M - 1);
}

static uint64_t* alloc_table(uint64_t limit) {
  uint64_t addr = kernel_info.reserved_end;
  if (addr + 4096 > limit) {
    return NULL;
  }
  kernel_info.reserved_end = addr + 4096;
  return (uint64_t*)(uintptr_t)addr;
}

/*
 * RAM in the MMIO window becomes write-back again (2 MiB pages wholly inside the entry);
 * each 1 GiB slot above 4 GiB that holds RAM gets identity-mapped with 2 MiB pages.
 */
static void map_ram(const struct hvm_start_info* si) {
  kernel_info.reserved_end = (uint64_t)(uintptr_t)__image_end;
  kernel_info.mapped_end = 512 * SIZE_1G; /* the reach of one PDPT */
  if (!si || si->magic != HVM_START_MAGIC || si->version < 1 || si->memmap_entries == 0 ||
      si->memmap_paddr >= SIZE_4G) {
    kernel_info.mapped_end = SIZE_4G;
    return;
  }
  const struct hvm_memmap_entry* map = (const void*)(uintptr_t)si->memmap_paddr;
  uint32_t n = si->memmap_entries;
  uint64_t table_limit = image_ram_end(map, n);
  for (uint32_t i = 0; i < n; i++) {
    if (map[i].type != HVM_MEMMAP_RAM) {
      continue;
    }
    uint64_t start = map[i].addr;
    uint64_t end = start + map[i].size;
    if (end < start) {
      end = UINT64_MAX;
    }
    if (start < SIZE_4G && end > MMIO_WINDOW_START) {
      uint64_t lo = align_up_2m(start > MMIO_WINDOW_START ? start : MMIO_WINDOW_START);
      uint64_t hi = (end < SIZE_4G ? end : SIZE_4G) & ~(SIZE_2M - 1);
      for (uint64_t a = lo; a < hi; a += SIZE_2M) {
        pd_low[a >> 21] &= ~(PTE_PCD | PTE_PWT);
      }
    }
    for (uint64_t slot = (start > SIZE_4G ? start : SIZE_4G) >> 30;
         slot < 512 && (slot << 30) < end && (slot << 30) < kernel_info.mapped_end; slot++) {
      if (pdpt[slot]) {
        continue;
      }
      uint64_t* pd = alloc_table(table_limit);
      if (!pd) {
        kernel_info.mapped_end = slot << 30;
        break;
      }
      for (uint64_t e = 0; e < 512; e++) {
        pd[e] = (slot << 30) + (e << 21) + PDE_RAM;
      }
      pdpt[slot] = (uint64_t)(uintptr_t)pd | PTE_TABLE;
    }
  }
}

void kernel_setup(const struct hvm_start_info* si) {
  load_idt();
  setup_tss();
  unmap_guard(kernel_stack_guard);
  unmap_guard(ist1_stack_guard);
  unmap_guard(user_stack_guard);
  map_ram(si);
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  kernel_info.tsc_user = ((uint64_t)hi << 32) | lo;
}
