// SPDX-License-Identifier: GPL-2.0-or-later
#include "drivers/virtio_blk.h"

#include "drivers/virtio.h"
#include "lib/clock.h"
#include "lib/string.h"
#include "user/pages.h"

#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define CFG_CAPACITY 0
#define MAX_SECTORS_PER_REQUEST 128 /* 64 KiB */
#define TIMEOUT_MS 30000
#define STATUS_UNSET 0xff

struct blk_req_hdr {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

static struct virtio_dev dev;
static struct virtq q;
static volatile struct blk_req_hdr* hdr; /* in a DMA page, with the status byte after it */
static volatile uint8_t* status;
static uint64_t capacity;
static bool ready;

const char* virtio_blk_init(struct pci_device* d) {
  const char* why = virtio_pci_init(&dev, d);
  if (why) {
    return why;
  }
  why = virtio_negotiate(&dev, UINT64_C(1) << VIRTIO_BLK_F_RO | UINT64_C(1) << VIRTIO_BLK_F_FLUSH);
  if (!why) {
    why = virtio_queue_setup(&dev, &q, 0, 16, VIRTIO_NO_VECTOR);
  }
  uint64_t page = why ? 0 : pages_alloc(1);
  if (!why && !page) {
    why = "out of memory";
  }
  if (!why && !dev.device_cfg) {
    why = "no device configuration capability";
  }
  if (why) {
    virtio_failed(&dev);
    return why;
  }
  memset((void*)(uintptr_t)page, 0, PAGE_SIZE);
  hdr = (volatile struct blk_req_hdr*)(uintptr_t)page;
  status = (volatile uint8_t*)(uintptr_t)(page + sizeof(struct blk_req_hdr));
  capacity = virtio_cfg_read64(&dev, CFG_CAPACITY);
  virtio_driver_ok(&dev);
  ready = true;
  return NULL;
}

uint64_t virtio_blk_capacity(void) {
  return capacity;
}

bool virtio_blk_read_only(void) {
  return virtio_has(&dev, VIRTIO_BLK_F_RO);
}

bool virtio_blk_has_flush(void) {
  return virtio_has(&dev, VIRTIO_BLK_F_FLUSH);
}

/* Posts header [+ data] + status as descriptors 0..2 and waits for the completion. */
static int request(uint32_t type, uint64_t sector, void* data, uint32_t len) {
  if (!ready) {
    return VBLK_EBAD;
  }
  hdr->type = type;
  hdr->reserved = 0;
  hdr->sector = sector;
  *status = STATUS_UNSET;
  uint16_t n = 0;
  q.desc[n].addr = (uint64_t)(uintptr_t)hdr;
  q.desc[n].len = sizeof(struct blk_req_hdr);
  q.desc[n].flags = VRING_DESC_F_NEXT;
  q.desc[n].next = (uint16_t)(n + 1);
  n++;
  if (len) {
    q.desc[n].addr = (uint64_t)(uintptr_t)data;
    q.desc[n].len = len;
    q.desc[n].flags =
        (uint16_t)(VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0));
    q.desc[n].next = (uint16_t)(n + 1);
    n++;
  }
  q.desc[n].addr = (uint64_t)(uintptr_t)status;
  q.desc[n].len = 1;
  q.desc[n].flags = VRING_DESC_F_WRITE;
  q.desc[n].next = 0;
  virtq_add(&q, 0);
  virtq_kick(&q);

  uint64_t start = clock_now();
  uint64_t timeout = clock_ms(TIMEOUT_MS);
  uint16_t id;
  uint32_t used_len;
  while (!virtq_pop(&q, &id, &used_len)) {
    if (clock_now() - start > timeout) {
      ready = false; /* the descriptors still belong to the device */
      return VBLK_ETIMEOUT;
    }
    __asm__ volatile("pause");
  }
  if (id != 0) {
    return VBLK_EBAD;
  }
  switch (*status) {
    case VIRTIO_BLK_S_OK:
      return VBLK_OK;
    case VIRTIO_BLK_S_IOERR:
      return VBLK_EIO;
    case VIRTIO_BLK_S_UNSUPP:
      return VBLK_EUNSUPP;
    default:
      return VBLK_EBAD;
  }
}

static int transfer(uint32_t type, uint64_t sector, uint8_t* buf, uint32_t count) {
  if (sector > capacity || count > capacity - sector) {
    return VBLK_ERANGE;
  }
  while (count) {
    uint32_t n = count < MAX_SECTORS_PER_REQUEST ? count : MAX_SECTORS_PER_REQUEST;
    int err = request(type, sector, buf, n * VBLK_SECTOR);
    if (err) {
      return err;
    }
    sector += n;
    buf += (uint64_t)n * VBLK_SECTOR;
    count -= n;
  }
  return VBLK_OK;
}

int virtio_blk_read(uint64_t sector, void* buf, uint32_t count) {
  return transfer(VIRTIO_BLK_T_IN, sector, buf, count);
}

int virtio_blk_write(uint64_t sector, const void* buf, uint32_t count) {
  return transfer(VIRTIO_BLK_T_OUT, sector, (uint8_t*)(uintptr_t)buf, count);
}

int virtio_blk_flush(void) {
  if (!virtio_blk_has_flush()) {
    return VBLK_OK;
  }
  return request(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
}

const char* virtio_blk_strerror(int err) {
  switch (err) {
    case VBLK_OK:
      return "ok";
    case VBLK_EIO:
      return "I/O error";
    case VBLK_EUNSUPP:
      return "unsupported request";
    case VBLK_ETIMEOUT:
      return "timeout";
    case VBLK_ERANGE:
      return "beyond the capacity";
    default:
      return "protocol error";
  }
}
