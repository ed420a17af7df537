// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blk=OP[:SECTOR:COUNT:ARG]: raw virtio-blk access, for tests of the disk path.
 *   write:S:N:P   writes sectors S..S+N-1 with the disk pattern of seed P
 *   read:S:N:P    reads them and checks the disk pattern of seed P
 *   fill:S:N:B    writes N sectors of the byte B
 *   check:S:N:B   reads N sectors and checks that every byte is B
 *   flush         VIRTIO_BLK_T_FLUSH
 *
 * The disk pattern: the little-endian 64-bit word at byte offset o of the disk (o a multiple
 * of 8) holds mix(o | P << 48), mix being the splitmix64 finalizer of dirty.c. A host test
 * can write or check the same bytes in an image file.
 *
 * Each job uses a fresh buffer and prints where it was, so a host test can look at the pages
 * the device wrote: "testguest: blk <op> <S> <N> ok buffer 0x<addr>".
 */
#include "abi.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "drivers/virtio_blk.h"
#include "jobs/jobs.h"
#include "lib/log.h"
#include "lib/string.h"
#include "user/pages.h"
#include "user/runtime.h"

#define MAX_SECTORS 2048 /* 1 MiB per job */

static bool ready;

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void blk_open(void) {
  if (ready) {
    return;
  }
  struct pci_device* table;
  unsigned n = pci_scan(&table);
  struct pci_device* d = NULL;
  for (unsigned i = 0; i < n && !d; i++) {
    if (virtio_pci_type(&table[i]) == VIRTIO_ID_BLOCK) {
      d = &table[i];
    }
  }
  if (!d) {
    guest_fail(EXIT_NO_DEVICE, "blk: no virtio-blk device on PCI bus 0");
  }
  const char* why = virtio_blk_init(d);
  if (why) {
    guest_fail(EXIT_DEVICE_ERROR, "virtio-blk at %02x:%02x.%x: %s", 0, d->dev, d->fn, why);
  }
  log_line("virtio-blk at %02x:%02x.%x capacity %lu sectors%s%s", 0, d->dev, d->fn,
           virtio_blk_capacity(), virtio_blk_has_flush() ? "" : " (no flush: write-through)",
           virtio_blk_read_only() ? " read-only" : "");
  ready = true;
}

/* Splits "a:b:c:d" into at most 4 fields; returns how many. */
static unsigned split(struct job_arg_text arg, struct job_arg_text* f) {
  unsigned k = 0;
  size_t start = 0;
  for (size_t i = 0; i <= arg.n && k < 4; i++) {
    if (i == arg.n || arg.s[i] == ':') {
      f[k].s = arg.s + start;
      f[k].n = i - start;
      k++;
      start = i + 1;
    }
  }
  return k;
}

static __attribute__((noreturn)) void bad(struct job_arg_text arg) {
  guest_fail(EXIT_BAD_ARGUMENT,
             "blk: bad argument '%.*s' (write|read|fill|check:SECTOR:COUNT:ARG, flush)", (int)arg.n,
             arg.s);
}

static void io_fail(const char* op, uint64_t s, uint64_t n, int err) {
  guest_fail(EXIT_DEVICE_ERROR, "blk: %s %lu %lu: %s", op, s, n, virtio_blk_strerror(err));
}

void job_blk(struct job_arg_text arg) {
  struct job_arg_text f[4];
  unsigned nf = split(arg, f);
  if (nf == 1 && str_equal_n(f[0].s, f[0].n, "flush")) {
    blk_open();
    int err = virtio_blk_flush();
    if (err) {
      io_fail("flush", 0, 0, err);
    }
    log_line("blk flush ok");
    return;
  }
  uint64_t s, n, a;
  if (nf != 4 || !parse_u64(f[1].s, f[1].n, &s) || !parse_u64(f[2].s, f[2].n, &n) ||
      !parse_u64(f[3].s, f[3].n, &a) || n == 0 || n > MAX_SECTORS) {
    bad(arg);
  }
  bool write, pattern;
  const char* op;
  if (str_equal_n(f[0].s, f[0].n, "write")) {
    op = "write", write = true, pattern = true;
  } else if (str_equal_n(f[0].s, f[0].n, "read")) {
    op = "read", write = false, pattern = true;
  } else if (str_equal_n(f[0].s, f[0].n, "fill")) {
    op = "fill", write = true, pattern = false;
  } else if (str_equal_n(f[0].s, f[0].n, "check")) {
    op = "check", write = false, pattern = false;
  } else {
    bad(arg);
  }
  if ((pattern && a > 0xffff) || (!pattern && a > 0xff)) {
    bad(arg);
  }
  blk_open();
  uint64_t bytes = n * VBLK_SECTOR;
  uint64_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
  uint8_t* buf = (uint8_t*)(uintptr_t)pages_alloc(pages);
  if (!buf) {
    guest_fail(EXIT_NO_MEMORY, "blk: no memory for %lu sectors", n);
  }
  uint64_t base = s * VBLK_SECTOR;
  if (write) {
    for (uint64_t i = 0; i < bytes; i += 8) {
      uint64_t w = pattern ? mix((base + i) | a << 48) : a * UINT64_C(0x0101010101010101);
      memcpy(buf + i, &w, 8);
    }
    int err = virtio_blk_write(s, buf, (uint32_t)n);
    if (err) {
      io_fail(op, s, n, err);
    }
  } else {
    memset(buf, 0x5a, bytes); /* whatever the device does not write shows */
    int err = virtio_blk_read(s, buf, (uint32_t)n);
    if (err) {
      io_fail(op, s, n, err);
    }
    for (uint64_t i = 0; i < bytes; i += 8) {
      uint64_t want = pattern ? mix((base + i) | a << 48) : a * UINT64_C(0x0101010101010101);
      uint64_t got;
      memcpy(&got, buf + i, 8);
      if (got != want) {
        guest_fail(EXIT_DIRTY_MISMATCH,
                   "blk mismatch at sector %lu byte %lu: got 0x%lx expected 0x%lx",
                   s + i / VBLK_SECTOR, i % VBLK_SECTOR, got, want);
      }
    }
  }
  log_line("blk %s %lu %lu ok buffer 0x%lx", op, s, n, (uint64_t)(uintptr_t)buf);
  /* The buffer stays allocated: a host test may look at it after the job. */
}
