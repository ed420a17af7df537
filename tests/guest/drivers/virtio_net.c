// SPDX-License-Identifier: GPL-2.0-or-later
#include "drivers/virtio_net.h"

#include "drivers/mmio.h"
#include "drivers/virtio.h"
#include "lib/string.h"
#include "user/pages.h"

#define VIRTIO_NET_F_MAC 5
#define NET_HDR_SIZE 12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define BUF_SIZE 2048
#define QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1

static struct virtio_dev dev;
static struct virtq rxq, txq;
static uint64_t rx_bufs, tx_bufs; /* BUF_SIZE per descriptor */
static uint16_t tx_free[VIRTQ_MAX_SIZE];
static unsigned tx_nfree;
static bool tx_pending; /* frames queued since the last flush */
static uint8_t mac[6];
static bool mac_from_device;
static struct virtio_net_stats stats;

static uint64_t buf_alloc(uint16_t n) {
  uint64_t pages = ((uint64_t)n * BUF_SIZE + PAGE_SIZE - 1) / PAGE_SIZE;
  uint64_t a = pages_alloc(pages);
  if (a) {
    memset((void*)(uintptr_t)a, 0, pages * PAGE_SIZE);
  }
  return a;
}

const char* virtio_net_init(struct pci_device* d, const uint8_t fallback_mac[6],
                            uint8_t rx_vector) {
  const char* why = virtio_pci_init(&dev, d);
  if (why) {
    return why;
  }
  if (rx_vector) {
    why = pci_msix_route(d, 0, rx_vector);
  }
  if (!why) {
    why = virtio_negotiate(&dev, UINT64_C(1) << VIRTIO_NET_F_MAC);
  }
  if (!why) {
    why = virtio_queue_setup(&dev, &rxq, RXQ, QUEUE_SIZE, rx_vector ? 0 : VIRTIO_NO_VECTOR);
  }
  if (!why) {
    why = virtio_queue_setup(&dev, &txq, TXQ, QUEUE_SIZE, VIRTIO_NO_VECTOR);
  }
  if (!why) {
    rx_bufs = buf_alloc(rxq.size);
    tx_bufs = buf_alloc(txq.size);
    if (!rx_bufs || !tx_bufs) {
      why = "out of memory for packet buffers";
    }
  }
  if (why) {
    virtio_failed(&dev);
    return why;
  }
  mac_from_device = virtio_has(&dev, VIRTIO_NET_F_MAC) && dev.device_cfg;
  for (int i = 0; i < 6; i++) {
    mac[i] = mac_from_device ? virtio_cfg_read8(&dev, (uint32_t)i) : fallback_mac[i];
  }
  for (uint16_t i = 0; i < rxq.size; i++) {
    rxq.desc[i].addr = rx_bufs + (uint64_t)i * BUF_SIZE;
    rxq.desc[i].len = BUF_SIZE;
    rxq.desc[i].flags = VRING_DESC_F_WRITE;
    virtq_add(&rxq, i);
  }
  for (uint16_t i = 0; i < txq.size; i++) {
    txq.desc[i].addr = tx_bufs + (uint64_t)i * BUF_SIZE;
    tx_free[i] = (uint16_t)(txq.size - 1 - i);
  }
  tx_nfree = txq.size;
  virtio_driver_ok(&dev);
  virtq_kick(&rxq);
  return NULL;
}

void virtio_net_mac(uint8_t out[6]) {
  memcpy(out, mac, 6);
}

bool virtio_net_mac_from_device(void) {
  return mac_from_device;
}

unsigned virtio_net_rx_poll(void (*fn)(const uint8_t* frame, size_t len), unsigned budget) {
  unsigned n = 0;
  uint16_t id;
  uint32_t len;
  while (n < budget && virtq_pop(&rxq, &id, &len)) {
    n++;
    if (id >= rxq.size) {
      stats.rx_bad++; /* a broken device: nothing to re-post */
      continue;
    }
    if (len > NET_HDR_SIZE && len <= BUF_SIZE) {
      stats.rx_frames++;
      fn((const uint8_t*)(uintptr_t)(rx_bufs + (uint64_t)id * BUF_SIZE + NET_HDR_SIZE),
         len - NET_HDR_SIZE);
    } else {
      stats.rx_bad++;
    }
    rxq.desc[id].len = BUF_SIZE;
    rxq.desc[id].flags = VRING_DESC_F_WRITE;
    virtq_add(&rxq, id);
  }
  if (n) {
    uint64_t k = rxq.kicks;
    virtq_kick(&rxq);
    stats.rx_kicks += rxq.kicks - k;
  }
  return n;
}

static void tx_reclaim(void) {
  uint16_t id;
  uint32_t len;
  while (virtq_pop(&txq, &id, &len)) {
    if (id < txq.size && tx_nfree < txq.size) {
      tx_free[tx_nfree++] = id;
    }
  }
}

uint8_t* virtio_net_tx_alloc(void) {
  if (tx_nfree == 0) {
    tx_reclaim();
    if (tx_nfree == 0) {
      /* Full: let the device start on what is queued rather than wait for the flush. */
      virtio_net_tx_flush();
      stats.tx_full++;
      return NULL;
    }
  }
  uint16_t id = tx_free[--tx_nfree];
  uint8_t* buf = (uint8_t*)(uintptr_t)(tx_bufs + (uint64_t)id * BUF_SIZE);
  memset(buf, 0, NET_HDR_SIZE); /* no checksum offload, no GSO */
  return buf + NET_HDR_SIZE;
}

static uint16_t tx_id(const uint8_t* frame) {
  return (uint16_t)(((uint64_t)(uintptr_t)frame - NET_HDR_SIZE - tx_bufs) / BUF_SIZE);
}

void virtio_net_tx_commit(uint8_t* frame, size_t len) {
  uint16_t id = tx_id(frame);
  if (len > VNET_FRAME_MAX) {
    len = VNET_FRAME_MAX;
  }
  txq.desc[id].len = (uint32_t)(NET_HDR_SIZE + len);
  txq.desc[id].flags = 0;
  virtq_add(&txq, id);
  stats.tx_frames++;
  tx_pending = true;
}

void virtio_net_tx_abort(uint8_t* frame) {
  tx_free[tx_nfree++] = tx_id(frame);
}

void virtio_net_tx_flush(void) {
  if (tx_pending) {
    tx_pending = false;
    uint64_t k = txq.kicks;
    virtq_kick(&txq);
    stats.tx_kicks += txq.kicks - k;
  }
  if (tx_nfree < txq.size / 2) {
    tx_reclaim();
  }
}

bool virtio_net_rx_arm(void) {
  rxq.avail->flags = 0;
  full_barrier(); /* the flag store before the used index load */
  return rxq.used->idx == rxq.last_used;
}

void virtio_net_rx_disarm(void) {
  rxq.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
}

const struct virtio_net_stats* virtio_net_stats(void) {
  return &stats;
}
