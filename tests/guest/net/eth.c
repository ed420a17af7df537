// SPDX-License-Identifier: GPL-2.0-or-later
/* Ethernet II: frames to our MAC or broadcast, IPv4 and ARP only; short frames padded. */
#include "drivers/virtio_net.h"
#include "lib/string.h"
#include "net/net.h"

#define ETH_ZLEN 60 /* minimum frame without FCS */

static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void eth_input(const uint8_t* f, size_t len) {
  if (len < ETH_HLEN || len > VNET_FRAME_MAX + 4 /* a VLAN tag fits in the buffer */) {
    net_stats.rx_drop_eth++;
    return;
  }
  if (memcmp(f, net_mac, 6) != 0 && memcmp(f, broadcast, 6) != 0) {
    net_stats.rx_drop_eth++; /* multicast or someone else's */
    return;
  }
  switch (get16(f + 12)) {
    case ETH_TYPE_IP:
      ip_input(f + ETH_HLEN, len - ETH_HLEN);
      break;
    case ETH_TYPE_ARP:
      arp_input(f + ETH_HLEN, len - ETH_HLEN);
      break;
    default:
      net_stats.rx_drop_eth++;
      break;
  }
}

uint8_t* eth_tx_alloc(void) {
  uint8_t* f = virtio_net_tx_alloc();
  if (!f) {
    net_stats.tx_no_buf++;
  }
  return f;
}

void eth_tx_send(uint8_t* f, const uint8_t dst[6], uint16_t type, size_t payload_len) {
  memcpy(f, dst, 6);
  memcpy(f + 6, net_mac, 6);
  put16(f + 12, type);
  size_t len = ETH_HLEN + payload_len;
  if (len < ETH_ZLEN) {
    memset(f + len, 0, ETH_ZLEN - len);
    len = ETH_ZLEN;
  }
  virtio_net_tx_commit(f, len);
}
