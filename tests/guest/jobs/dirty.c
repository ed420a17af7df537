// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dirty=P: writes P distinct free pages with a pattern, reads them back and checks them.
 *
 * The 64-bit word at physical address A, written by the r-th dirty job (r = 1, 2, ...,
 * kept to 12 bits), holds dirty_pattern(A, r) = mix(A | r << 52), where mix() is the
 * splitmix64 finalizer. mix() is a bijection, so a wrong value can be traced back to the
 * address and round it was written for (a page copied to the wrong place, a stale page).
 * The values do not compress, like real guest memory.
 */
#include "abi.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "user/pages.h"
#include "user/runtime.h"

#define ROUND_SHIFT 52
#define ADDR_MASK ((UINT64_C(1) << ROUND_SHIFT) - 1)
#define MAX_RUNS 128

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t unmix(uint64_t z) {
  z ^= (z >> 31) ^ (z >> 62);
  z *= 0x319642b2d24d8ec3ull; /* inverse of 0x94d049bb133111eb mod 2^64 */
  z ^= (z >> 27) ^ (z >> 54);
  z *= 0x96de1b173f119089ull; /* inverse of 0xbf58476d1ce4e5b9 mod 2^64 */
  return z ^ (z >> 30) ^ (z >> 60);
}

static inline uint64_t dirty_pattern(uint64_t addr, uint64_t round) {
  return mix(addr | round << ROUND_SHIFT);
}

struct run {
  uint64_t addr;
  uint64_t pages;
};

static uint64_t rounds;

static void fill(const struct run* r, uint64_t round) {
  volatile uint64_t* p = (volatile uint64_t*)(uintptr_t)r->addr;
  uint64_t words = r->pages * (PAGE_SIZE / 8);
  for (uint64_t i = 0; i < words; i++) {
    p[i] = dirty_pattern(r->addr + i * 8, round);
  }
}

static void verify(const struct run* r, uint64_t round) {
  const volatile uint64_t* p = (const volatile uint64_t*)(uintptr_t)r->addr;
  uint64_t words = r->pages * (PAGE_SIZE / 8);
  for (uint64_t i = 0; i < words; i++) {
    uint64_t addr = r->addr + i * 8;
    uint64_t want = dirty_pattern(addr, round);
    uint64_t got = p[i];
    if (got != want) {
      uint64_t origin = unmix(got);
      guest_fail(EXIT_DIRTY_MISMATCH,
                 "dirty mismatch at 0x%lx round %lu: got 0x%lx (pattern of 0x%lx round %lu) "
                 "expected 0x%lx",
                 addr, round, got, origin & ADDR_MASK, origin >> ROUND_SHIFT, want);
    }
  }
}

void job_dirty(struct job_arg_text arg) {
  uint64_t pages = job_arg_u64("dirty", arg);
  uint64_t free = pages_free_count();
  if (pages > free) {
    guest_fail(EXIT_NO_MEMORY, "dirty %lu pages: only %lu pages free", pages, free);
  }
  struct run runs[MAX_RUNS];
  unsigned nruns = 0;
  uint64_t have = 0;
  while (have < pages) {
    if (nruns == MAX_RUNS) {
      guest_fail(EXIT_PANIC, "dirty: free memory in more than %u pieces", MAX_RUNS);
    }
    uint64_t got;
    uint64_t addr = pages_alloc_upto(pages - have, &got);
    if (!addr) {
      guest_fail(EXIT_PANIC, "dirty: allocator lost pages (%lu of %lu)", have, pages);
    }
    runs[nruns].addr = addr;
    runs[nruns].pages = got;
    nruns++;
    have += got;
  }

  uint64_t round = (++rounds) & ((UINT64_C(1) << (64 - ROUND_SHIFT)) - 1);
  for (unsigned i = 0; i < nruns; i++) {
    fill(&runs[i], round);
  }
  for (unsigned i = 0; i < nruns; i++) {
    verify(&runs[i], round);
  }
  for (unsigned i = 0; i < nruns; i++) {
    pages_free(runs[i].addr, runs[i].pages);
  }
  log_line("dirty %lu pages ok", pages);
}
