// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio 1.x over the modern PCI transport (vendor capabilities: common, notify, ISR and
 * device configuration), with split virtqueues in guest RAM (physical = virtual). The
 * drivers poll the used rings and ask the device not to interrupt; they write a notify
 * register (a VM exit, or an ioeventfd) only when the device wants to be notified.
 */
#ifndef TESTGUEST_DRIVERS_VIRTIO_H
#define TESTGUEST_DRIVERS_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_F_VERSION_1 32

/* Split virtqueue layout (virtio 1.x, 2.7). */
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1
#define VIRTQ_MAX_SIZE 256

struct vring_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

struct vring_avail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[];
};

struct vring_used_elem {
  uint32_t id;
  uint32_t len;
};

struct vring_used {
  uint16_t flags;
  uint16_t idx;
  struct vring_used_elem ring[];
};

struct virtq {
  uint16_t index; /* queue number */
  uint16_t size;
  volatile struct vring_desc* desc;
  volatile struct vring_avail* avail;
  volatile struct vring_used* used;
  uint16_t avail_idx; /* next avail->idx to publish */
  uint16_t last_used; /* next used entry to consume */
  uint64_t notify_addr;
  uint64_t kicks; /* notify register writes, for statistics */
};

struct virtio_dev {
  struct pci_device* pci;
  uint32_t type; /* VIRTIO_ID_* */
  uint64_t common, notify, isr, device_cfg;
  uint32_t notify_mult;
  uint64_t features; /* negotiated */
};

/* The virtio device type of a PCI function, or 0 if it is not a virtio device. */
uint32_t virtio_pci_type(const struct pci_device* d);

/*
 * Finds the modern transport's capabilities and enables the PCI function (see
 * pci_enable). Returns NULL, or why the device cannot be used.
 */
const char* virtio_pci_init(struct virtio_dev* v, struct pci_device* d);

/* Resets the device (status 0, waits for the reset to finish). */
void virtio_reset(struct virtio_dev* v);

/*
 * Reset, ACKNOWLEDGE, DRIVER, then accepts the offered features that are in `wanted`
 * (VERSION_1 must be offered) and checks FEATURES_OK. Returns NULL or why it failed.
 */
const char* virtio_negotiate(struct virtio_dev* v, uint64_t wanted);

static inline bool virtio_has(const struct virtio_dev* v, unsigned bit) {
  return (v->features >> bit) & 1;
}

#define VIRTIO_NO_VECTOR 0xffff

/*
 * Allocates and registers queue `index` with at most max_size entries (a power of 2).
 * msix: the MSI-X table entry for its used-buffer notifications, or VIRTIO_NO_VECTOR.
 */
const char* virtio_queue_setup(struct virtio_dev* v, struct virtq* q, uint16_t index,
                               uint16_t max_size, uint16_t msix);

void virtio_driver_ok(struct virtio_dev* v);
void virtio_failed(struct virtio_dev* v);
uint8_t virtio_status(const struct virtio_dev* v);

/* Device configuration space (retried until config_generation is stable). */
uint8_t virtio_cfg_read8(const struct virtio_dev* v, uint32_t off);
uint32_t virtio_cfg_read32(const struct virtio_dev* v, uint32_t off);
uint64_t virtio_cfg_read64(const struct virtio_dev* v, uint32_t off);

/* Puts the descriptor chain starting at head into the avail ring (not yet published). */
static inline void virtq_add(struct virtq* q, uint16_t head) {
  q->avail->ring[q->avail_idx & (q->size - 1)] = head;
  q->avail_idx++;
}

/* Publishes what virtq_add() queued and notifies the device if it asks to be. */
void virtq_kick(struct virtq* q);

/* Takes the next used element: true and its head and length, or false if none. */
static inline bool virtq_pop(struct virtq* q, uint16_t* id, uint32_t* len) {
  if (q->used->idx == q->last_used) {
    return false;
  }
  __asm__ volatile("" : : : "memory"); /* read idx before the element (x86 keeps loads ordered) */
  volatile struct vring_used_elem* e = &q->used->ring[q->last_used & (q->size - 1)];
  *id = (uint16_t)e->id;
  *len = e->len;
  q->last_used++;
  return true;
}

#endif
