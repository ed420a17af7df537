// SPDX-License-Identifier: GPL-2.0-or-later
/* The interface: finds and starts virtio-net, and the receive/timer/transmit round. */
#include "abi.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "drivers/virtio_net.h"
#include "lib/clock.h"
#include "lib/format.h"
#include "lib/log.h"
#include "net/net.h"
#include "net/tcp.h"
#include "user/runtime.h"

#define RX_BUDGET 64 /* frames per round, so timers and services keep running */

struct net_config net_cfg;
struct net_stats net_stats;
uint64_t net_now;
uint8_t net_mac[6];
static bool up;

bool net_is_up(void) {
  return up;
}

static struct pci_device* find_virtio(uint32_t type) {
  struct pci_device* table;
  unsigned n = pci_scan(&table);
  for (unsigned i = 0; i < n; i++) {
    if (virtio_pci_type(&table[i]) == type) {
      return &table[i];
    }
  }
  return NULL;
}

void net_up(void) {
  if (up) {
    return;
  }
  if (!net_cfg.have_ip) {
    guest_fail(EXIT_BAD_ARGUMENT, "net: no ip=A.B.C.D/NN before the first network job");
  }
  struct pci_device* d = find_virtio(VIRTIO_ID_NET);
  if (!d) {
    guest_fail(EXIT_NO_DEVICE, "net: no virtio-net device on PCI bus 0");
  }
  uint8_t mac[6] = {0x02,
                    0x00,
                    (uint8_t)(net_cfg.ip >> 24),
                    (uint8_t)(net_cfg.ip >> 16),
                    (uint8_t)(net_cfg.ip >> 8),
                    (uint8_t)net_cfg.ip};
  const char* why = virtio_net_init(d, net_cfg.have_mac ? net_cfg.mac : mac, net_cfg.rx_vector);
  if (why) {
    guest_fail(EXIT_DEVICE_ERROR, "virtio-net at %02x:%02x.%x: %s", 0, d->dev, d->fn, why);
  }
  log_line("virtio-net at %02x:%02x.%x", 0, d->dev, d->fn);
  virtio_net_mac(net_mac);
  clock_ticks_per_ms(); /* calibrate now rather than at the first TCP timer */
  tcp_seed(net_cfg.seed);
  tcp_init();
  up = true;
  if (!virtio_net_mac_from_device()) {
    log_warn("virtio-net offers no MAC address, using %s",
             net_cfg.have_mac ? "mac=" : "02:00:<ip>");
  }
  uint32_t ip = net_cfg.ip;
  uint32_t gw = net_cfg.gw;
  char gw_text[32] = "";
  if (gw) {
    format_buf(gw_text, sizeof(gw_text), " gw %u.%u.%u.%u", gw >> 24, (gw >> 16) & 255,
               (gw >> 8) & 255, gw & 255);
  }
  log_line("net up %u.%u.%u.%u/%u mac %02x:%02x:%02x:%02x:%02x:%02x%s", ip >> 24, (ip >> 16) & 255,
           (ip >> 8) & 255, ip & 255, net_cfg.prefix, net_mac[0], net_mac[1], net_mac[2],
           net_mac[3], net_mac[4], net_mac[5], gw_text);
}

bool net_poll(uint64_t now) {
  net_now = now;
  unsigned n = virtio_net_rx_poll(eth_input, RX_BUDGET);
  tcp_poll(now);
  virtio_net_tx_flush();
  return n != 0;
}
