// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Internet checksum: sums little-endian words natively and swaps the folded result,
 * which gives the same one's complement sum as big-endian 16-bit words (RFC 1071, 2.(B)).
 */
#include "net/net.h"

typedef uint64_t __attribute__((aligned(1), may_alias)) u64_unaligned;
typedef uint16_t __attribute__((aligned(1), may_alias)) u16_unaligned;

static uint32_t fold(uint64_t s) {
  while (s >> 16) {
    s = (s & 0xffff) + (s >> 16);
  }
  return (uint32_t)s;
}

uint32_t csum_add(uint32_t sum, const void* data, size_t len) {
  const uint8_t* p = data;
  uint64_t s = 0;
  while (len >= 8) {
    uint64_t w = *(const u64_unaligned*)p;
    s += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    s += *(const u16_unaligned*)p;
    p += 2;
    len -= 2;
  }
  if (len) {
    s += p[0]; /* the low byte of a little-endian word is the first byte */
  }
  uint32_t le = fold(s);
  uint32_t be = ((le & 0xff) << 8) | (le >> 8);
  return sum + be;
}

uint16_t csum_finish(uint32_t sum) {
  return (uint16_t)~fold(sum);
}
