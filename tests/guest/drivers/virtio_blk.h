// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Polled virtio-blk with one request in flight at a time: each call posts the request
 * (header, data, status byte), notifies if the device wants it and spins on the used
 * ring until the request completes. Sectors are 512 bytes. Buffers must be in RAM
 * (identity-mapped, so any pointer of the guest is also its DMA address).
 */
#ifndef TESTGUEST_DRIVERS_VIRTIO_BLK_H
#define TESTGUEST_DRIVERS_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci.h"

#define VBLK_SECTOR 512

/* Results: 0 is success. */
#define VBLK_OK 0
#define VBLK_EIO 1      /* device status VIRTIO_BLK_S_IOERR */
#define VBLK_EUNSUPP 2  /* device status VIRTIO_BLK_S_UNSUPP */
#define VBLK_ETIMEOUT 3 /* no completion within 30 s */
#define VBLK_ERANGE 4   /* beyond the capacity */
#define VBLK_EBAD 5     /* the device broke the protocol (bad used element, status byte) */

const char* virtio_blk_init(struct pci_device* d);

uint64_t virtio_blk_capacity(void); /* in 512-byte sectors */
bool virtio_blk_read_only(void);
bool virtio_blk_has_flush(void); /* VIRTIO_BLK_F_FLUSH negotiated */

int virtio_blk_read(uint64_t sector, void* buf, uint32_t count);
int virtio_blk_write(uint64_t sector, const void* buf, uint32_t count);
/* VIRTIO_BLK_T_FLUSH; without VIRTIO_BLK_F_FLUSH the device writes through: returns 0. */
int virtio_blk_flush(void);

const char* virtio_blk_strerror(int err);

#endif
