// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dirtier=N,MS[,R]: every MS milliseconds (0: every poll round) writes N pages of a
 * region of R pages (default 4 * N), going round the region in order, so checkpoint tests
 * see a steady, known rate of dirtied memory. Tick g (g = 1, 2, ...) writes generation
 * g into the 4 KiB page at physical address A as 512 little-endian 64-bit words:
 *   word 0  DIRTIER_MAGIC ("tgdirty1")
 *   word 1  g
 *   word 2  A
 *   word 3  the page's index in the region
 *   word i  mix((A + 8 * i) ^ (g << 40)) for i = 4 .. 511 (mix: the splitmix64 finalizer)
 * A page never written yet is all zero. Before rewriting a page the guest checks that it
 * still holds exactly what it wrote there last (exit 104 otherwise), so a checkpoint or
 * failover that loses or mixes up pages is caught by the guest itself. The 64-bit word at
 * the address printed as "gen at" is the last generation completed.
 */
#include "abi.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/string.h"
#include "services/service.h"
#include "user/pages.h"
#include "user/runtime.h"

#define DIRTIER_MAGIC 0x3179747269646774ull /* "tgdirty1" in memory order */
#define WORDS (PAGE_SIZE / 8)

static uint64_t region, region_pages, per_tick, interval, cursor, last_tick;
static uint32_t* written; /* generation last written to each page (0: never) */
static volatile uint64_t generation;

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t word(uint64_t a, uint64_t index, uint64_t g, unsigned i) {
  switch (i) {
    case 0:
      return DIRTIER_MAGIC;
    case 1:
      return g;
    case 2:
      return a;
    case 3:
      return index;
    default:
      return mix((a + 8 * i) ^ (g << 40));
  }
}

static void check(uint64_t index) {
  uint64_t a = region + index * PAGE_SIZE;
  const volatile uint64_t* p = (const volatile uint64_t*)(uintptr_t)a;
  uint64_t g = written[index];
  for (unsigned i = 0; i < WORDS; i++) {
    uint64_t want = g ? word(a, index, g, i) : 0;
    if (p[i] != want) {
      guest_fail(EXIT_DIRTY_MISMATCH,
                 "dirtier mismatch at 0x%lx (page %lu word %u): got 0x%lx expected 0x%lx "
                 "(generation %lu; the page says generation %lu)",
                 a + 8 * i, index, i, p[i], want, g, p[1]);
    }
  }
}

static void fill(uint64_t index, uint64_t g) {
  uint64_t a = region + index * PAGE_SIZE;
  volatile uint64_t* p = (volatile uint64_t*)(uintptr_t)a;
  for (unsigned i = 0; i < WORDS; i++) {
    p[i] = word(a, index, g, i);
  }
  written[index] = (uint32_t)g;
}

static void dirtier_poll(uint64_t now) {
  if (generation && now - last_tick < interval) {
    return;
  }
  last_tick = now;
  uint64_t g = generation + 1;
  for (uint64_t k = 0; k < per_tick; k++) {
    check(cursor);
    fill(cursor, g);
    cursor = cursor + 1 == region_pages ? 0 : cursor + 1;
  }
  generation = g;
}

uint64_t dirtier_generation(void) {
  return generation;
}

static uint64_t dirtier_next(void) {
  return last_tick + interval;
}

void dirtier_start(uint64_t pages, uint64_t interval_ms, uint64_t region_len) {
  if (service_added("dirtier")) {
    guest_fail(EXIT_BAD_ARGUMENT, "dirtier: only one dirtier per boot");
  }
  if (pages == 0 || pages > region_len) {
    guest_fail(EXIT_BAD_ARGUMENT, "dirtier: needs 1 <= N <= R (N %lu, R %lu)", pages, region_len);
  }
  uint64_t table_pages = (region_len * sizeof(uint32_t) + PAGE_SIZE - 1) / PAGE_SIZE;
  region = pages_alloc(region_len);
  uint64_t table = pages_alloc(table_pages);
  if (!region || !table) {
    guest_fail(EXIT_NO_MEMORY, "dirtier: no room for %lu contiguous pages", region_len);
  }
  written = (uint32_t*)(uintptr_t)table;
  memset(written, 0, table_pages * PAGE_SIZE);
  memset((void*)(uintptr_t)region, 0, region_len * PAGE_SIZE);
  region_pages = region_len;
  per_tick = pages;
  interval = clock_ms(interval_ms);
  log_line("dirtier at 0x%lx pages %lu n %lu interval %lu ms gen at 0x%lx", region, region_len,
           pages, interval_ms, (uint64_t)(uintptr_t)&generation);
  service_add("dirtier", dirtier_poll, dirtier_next);
}
