// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ARP for IPv4 over Ethernet (RFC 826): answers requests for our address, resolves next
 * hops with a small cache, at most one request per unresolved address every ARP_RETRY_MS.
 * A new entry replaces a free one, else the oldest unresolved one, else the least recently
 * updated one, so lookups of absent hosts do not push out working ones. Entries do not
 * expire; every ARP packet from a known sender refreshes its entry.
 */
#include "lib/clock.h"
#include "lib/string.h"
#include "net/net.h"

#define ARP_LEN 28
#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
#define ARP_CACHE_SIZE 16
#define ARP_RETRY_MS 200

struct arp_entry {
  uint32_t ip; /* 0: free */
  bool valid;  /* false: request sent, no answer yet */
  uint8_t mac[6];
  uint64_t updated;   /* TSC of the last update (replacement order) */
  uint64_t requested; /* TSC of the last request */
};

static struct arp_entry cache[ARP_CACHE_SIZE];
static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static struct arp_entry* lookup(uint32_t ip) {
  for (int i = 0; i < ARP_CACHE_SIZE; i++) {
    if (cache[i].ip == ip) {
      return &cache[i];
    }
  }
  return NULL;
}

/* A free entry, else the oldest unresolved one, else the oldest resolved one. */
static struct arp_entry* insert(uint32_t ip) {
  struct arp_entry* victim = &cache[0];
  for (int i = 0; i < ARP_CACHE_SIZE; i++) {
    struct arp_entry* e = &cache[i];
    if (e->ip == 0) {
      victim = e;
      break;
    }
    if ((victim->valid && !e->valid) ||
        (victim->valid == e->valid && e->updated < victim->updated)) {
      victim = e;
    }
  }
  memset(victim, 0, sizeof(*victim));
  victim->ip = ip;
  victim->updated = clock_now();
  return victim;
}

static void update(struct arp_entry* e, const uint8_t* mac) {
  memcpy(e->mac, mac, 6);
  e->valid = true;
  e->updated = clock_now();
}

static void send(uint16_t op, const uint8_t* tha, uint32_t tpa, const uint8_t* dst) {
  uint8_t* f = eth_tx_alloc();
  if (!f) {
    return;
  }
  uint8_t* p = f + ETH_HLEN;
  put16(p, ARP_HTYPE_ETHER);
  put16(p + 2, ETH_TYPE_IP);
  p[4] = 6;
  p[5] = 4;
  put16(p + 6, op);
  memcpy(p + 8, net_mac, 6);
  put32(p + 14, net_cfg.ip);
  memcpy(p + 18, tha, 6);
  put32(p + 24, tpa);
  eth_tx_send(f, dst, ETH_TYPE_ARP, ARP_LEN);
}

void arp_input(const uint8_t* p, size_t len) {
  if (len < ARP_LEN || get16(p) != ARP_HTYPE_ETHER || get16(p + 2) != ETH_TYPE_IP || p[4] != 6 ||
      p[5] != 4) {
    net_stats.rx_drop_arp++;
    return;
  }
  uint16_t op = get16(p + 6);
  const uint8_t* sha = p + 8;
  uint32_t spa = get32(p + 14);
  uint32_t tpa = get32(p + 24);
  if ((op != ARP_OP_REQUEST && op != ARP_OP_REPLY) || (sha[0] & 1) || spa == net_cfg.ip) {
    net_stats.rx_drop_arp++; /* bad op, multicast sender, or a conflict: ignore */
    return;
  }
  net_stats.rx_arp++;
  struct arp_entry* e = spa ? lookup(spa) : NULL;
  if (e) {
    update(e, sha);
  }
  if (tpa != net_cfg.ip) {
    return;
  }
  if (!e && spa) {
    update(insert(spa), sha);
  }
  if (op == ARP_OP_REQUEST) {
    send(ARP_OP_REPLY, sha, spa, sha);
  }
}

bool arp_resolve(uint32_t ip, uint8_t mac[6]) {
  struct arp_entry* e = lookup(ip);
  if (e && e->valid) {
    memcpy(mac, e->mac, 6);
    return true;
  }
  uint64_t now = clock_now();
  if (!e) {
    e = insert(ip);
  } else if (e->requested && now - e->requested < clock_ms(ARP_RETRY_MS)) {
    return false;
  }
  e->requested = now;
  static const uint8_t zero[6];
  send(ARP_OP_REQUEST, zero, ip, broadcast);
  return false;
}
