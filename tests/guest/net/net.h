// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest's network stack: Ethernet, ARP, IPv4, ICMP echo, UDP and TCP (net/tcp.h) on
 * one virtio-net interface, driven by a poll loop (net_poll). Addresses and ports are
 * kept in host byte order; frames are parsed and built with the get/put helpers.
 * README.md ("Network stack") describes the behaviour.
 */
#ifndef TESTGUEST_NET_NET_H
#define TESTGUEST_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_HLEN 14
#define ETH_TYPE_IP 0x0800
#define ETH_TYPE_ARP 0x0806
#define IP_HLEN 20
#define IP_MTU 1500
#define IP_PAYLOAD_MAX (IP_MTU - IP_HLEN)
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17

/* The interface's configuration (the ip=, gw=, mac= and seed= jobs). */
struct net_config {
  uint32_t ip, mask, gw; /* gw 0: no gateway */
  unsigned prefix;
  bool have_ip;
  bool have_mac; /* mac= given (used if the device has no MAC of its own) */
  uint8_t mac[6];
  bool have_seed;
  uint64_t seed;     /* TCP initial sequence numbers come from it */
  uint8_t rx_vector; /* idle=hlt: receive interrupts on this vector (0: none) */
};
extern struct net_config net_cfg;

/* Statistics, for the `netstat` line and debugging. */
struct net_stats {
  uint64_t rx_drop_eth, rx_arp, rx_drop_arp, rx_ip, rx_drop_ip, rx_icmp, rx_drop_icmp;
  uint64_t rx_udp, rx_drop_udp, rx_tcp, rx_drop_tcp, tx_no_route, tx_no_arp, tx_no_buf;
  uint64_t tcp_rst_sent, tcp_retransmits, tcp_evicted, tcp_aborted;
};
extern struct net_stats net_stats;

/* netif.c: brings the interface up (once; ends the VM on failure) and polls it. */
bool net_is_up(void);
void net_up(void);
/* One round: receive, timers, services, transmit. Returns true if anything happened. */
bool net_poll(uint64_t now);
/* The time of the current poll round (TSC). */
extern uint64_t net_now;
extern uint8_t net_mac[6];

/* Byte order. */
static inline uint16_t get16(const uint8_t* p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t get32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void put32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* checksum.c: the Internet checksum (RFC 1071). */
/* Adds len bytes to a running 32-bit sum (in network order, not folded or inverted). */
uint32_t csum_add(uint32_t sum, const void* data, size_t len);
/* Folds and inverts: the value to store in a checksum field (or 0 if the data checks). */
uint16_t csum_finish(uint32_t sum);

/* eth.c */
void eth_input(const uint8_t* frame, size_t len);
/* A transmit buffer: the payload goes at frame + ETH_HLEN. NULL if the queue is full. */
uint8_t* eth_tx_alloc(void);
void eth_tx_send(uint8_t* frame, const uint8_t dst[6], uint16_t type, size_t payload_len);

/* arp.c */
void arp_input(const uint8_t* p, size_t len);
/* True and the MAC if ip is resolved; else sends a request (rate-limited) and false. */
bool arp_resolve(uint32_t ip, uint8_t mac[6]);

/* ip.c */
void ip_input(const uint8_t* p, size_t len);
struct ip_tx {
  uint8_t* frame;
  uint8_t mac[6];
  uint32_t dst;
  bool unreachable; /* set when ip_tx_begin() fails for want of a route or a MAC */
};
/*
 * Starts a datagram to dst: returns where the IP payload (at most IP_PAYLOAD_MAX bytes)
 * goes, or NULL if there is no route or the next hop is not resolved yet (an ARP request
 * went out; t->unreachable is set: the datagram is as good as lost on the wire), or if no
 * transmit buffer is free (try again in a later round).
 */
uint8_t* ip_tx_begin(struct ip_tx* t, uint32_t dst);
void ip_tx_send(struct ip_tx* t, uint8_t proto, size_t payload_len);
/* The pseudo-header sum for TCP and UDP checksums. */
uint32_t ip_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len);

/* icmp.c, udp.c, tcp.c: payload of an IP datagram for us (already length-checked). */
void icmp_input(uint32_t src, const uint8_t* p, size_t len);
void udp_input(uint32_t src, const uint8_t* p, size_t len);
void tcp_input(uint32_t src, const uint8_t* p, size_t len);

#endif
