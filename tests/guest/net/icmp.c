// SPDX-License-Identifier: GPL-2.0-or-later
/* ICMP: echo requests get an echo reply with the same identifier, sequence and data. */
#include "lib/string.h"
#include "net/net.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define ICMP_HLEN 8

void icmp_input(uint32_t src, const uint8_t* p, size_t len) {
  if (len < ICMP_HLEN || len > IP_PAYLOAD_MAX || csum_finish(csum_add(0, p, len)) != 0) {
    net_stats.rx_drop_icmp++;
    return;
  }
  net_stats.rx_icmp++;
  if (p[0] != ICMP_ECHO_REQUEST || p[1] != 0) {
    return;
  }
  struct ip_tx t;
  uint8_t* r = ip_tx_begin(&t, src);
  if (!r) {
    return;
  }
  memcpy(r, p, len);
  r[0] = ICMP_ECHO_REPLY;
  put16(r + 2, 0);
  put16(r + 2, csum_finish(csum_add(0, r, len)));
  ip_tx_send(&t, IP_PROTO_ICMP, len);
}
