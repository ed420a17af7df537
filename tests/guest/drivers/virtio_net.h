// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Polled virtio-net (one receive and one transmit queue, no offloads). Every descriptor
 * owns a fixed 2 KiB buffer that holds the 12-byte virtio_net_hdr and one frame.
 * Receive buffers are re-posted as soon as a frame has been handled; transmitted
 * buffers are reclaimed lazily. Notifications are batched: a poll round writes each
 * notify register at most once, and only when the device asks for it.
 */
#ifndef TESTGUEST_DRIVERS_VIRTIO_NET_H
#define TESTGUEST_DRIVERS_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/pci.h"

#define VNET_FRAME_MAX 1514 /* Ethernet header + 1500, no FCS */

struct virtio_net_stats {
  uint64_t rx_frames, rx_bad, tx_frames, tx_full;
  uint64_t rx_kicks, tx_kicks;
};

/*
 * Brings the device up. fallback_mac is used when the device offers no VIRTIO_NET_F_MAC.
 * rx_vector: if not 0, receive notifications are routed by MSI-X to this CPU vector (they
 * stay suppressed until virtio_net_rx_arm()). Returns NULL or why it failed (then the
 * device is marked FAILED).
 */
const char* virtio_net_init(struct pci_device* d, const uint8_t fallback_mac[6], uint8_t rx_vector);

/*
 * Asks for an interrupt at the next received frame. False if frames are already waiting
 * (then do not sleep). virtio_net_rx_disarm() suppresses interrupts again.
 */
bool virtio_net_rx_arm(void);
void virtio_net_rx_disarm(void);

/* The MAC address in use. */
void virtio_net_mac(uint8_t mac[6]);

/* Whether the MAC came from the device (VIRTIO_NET_F_MAC). */
bool virtio_net_mac_from_device(void);

/* Hands up to `budget` received frames to fn, then re-posts their buffers. */
unsigned virtio_net_rx_poll(void (*fn)(const uint8_t* frame, size_t len), unsigned budget);

/* A buffer for one frame of up to VNET_FRAME_MAX bytes, or NULL if the queue is full. */
uint8_t* virtio_net_tx_alloc(void);

/* Queues the frame in a buffer from virtio_net_tx_alloc() (notifies at the next flush). */
void virtio_net_tx_commit(uint8_t* frame, size_t len);

/* Gives back a buffer from virtio_net_tx_alloc() unused. */
void virtio_net_tx_abort(uint8_t* frame);

/* Publishes the queued frames and notifies the device if it wants that. */
void virtio_net_tx_flush(void);

const struct virtio_net_stats* virtio_net_stats(void);

#endif
