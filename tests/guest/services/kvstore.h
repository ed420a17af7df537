// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The key-value store on the virtio-blk disk. Sector 0 is a header; sectors 1..N are
 * record slots of one sector each, every record with its own checksum. Updates never
 * overwrite the current record of a key: a SET or DEL writes a new record (with a higher
 * generation) into a free slot and flushes, so a torn write leaves the previous state.
 * README.md ("The KV disk format") has the byte layout.
 */
#ifndef TESTGUEST_SERVICES_KVSTORE_H
#define TESTGUEST_SERVICES_KVSTORE_H

#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX 64
#define KV_VALUE_MAX 416
#define KV_SLOTS_MAX 1024

enum kv_result {
  KV_OK,
  KV_NOT_FOUND,
  KV_FULL,     /* no free slot left (one is kept spare for DEL) */
  KV_DISK,     /* the write or flush failed */
  KV_BAD_KEY,  /* empty or longer than KV_KEY_MAX */
  KV_BAD_VALUE /* longer than KV_VALUE_MAX */
};

/*
 * Loads the store from the disk (formats it when sector 0 holds no valid header).
 * Ends the VM if there is no disk or it fails. Returns the number of keys.
 */
unsigned kvstore_open(void);

/* The value of a key (not NUL-terminated), or NULL. */
const uint8_t* kvstore_get(const uint8_t* key, size_t klen, size_t* vlen);
enum kv_result kvstore_set(const uint8_t* key, size_t klen, const uint8_t* val, size_t vlen);
enum kv_result kvstore_del(const uint8_t* key, size_t klen);
unsigned kvstore_count(void);

#endif
