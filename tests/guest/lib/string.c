// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * String functions. The mem* functions use rep movsb/stosb: native speed in ring 3,
 * and they cannot be turned back into calls to themselves by the compiler.
 */
#include "lib/string.h"

void* memcpy(void* dst, const void* src, size_t n) {
  void* d = dst;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n) {
    return memcpy(dst, src, n);
  }
  /* Overlapping with dst above src: copy backwards. */
  void* d = (char*)dst + n - 1;
  const void* s = (const char*)src + n - 1;
  __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory", "cc");
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  void* d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  const unsigned char* p = a;
  const unsigned char* q = b;
  for (size_t i = 0; i < n; i++) {
    if (p[i] != q[i]) {
      return p[i] < q[i] ? -1 : 1;
    }
  }
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) {
    n++;
  }
  return n;
}

size_t strnlen(const char* s, size_t max) {
  size_t n = 0;
  while (n < max && s[n]) {
    n++;
  }
  return n;
}

int strcmp(const char* a, const char* b) {
  while (*a && *a == *b) {
    a++;
    b++;
  }
  return (unsigned char)*a - (unsigned char)*b;
}

bool str_equal_n(const char* s, size_t n, const char* word) {
  return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int digit_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return 99;
}

bool parse_u64(const char* s, size_t n, uint64_t* out) {
  unsigned base = 10;
  if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
    n -= 2;
  }
  if (n == 0) {
    return false;
  }
  uint64_t value = 0;
  for (size_t i = 0; i < n; i++) {
    int d = digit_value(s[i]);
    if (d >= (int)base) {
      return false;
    }
    if (value > (UINT64_MAX - (uint64_t)d) / base) {
      return false;
    }
    value = value * base + (uint64_t)d;
  }
  *out = value;
  return true;
}
