// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Memory-mapped device registers and memory barriers. Each access to a BAR is a VM exit
 * unless the VMM backs it with an ioeventfd (virtio notify registers): keep them rare.
 */
#ifndef TESTGUEST_DRIVERS_MMIO_H
#define TESTGUEST_DRIVERS_MMIO_H

#include <stdint.h>

static inline uint8_t mmio_read8(uint64_t a) {
  return *(volatile uint8_t*)(uintptr_t)a;
}
static inline uint16_t mmio_read16(uint64_t a) {
  return *(volatile uint16_t*)(uintptr_t)a;
}
static inline uint32_t mmio_read32(uint64_t a) {
  return *(volatile uint32_t*)(uintptr_t)a;
}
static inline void mmio_write8(uint64_t a, uint8_t v) {
  *(volatile uint8_t*)(uintptr_t)a = v;
}
static inline void mmio_write16(uint64_t a, uint16_t v) {
  *(volatile uint16_t*)(uintptr_t)a = v;
}
static inline void mmio_write32(uint64_t a, uint32_t v) {
  *(volatile uint32_t*)(uintptr_t)a = v;
}

/* Orders the compiler only: x86 keeps stores in order and loads in order. */
static inline void barrier(void) {
  __asm__ volatile("" : : : "memory");
}

/* A full fence (store -> load ordering) without SSE2's mfence: a locked no-op. */
static inline void full_barrier(void) {
  __asm__ volatile("lock; addl $0, (%%rsp)" : : : "memory", "cc");
}

#endif
