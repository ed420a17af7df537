// SPDX-License-Identifier: GPL-2.0-or-later
#include "drivers/virtio.h"

#include "drivers/mmio.h"
#include "lib/string.h"
#include "user/pages.h"

/* virtio_pci_cap.cfg_type */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* struct virtio_pci_common_cfg */
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_MSIX 0x10
#define COMMON_NUMQ 0x12
#define COMMON_STATUS 0x14
#define COMMON_CFGGENERATION 0x15
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1a
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_NOFF 0x1e
#define COMMON_Q_DESCLO 0x20
#define COMMON_Q_DESCHI 0x24
#define COMMON_Q_AVAILLO 0x28
#define COMMON_Q_AVAILHI 0x2c
#define COMMON_Q_USEDLO 0x30
#define COMMON_Q_USEDHI 0x34

#define NO_VECTOR VIRTIO_NO_VECTOR
#define RESET_POLLS 1000000

uint32_t virtio_pci_type(const struct pci_device* d) {
  if (d->vendor != VIRTIO_VENDOR) {
    return 0;
  }
  if (d->device >= 0x1040 && d->device <= 0x107f) {
    return d->device - 0x1040u; /* modern-only */
  }
  if (d->device >= 0x1000 && d->device <= 0x103f) {
    return d->subsystem; /* transitional: the type is the subsystem ID */
  }
  return 0;
}

const char* virtio_pci_init(struct virtio_dev* v, struct pci_device* d) {
  memset(v, 0, sizeof(*v));
  v->pci = d;
  v->type = virtio_pci_type(d);
  const char* why = pci_enable(d);
  if (why) {
    return why;
  }
  for (uint8_t cap = pci_find_cap(d, PCI_CAP_ID_VENDOR, 0); cap;
       cap = pci_find_cap(d, PCI_CAP_ID_VENDOR, cap)) {
    uint8_t type = pci_read8(d, (uint8_t)(cap + 3));
    uint8_t bar = pci_read8(d, (uint8_t)(cap + 4));
    uint32_t offset = pci_read32(d, (uint8_t)(cap + 8));
    uint32_t length = pci_read32(d, (uint8_t)(cap + 12));
    if (bar >= PCI_NUM_BARS ||
        (d->bar[bar].kind != PCI_BAR_MEM32 && d->bar[bar].kind != PCI_BAR_MEM64) ||
        (uint64_t)offset + length > d->bar[bar].size) {
      continue; /* I/O BAR or out of range: the spec lets us skip it */
    }
    uint64_t addr = d->bar[bar].addr + offset;
    /* The spec says: use the first capability of each type the driver understands. */
    if (type == CAP_COMMON && !v->common && length >= 0x38) {
      v->common = addr;
    } else if (type == CAP_NOTIFY && !v->notify && length >= 2) {
      v->notify = addr;
      v->notify_mult = pci_read32(d, (uint8_t)(cap + 16));
    } else if (type == CAP_ISR && !v->isr) {
      v->isr = addr;
    } else if (type == CAP_DEVICE && !v->device_cfg) {
      v->device_cfg = addr;
    }
  }
  if (!v->common || !v->notify) {
    return "no virtio 1.x (modern) capabilities: legacy-only device";
  }
  return NULL;
}

uint8_t virtio_status(const struct virtio_dev* v) {
  return mmio_read8(v->common + COMMON_STATUS);
}

static void set_status(struct virtio_dev* v, uint8_t bits) {
  mmio_write8(v->common + COMMON_STATUS, (uint8_t)(virtio_status(v) | bits));
}

void virtio_reset(struct virtio_dev* v) {
  mmio_write8(v->common + COMMON_STATUS, 0);
  for (int i = 0; i < RESET_POLLS && virtio_status(v) != 0; i++) {
    __asm__ volatile("pause");
  }
}

void virtio_failed(struct virtio_dev* v) {
  set_status(v, VIRTIO_STATUS_FAILED);
}

void virtio_driver_ok(struct virtio_dev* v) {
  set_status(v, VIRTIO_STATUS_DRIVER_OK);
}

const char* virtio_negotiate(struct virtio_dev* v, uint64_t wanted) {
  virtio_reset(v);
  if (virtio_status(v) != 0) {
    return "device does not reset";
  }
  set_status(v, VIRTIO_STATUS_ACKNOWLEDGE);
  set_status(v, VIRTIO_STATUS_DRIVER);
  mmio_write32(v->common + COMMON_DFSELECT, 0);
  uint64_t offered = mmio_read32(v->common + COMMON_DF);
  mmio_write32(v->common + COMMON_DFSELECT, 1);
  offered |= (uint64_t)mmio_read32(v->common + COMMON_DF) << 32;
  if (!((offered >> VIRTIO_F_VERSION_1) & 1)) {
    virtio_failed(v);
    return "device does not offer VIRTIO_F_VERSION_1";
  }
  v->features = offered & (wanted | UINT64_C(1) << VIRTIO_F_VERSION_1);
  mmio_write32(v->common + COMMON_GFSELECT, 0);
  mmio_write32(v->common + COMMON_GF, (uint32_t)v->features);
  mmio_write32(v->common + COMMON_GFSELECT, 1);
  mmio_write32(v->common + COMMON_GF, (uint32_t)(v->features >> 32));
  set_status(v, VIRTIO_STATUS_FEATURES_OK);
  if (!(virtio_status(v) & VIRTIO_STATUS_FEATURES_OK)) {
    virtio_failed(v);
    return "device did not accept the features (FEATURES_OK cleared)";
  }
  /* No interrupts: no configuration-change vector either. */
  mmio_write16(v->common + COMMON_MSIX, NO_VECTOR);
  return NULL;
}

const char* virtio_queue_setup(struct virtio_dev* v, struct virtq* q, uint16_t index,
                               uint16_t max_size, uint16_t msix) {
  memset(q, 0, sizeof(*q));
  if (index >= mmio_read16(v->common + COMMON_NUMQ)) {
    return "device has too few queues";
  }
  mmio_write16(v->common + COMMON_Q_SELECT, index);
  uint16_t size = mmio_read16(v->common + COMMON_Q_SIZE);
  if (size == 0) {
    return "queue not available";
  }
  if (mmio_read16(v->common + COMMON_Q_ENABLE)) {
    return "queue already enabled after reset";
  }
  if (max_size > VIRTQ_MAX_SIZE) {
    max_size = VIRTQ_MAX_SIZE;
  }
  if (size > max_size) {
    size = max_size;
  }
  while (size & (size - 1)) { /* our ring indexing needs a power of 2: round down */
    size &= (uint16_t)(size - 1);
  }
  /* Three pages: descriptors, avail ring, used ring (enough for 256 entries). */
  uint64_t mem = pages_alloc(3);
  if (!mem) {
    return "out of memory for a virtqueue";
  }
  memset((void*)(uintptr_t)mem, 0, 3 * PAGE_SIZE);
  q->index = index;
  q->size = size;
  q->desc = (volatile struct vring_desc*)(uintptr_t)mem;
  q->avail = (volatile struct vring_avail*)(uintptr_t)(mem + PAGE_SIZE);
  q->used = (volatile struct vring_used*)(uintptr_t)(mem + 2 * PAGE_SIZE);
  q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;

  mmio_write16(v->common + COMMON_Q_SIZE, size);
  mmio_write16(v->common + COMMON_Q_MSIX, msix);
  if (msix != NO_VECTOR && mmio_read16(v->common + COMMON_Q_MSIX) != msix) {
    return "device refused the queue's MSI-X vector";
  }
  mmio_write32(v->common + COMMON_Q_DESCLO, (uint32_t)mem);
  mmio_write32(v->common + COMMON_Q_DESCHI, (uint32_t)(mem >> 32));
  mmio_write32(v->common + COMMON_Q_AVAILLO, (uint32_t)(mem + PAGE_SIZE));
  mmio_write32(v->common + COMMON_Q_AVAILHI, (uint32_t)((mem + PAGE_SIZE) >> 32));
  mmio_write32(v->common + COMMON_Q_USEDLO, (uint32_t)(mem + 2 * PAGE_SIZE));
  mmio_write32(v->common + COMMON_Q_USEDHI, (uint32_t)((mem + 2 * PAGE_SIZE) >> 32));
  uint16_t noff = mmio_read16(v->common + COMMON_Q_NOFF);
  q->notify_addr = v->notify + (uint64_t)noff * v->notify_mult;
  mmio_write16(v->common + COMMON_Q_ENABLE, 1);
  return NULL;
}

void virtq_kick(struct virtq* q) {
  barrier(); /* descriptors and ring entries before the index (x86 keeps stores ordered) */
  q->avail->idx = q->avail_idx;
  full_barrier(); /* the index store before the flags load */
  if (!(q->used->flags & VRING_USED_F_NO_NOTIFY)) {
    mmio_write16(q->notify_addr, q->index);
    q->kicks++;
  }
}

static uint8_t cfg_generation(const struct virtio_dev* v) {
  return mmio_read8(v->common + COMMON_CFGGENERATION);
}

uint8_t virtio_cfg_read8(const struct virtio_dev* v, uint32_t off) {
  return mmio_read8(v->device_cfg + off);
}

uint32_t virtio_cfg_read32(const struct virtio_dev* v, uint32_t off) {
  return mmio_read32(v->device_cfg + off);
}

uint64_t virtio_cfg_read64(const struct virtio_dev* v, uint32_t off) {
  for (;;) {
    uint8_t gen = cfg_generation(v);
    uint64_t lo = mmio_read32(v->device_cfg + off);
    uint64_t hi = mmio_read32(v->device_cfg + off + 4);
    if (cfg_generation(v) == gen) {
      return lo | hi << 32;
    }
  }
}
