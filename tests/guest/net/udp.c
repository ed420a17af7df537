// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * UDP: datagrams with a good length and checksum (0 means none) go to the handler bound
 * to the destination port; others are dropped without an ICMP error.
 */
#include "net/udp.h"

#include "lib/string.h"
#include "net/net.h"

#define UDP_MAX_BINDINGS 8

struct binding {
  uint16_t port;
  udp_handler fn;
};

static struct binding bindings[UDP_MAX_BINDINGS];

bool udp_bind(uint16_t port, udp_handler fn) {
  for (int i = 0; i < UDP_MAX_BINDINGS; i++) {
    if (bindings[i].fn && bindings[i].port == port) {
      return false;
    }
  }
  for (int i = 0; i < UDP_MAX_BINDINGS; i++) {
    if (!bindings[i].fn) {
      bindings[i].port = port;
      bindings[i].fn = fn;
      return true;
    }
  }
  return false;
}

void udp_input(uint32_t src, const uint8_t* p, size_t len) {
  if (len < UDP_HLEN) {
    net_stats.rx_drop_udp++;
    return;
  }
  size_t ulen = get16(p + 4);
  if (ulen < UDP_HLEN || ulen > len) {
    net_stats.rx_drop_udp++;
    return;
  }
  if (get16(p + 6) != 0 &&
      csum_finish(csum_add(ip_pseudo_sum(src, net_cfg.ip, IP_PROTO_UDP, ulen), p, ulen)) != 0) {
    net_stats.rx_drop_udp++;
    return;
  }
  uint16_t sport = get16(p);
  uint16_t dport = get16(p + 2);
  if (sport == 0) {
    net_stats.rx_drop_udp++; /* no way to answer */
    return;
  }
  for (int i = 0; i < UDP_MAX_BINDINGS; i++) {
    if (bindings[i].fn && bindings[i].port == dport) {
      net_stats.rx_udp++;
      bindings[i].fn(src, sport, dport, p + UDP_HLEN, ulen - UDP_HLEN);
      return;
    }
  }
  net_stats.rx_drop_udp++;
}

bool udp_send(uint32_t dst, uint16_t sport, uint16_t dport, const void* data, size_t len) {
  if (len > UDP_PAYLOAD_MAX) {
    return false;
  }
  struct ip_tx t;
  uint8_t* u = ip_tx_begin(&t, dst);
  if (!u) {
    return false;
  }
  size_t ulen = UDP_HLEN + len;
  put16(u, sport);
  put16(u + 2, dport);
  put16(u + 4, (uint16_t)ulen);
  put16(u + 6, 0);
  memcpy(u + UDP_HLEN, data, len);
  uint16_t c = csum_finish(csum_add(ip_pseudo_sum(net_cfg.ip, dst, IP_PROTO_UDP, ulen), u, ulen));
  put16(u + 6, c ? c : 0xffff);
  ip_tx_send(&t, IP_PROTO_UDP, ulen);
  return true;
}
