// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * idle=hlt: when the poll loop has had nothing to do for IDLE_AFTER_US, the guest halts
 * (the SYS_WAIT system call: sti; hlt in ring 0) until a frame arrives (virtio-net's
 * receive queue raises an MSI-X interrupt, armed only while halted) or the next timer is
 * due (PIT channel 0 one-shot through the 8259 and the local APIC's LINT0, at most
 * 54 ms ahead). A busy-polling vCPU takes a whole host CPU; this one sleeps when idle, at
 * the price of a few hundred microseconds (the ring-0 round trip on kvm-pvm) on the first
 * frame after a pause.
 */
#include "drivers/lapic.h"
#include "drivers/pic.h"
#include "drivers/pio.h"
#include "drivers/pit.h"
#include "drivers/virtio_net.h"
#include "lib/clock.h"
#include "net/net.h"
#include "services/service.h"
#include "user/syscall.h"

#define IDLE_VECTOR 0x41
#define IDLE_AFTER_US 1000
#define IDLE_MIN_US 500 /* not worth halting for less */
#define PIT_MAX_COUNT 0xffffu
#define PIT_CMD_CH0_LOHI_MODE0 0x30

static bool enabled;
static uint64_t sleeps;

void idle_enable(void) {
  enabled = true;
  net_cfg.rx_vector = IDLE_VECTOR;
  lapic_virtual_wire();
  pic_unmask(PIT_IRQ);
}

bool idle_enabled(void) {
  return enabled;
}

uint64_t idle_after_ticks(void) {
  return clock_ms(IDLE_AFTER_US) / 1000;
}

uint64_t idle_sleeps(void) {
  return sleeps;
}

static void pit_oneshot(uint64_t us) {
  uint64_t count = us * PIT_HZ / 1000000;
  if (count > PIT_MAX_COUNT) {
    count = PIT_MAX_COUNT;
  }
  outb(PIT_CMD, PIT_CMD_CH0_LOHI_MODE0);
  outb(PIT_CH0, (uint8_t)(count & 0xff));
  outb(PIT_CH0, (uint8_t)(count >> 8));
}

void idle_sleep(uint64_t now, uint64_t wake) {
  if (wake <= now) {
    return;
  }
  uint64_t us = (wake - now) * 1000 / clock_ticks_per_ms();
  if (us < IDLE_MIN_US) {
    return;
  }
  if (net_is_up() && !virtio_net_rx_arm()) {
    virtio_net_rx_disarm(); /* frames are waiting: no sleep */
    return;
  }
  pit_oneshot(us);
  sys_wait(); /* returns after one interrupt: a frame, the PIT, or a stale one */
  if (net_is_up()) {
    virtio_net_rx_disarm();
  }
  sleeps++;
}
