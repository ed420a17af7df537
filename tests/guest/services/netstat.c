// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netstat: whenever the network is up, any datagram to UDP port 9999 is answered with one
 * line of counters "key=value ..." (frames, notifications, drops, TCP retransmissions),
 * so host tests can see what the guest saw.
 */
#include "drivers/virtio_net.h"
#include "lib/format.h"
#include "net/net.h"
#include "net/udp.h"
#include "services/service.h"

#define NETSTAT_PORT 9999

static void netstat_udp(uint32_t src, uint16_t sport, uint16_t dport, const uint8_t* data,
                        size_t len) {
  (void)data;
  (void)len;
  const struct virtio_net_stats* v = virtio_net_stats();
  const struct net_stats* n = &net_stats;
  char text[UDP_PAYLOAD_MAX];
  size_t k = format_buf(
      text, sizeof(text),
      "rx_frames=%lu rx_bad=%lu tx_frames=%lu tx_full=%lu rx_kicks=%lu tx_kicks=%lu "
      "drop_eth=%lu drop_arp=%lu drop_ip=%lu drop_icmp=%lu drop_udp=%lu drop_tcp=%lu "
      "rx_arp=%lu rx_icmp=%lu rx_udp=%lu rx_tcp=%lu tx_no_route=%lu tx_no_arp=%lu "
      "tx_no_buf=%lu tcp_rst_sent=%lu tcp_retransmits=%lu tcp_evicted=%lu tcp_aborted=%lu "
      "idle_sleeps=%lu dirtier_gen=%lu\n",
      v->rx_frames, v->rx_bad, v->tx_frames, v->tx_full, v->rx_kicks, v->tx_kicks, n->rx_drop_eth,
      n->rx_drop_arp, n->rx_drop_ip, n->rx_drop_icmp, n->rx_drop_udp, n->rx_drop_tcp, n->rx_arp,
      n->rx_icmp, n->rx_udp, n->rx_tcp, n->tx_no_route, n->tx_no_arp, n->tx_no_buf, n->tcp_rst_sent,
      n->tcp_retransmits, n->tcp_evicted, n->tcp_aborted, idle_sleeps(), dirtier_generation());
  if (k >= sizeof(text)) {
    k = sizeof(text) - 1;
  }
  udp_send(src, dport, sport, text, k);
}

void netstat_start(void) {
  udp_bind(NETSTAT_PORT, netstat_udp);
}
