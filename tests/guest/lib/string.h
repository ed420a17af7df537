// SPDX-License-Identifier: GPL-2.0-or-later
/* The few C library string functions the guest needs (the compiler may call mem*). */
#ifndef TESTGUEST_LIB_STRING_H
#define TESTGUEST_LIB_STRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
size_t strnlen(const char* s, size_t max);
int strcmp(const char* a, const char* b);

/* True if the n bytes at s equal the NUL-terminated string word. */
bool str_equal_n(const char* s, size_t n, const char* word);

/*
 * Parses all n bytes at s as an unsigned number: decimal, or hexadecimal with a 0x
 * prefix. False on an empty string, a stray character or overflow.
 */
bool parse_u64(const char* s, size_t n, uint64_t* out);

#endif
