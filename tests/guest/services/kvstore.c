// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Slot reuse: a free slot is one that holds no current record. Free slots are reused in
 * order of the generation of what they hold (empty and damaged slots count as 0, ties go
 * to the lowest slot), so the oldest records are overwritten first. A key's tombstone is
 * newer than all of that key's stale records, so the stale records are gone before the
 * tombstone is overwritten and a deleted key cannot come back. One slot is kept free so
 * that a DEL can always be written.
 */
#include "services/kvstore.h"

#include <stdbool.h>

#include "abi.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "drivers/virtio_blk.h"
#include "lib/log.h"
#include "lib/string.h"
#include "user/pages.h"
#include "user/runtime.h"

#define SECTOR 512
#define HEADER_MAGIC "TGKVSTO1"
#define HEADER_VERSION 1
#define RECORD_MAGIC 0x3152564bu /* "KVR1" */
#define KIND_LIVE 1
#define KIND_TOMBSTONE 2
#define CHECKSUM_OFF 504
#define KEY_OFF 24
#define VALUE_OFF (KEY_OFF + KV_KEY_MAX)
#define IO_CHUNK 128 /* sectors per read when loading */

_Static_assert(VALUE_OFF + KV_VALUE_MAX == CHECKSUM_OFF, "record layout");

struct slot {
  uint64_t gen; /* generation of the valid record in the slot, 0 if none */
  bool current; /* holds the current record of a live key */
};

static uint8_t* records; /* slot i's sector at records + i * SECTOR (what is on the disk) */
static struct slot slots[KV_SLOTS_MAX];
static unsigned nslots, nkeys;
static uint64_t last_gen;
static uint8_t sector_buf[SECTOR] __attribute__((aligned(64)));

static uint64_t fnv1a64(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h = (h ^ p[i]) * 0x100000001b3ull;
  }
  return h;
}

static uint32_t le32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t* p) {
  return le32(p) | (uint64_t)le32(p + 4) << 32;
}
static uint16_t le16(const uint8_t* p) {
  return (uint16_t)(p[0] | p[1] << 8);
}
static void put_le16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_le32(uint8_t* p, uint32_t v) {
  put_le16(p, (uint16_t)v);
  put_le16(p + 2, (uint16_t)(v >> 16));
}
static void put_le64(uint8_t* p, uint64_t v) {
  put_le32(p, (uint32_t)v);
  put_le32(p + 4, (uint32_t)(v >> 32));
}

static void seal(uint8_t* s) {
  put_le64(s + CHECKSUM_OFF, fnv1a64(s, CHECKSUM_OFF));
}

static bool sealed(const uint8_t* s) {
  return le64(s + CHECKSUM_OFF) == fnv1a64(s, CHECKSUM_OFF);
}

static const uint8_t* record(unsigned i) {
  return records + (size_t)i * SECTOR;
}

/* A well-formed record: magic, checksum, kind and lengths. */
static bool valid(const uint8_t* r) {
  if (le32(r) != RECORD_MAGIC || !sealed(r) || le64(r + 8) == 0) {
    return false;
  }
  uint32_t kind = le32(r + 4);
  uint16_t klen = le16(r + 16);
  uint16_t vlen = le16(r + 18);
  return (kind == KIND_LIVE || (kind == KIND_TOMBSTONE && vlen == 0)) && klen >= 1 &&
         klen <= KV_KEY_MAX && vlen <= KV_VALUE_MAX;
}

static bool same_key(const uint8_t* r, const uint8_t* key, size_t klen) {
  return le16(r + 16) == klen && memcmp(r + KEY_OFF, key, klen) == 0;
}

static bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i]) {
      return false;
    }
  }
  return true;
}

static void io_fail(const char* what, int err) {
  guest_fail(EXIT_DEVICE_ERROR, "kv: %s: %s", what, virtio_blk_strerror(err));
}

static void format_disk(void) {
  memset(records, 0, (size_t)nslots * SECTOR);
  for (unsigned i = 0; i < nslots; i += IO_CHUNK) {
    unsigned n = nslots - i < IO_CHUNK ? nslots - i : IO_CHUNK;
    int err = virtio_blk_write(1 + i, records + (size_t)i * SECTOR, n);
    if (err) {
      io_fail("formatting", err);
    }
  }
  memset(sector_buf, 0, SECTOR);
  memcpy(sector_buf, HEADER_MAGIC, 8);
  put_le32(sector_buf + 8, HEADER_VERSION);
  put_le32(sector_buf + 12, nslots);
  put_le32(sector_buf + 16, SECTOR);
  seal(sector_buf);
  int err = virtio_blk_write(0, sector_buf, 1);
  if (!err) {
    err = virtio_blk_flush();
  }
  if (err) {
    io_fail("writing the header", err);
  }
  log_line("kv formatted the disk: %u slots", nslots);
}

/* Reads the header; returns the slot count it gives, or 0 if there is no valid header. */
static unsigned read_header(uint64_t max_slots) {
  int err = virtio_blk_read(0, sector_buf, 1);
  if (err) {
    io_fail("reading the header", err);
  }
  if (memcmp(sector_buf, HEADER_MAGIC, 8) != 0 || !sealed(sector_buf) ||
      le32(sector_buf + 8) != HEADER_VERSION || le32(sector_buf + 16) != SECTOR) {
    return 0;
  }
  uint32_t n = le32(sector_buf + 12);
  return n >= 2 && n <= max_slots ? n : 0;
}

/* Marks the newest record of each key current (or nothing, for a tombstone). */
static unsigned resolve(void) {
  unsigned keys = 0;
  for (unsigned i = 0; i < nslots; i++) {
    if (!slots[i].gen || le32(record(i) + 4) != KIND_LIVE) {
      continue;
    }
    const uint8_t* r = record(i);
    bool newest = true;
    for (unsigned j = 0; j < nslots && newest; j++) {
      if (j != i && slots[j].gen > slots[i].gen && same_key(record(j), r + KEY_OFF, le16(r + 16))) {
        newest = false;
      }
    }
    slots[i].current = newest;
    keys += newest;
  }
  return keys;
}

unsigned kvstore_open(void) {
  struct pci_device* table;
  unsigned n = pci_scan(&table);
  struct pci_device* d = NULL;
  for (unsigned i = 0; i < n && !d; i++) {
    if (virtio_pci_type(&table[i]) == VIRTIO_ID_BLOCK) {
      d = &table[i];
    }
  }
  if (!d) {
    guest_fail(EXIT_NO_DEVICE, "kv: no virtio-blk device on PCI bus 0");
  }
  const char* why = virtio_blk_init(d);
  if (why) {
    guest_fail(EXIT_DEVICE_ERROR, "virtio-blk at %02x:%02x.%x: %s", 0, d->dev, d->fn, why);
  }
  uint64_t capacity = virtio_blk_capacity();
  log_line("virtio-blk at %02x:%02x.%x capacity %lu sectors%s", 0, d->dev, d->fn, capacity,
           virtio_blk_has_flush() ? "" : " (no flush: write-through)");
  if (virtio_blk_read_only()) {
    guest_fail(EXIT_DEVICE_ERROR, "kv: the disk is read-only");
  }
  if (capacity < 3) {
    guest_fail(EXIT_DEVICE_ERROR, "kv: the disk is too small (%lu sectors, need 3)", capacity);
  }
  uint64_t max_slots = capacity - 1 < KV_SLOTS_MAX ? capacity - 1 : KV_SLOTS_MAX;
  records = (uint8_t*)(uintptr_t)pages_alloc((KV_SLOTS_MAX * SECTOR) / PAGE_SIZE);
  if (!records) {
    guest_fail(EXIT_NO_MEMORY, "kv: no memory for the store");
  }
  nslots = read_header(max_slots);
  if (!nslots) {
    nslots = (unsigned)max_slots;
    format_disk();
  } else {
    for (unsigned i = 0; i < nslots; i += IO_CHUNK) {
      unsigned k = nslots - i < IO_CHUNK ? nslots - i : IO_CHUNK;
      int err = virtio_blk_read(1 + i, records + (size_t)i * SECTOR, k);
      if (err) {
        io_fail("loading", err);
      }
    }
  }
  unsigned damaged = 0;
  for (unsigned i = 0; i < nslots; i++) {
    const uint8_t* r = record(i);
    slots[i].current = false;
    slots[i].gen = valid(r) ? le64(r + 8) : 0;
    if (!slots[i].gen && !all_zero(r, SECTOR)) {
      damaged++;
    }
    if (slots[i].gen > last_gen) {
      last_gen = slots[i].gen;
    }
  }
  nkeys = resolve();
  log_line("kv loaded %u keys", nkeys);
  if (damaged) {
    log_warn("kv: ignored %u damaged records", damaged);
  }
  return nkeys;
}

static int find(const uint8_t* key, size_t klen) {
  for (unsigned i = 0; i < nslots; i++) {
    if (slots[i].current && same_key(record(i), key, klen)) {
      return (int)i;
    }
  }
  return -1;
}

/* The free slot holding the oldest record (or none). */
static int oldest_free(void) {
  int best = -1;
  for (unsigned i = 0; i < nslots; i++) {
    if (!slots[i].current && (best < 0 || slots[i].gen < slots[best].gen)) {
      best = (int)i;
    }
  }
  return best;
}

static unsigned free_slots(void) {
  unsigned n = 0;
  for (unsigned i = 0; i < nslots; i++) {
    n += !slots[i].current;
  }
  return n;
}

/* Writes a record into slot i and flushes; on success the RAM copy follows. */
static enum kv_result write_record(unsigned i, uint32_t kind, const uint8_t* key, size_t klen,
                                   const uint8_t* val, size_t vlen) {
  uint64_t gen = last_gen + 1;
  memset(sector_buf, 0, SECTOR);
  put_le32(sector_buf, RECORD_MAGIC);
  put_le32(sector_buf + 4, kind);
  put_le64(sector_buf + 8, gen);
  put_le16(sector_buf + 16, (uint16_t)klen);
  put_le16(sector_buf + 18, (uint16_t)vlen);
  memcpy(sector_buf + KEY_OFF, key, klen);
  memcpy(sector_buf + VALUE_OFF, val, vlen);
  seal(sector_buf);
  int err = virtio_blk_write(1 + i, sector_buf, 1);
  if (!err) {
    err = virtio_blk_flush();
  }
  if (err) {
    log_warn("kv: writing slot %u: %s", i, virtio_blk_strerror(err));
    slots[i].gen = 0; /* what is on the disk there is unknown now: reuse it first */
    memset(records + (size_t)i * SECTOR, 0, SECTOR);
    return KV_DISK;
  }
  last_gen = gen;
  memcpy(records + (size_t)i * SECTOR, sector_buf, SECTOR);
  slots[i].gen = gen;
  return KV_OK;
}

const uint8_t* kvstore_get(const uint8_t* key, size_t klen, size_t* vlen) {
  int i = klen && klen <= KV_KEY_MAX ? find(key, klen) : -1;
  if (i < 0) {
    return NULL;
  }
  *vlen = le16(record((unsigned)i) + 18);
  return record((unsigned)i) + VALUE_OFF;
}

enum kv_result kvstore_set(const uint8_t* key, size_t klen, const uint8_t* val, size_t vlen) {
  if (klen == 0 || klen > KV_KEY_MAX) {
    return KV_BAD_KEY;
  }
  if (vlen > KV_VALUE_MAX) {
    return KV_BAD_VALUE;
  }
  int old = find(key, klen);
  if (old < 0 && free_slots() <= 1) {
    return KV_FULL;
  }
  int s = oldest_free();
  if (s < 0) {
    return KV_FULL;
  }
  enum kv_result r = write_record((unsigned)s, KIND_LIVE, key, klen, val, vlen);
  if (r != KV_OK) {
    return r;
  }
  slots[s].current = true;
  if (old >= 0) {
    slots[old].current = false;
  } else {
    nkeys++;
  }
  return KV_OK;
}

enum kv_result kvstore_del(const uint8_t* key, size_t klen) {
  int old = klen && klen <= KV_KEY_MAX ? find(key, klen) : -1;
  if (old < 0) {
    return KV_NOT_FOUND;
  }
  int s = oldest_free();
  if (s < 0) {
    return KV_FULL; /* cannot happen: one slot is always kept free */
  }
  enum kv_result r = write_record((unsigned)s, KIND_TOMBSTONE, key, klen, NULL, 0);
  if (r != KV_OK) {
    return r;
  }
  slots[old].current = false;
  nkeys--;
  return KV_OK;
}

unsigned kvstore_count(void) {
  return nkeys;
}
