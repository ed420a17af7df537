// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IPv4: accepts unfragmented datagrams for our address with a good header checksum
 * (options are skipped), sends with DF, TTL 64 and ID 0 (RFC 6864: the ID of an atomic
 * datagram means nothing; a counter would make two replicas differ as soon as they sent
 * different numbers of ACKs). Next hop: the destination on our subnet, else the gateway,
 * else nothing (dropped).
 */
#include "lib/string.h"
#include "net/net.h"

#define IP_TTL 64
#define IP_FLAG_DF 0x4000
#define IP_FRAG_MASK 0x3fff /* MF and the fragment offset */

static bool bad_source(uint32_t src) {
  uint32_t net = net_cfg.ip & net_cfg.mask;
  return src == 0 || src == net_cfg.ip || (src >> 24) == 127 || (src >> 28) >= 14 ||
         (net_cfg.mask != 0xffffffffu && src == (net | ~net_cfg.mask));
}

void ip_input(const uint8_t* p, size_t len) {
  if (len < IP_HLEN || (p[0] >> 4) != 4) {
    net_stats.rx_drop_ip++;
    return;
  }
  size_t hlen = (size_t)(p[0] & 0xf) * 4;
  size_t total = get16(p + 2);
  if (hlen < IP_HLEN || hlen > len || total < hlen || total > len ||
      csum_finish(csum_add(0, p, hlen)) != 0 || (get16(p + 6) & IP_FRAG_MASK) ||
      get32(p + 16) != net_cfg.ip) {
    net_stats.rx_drop_ip++;
    return;
  }
  uint32_t src = get32(p + 12);
  if (bad_source(src)) {
    net_stats.rx_drop_ip++;
    return;
  }
  net_stats.rx_ip++;
  const uint8_t* payload = p + hlen;
  size_t plen = total - hlen; /* frames may carry padding after the datagram */
  switch (p[9]) {
    case IP_PROTO_ICMP:
      icmp_input(src, payload, plen);
      break;
    case IP_PROTO_TCP:
      tcp_input(src, payload, plen);
      break;
    case IP_PROTO_UDP:
      udp_input(src, payload, plen);
      break;
    default:
      net_stats.rx_drop_ip++;
      break;
  }
}

uint8_t* ip_tx_begin(struct ip_tx* t, uint32_t dst) {
  uint32_t hop = dst;
  t->unreachable = true;
  if ((dst & net_cfg.mask) != (net_cfg.ip & net_cfg.mask)) {
    if (!net_cfg.gw) {
      net_stats.tx_no_route++;
      return NULL;
    }
    hop = net_cfg.gw;
  }
  if (!arp_resolve(hop, t->mac)) {
    net_stats.tx_no_arp++;
    return NULL;
  }
  t->unreachable = false;
  t->frame = eth_tx_alloc();
  if (!t->frame) {
    return NULL;
  }
  t->dst = dst;
  return t->frame + ETH_HLEN + IP_HLEN;
}

void ip_tx_send(struct ip_tx* t, uint8_t proto, size_t payload_len) {
  uint8_t* h = t->frame + ETH_HLEN;
  h[0] = 0x45;
  h[1] = 0;
  put16(h + 2, (uint16_t)(IP_HLEN + payload_len));
  put16(h + 4, 0);
  put16(h + 6, IP_FLAG_DF);
  h[8] = IP_TTL;
  h[9] = proto;
  put16(h + 10, 0);
  put32(h + 12, net_cfg.ip);
  put32(h + 16, t->dst);
  put16(h + 10, csum_finish(csum_add(0, h, IP_HLEN)));
  eth_tx_send(t->frame, t->mac, ETH_TYPE_IP, IP_HLEN + payload_len);
}

uint32_t ip_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (uint32_t)len;
}
