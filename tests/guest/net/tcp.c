// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TCP (RFC 9293), the parts a test service needs: passive open with the MSS option, data
 * in order only (an out-of-order segment is dropped and answered with a duplicate ACK),
 * the advertised window is the free receive buffer, ACKs are sent once per poll round,
 * FIN in both directions, RST for segments that match no connection, go-back-N
 * retransmission on a TSC timer with exponential backoff (and on three duplicate ACKs),
 * zero-window probes, RFC 5961-style checks of RST and SYN on open connections. No
 * window scaling, SACK, timestamps, urgent data, Nagle, congestion control or keepalive.
 *
 * Initial sequence numbers: mix(seed + n) for the n-th connection, mix() being the
 * splitmix64 finalizer; the seed comes from the command line. Two guests started with the
 * same command line that see the same segments send the same segments.
 */
#include "net/tcp.h"

#include "abi.h"
#include "lib/clock.h"
#include "lib/string.h"
#include "net/net.h"
#include "user/pages.h"
#include "user/runtime.h"

#define TCP_HLEN 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define TCP_MAX_LISTENERS 8
#define TCP_DEFAULT_MSS 536 /* RFC 9293 3.7.1, when the SYN has no MSS option */
#define TCP_MIN_MSS 64
#define RTO_MS 300
#define RTO_MAX_SHIFT 4 /* backoff up to 4.8 s */
#define MAX_RETRIES 12  /* then the connection is reset (about 50 s) */
#define SYN_RETRIES 4
#define TIME_WAIT_MS 1000
#define FIN_WAIT_2_MS 30000

enum tcp_state {
  TCP_CLOSED,
  TCP_SYN_RCVD,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT_1,
  TCP_FIN_WAIT_2,
  TCP_CLOSING,
  TCP_TIME_WAIT,
  TCP_CLOSE_WAIT,
  TCP_LAST_ACK,
};

struct tcp_conn {
  enum tcp_state state;
  const struct tcp_app* app;
  bool app_open;   /* app->open returned true; app->gone not yet called */
  bool app_closed; /* tcp_close(): FIN after the queued data */
  bool fin_acked;  /* our FIN is acknowledged */
  bool fin_rcvd;   /* the peer's FIN is in rcv_nxt */
  bool ack_now;    /* send an ACK this round */
  bool force_one;  /* a timer fired: send one segment even into a zero window */
  uint32_t rip;
  uint16_t rport, lport;
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
  uint32_t rcv_nxt, rcv_adv; /* rcv_adv: the right edge of the window we advertised */
  uint16_t mss;
  uint8_t dupacks, retries;
  uint64_t rto_at;     /* TSC; 0 = not armed */
  uint64_t timeout_at; /* TIME_WAIT and FIN_WAIT_2 end; 0 = none */
  uint64_t order;      /* creation order, for eviction */
  uint8_t* rx;
  uint32_t rx_head, rx_len;
  uint8_t* tx; /* tx[tx_head] is the byte at snd_una (after the SYN) */
  uint32_t tx_head, tx_len;
};

struct listener {
  uint16_t port;
  const struct tcp_app* app;
};

struct segment {
  uint32_t src;
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t flags;
  uint16_t wnd;
  const uint8_t* opts;
  size_t optlen;
  const uint8_t* data;
  size_t dlen;
};

static struct tcp_conn conns[TCP_MAX_CONNS];
static struct listener listeners[TCP_MAX_LISTENERS];
static uint64_t iss_seed, iss_count, conn_order;

static bool seq_lt(uint32_t a, uint32_t b) {
  return (int32_t)(a - b) < 0;
}
static bool seq_le(uint32_t a, uint32_t b) {
  return (int32_t)(a - b) <= 0;
}
static bool seq_gt(uint32_t a, uint32_t b) {
  return (int32_t)(a - b) > 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b) {
  return a < b ? a : b;
}

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void tcp_seed(uint64_t seed) {
  iss_seed = seed;
}

void tcp_init(void) {
  uint64_t per = (TCP_RXBUF + TCP_TXBUF) / PAGE_SIZE;
  uint64_t mem = pages_alloc(per * TCP_MAX_CONNS);
  if (!mem) {
    guest_fail(EXIT_NO_MEMORY, "net: no memory for %u TCP connection buffers", TCP_MAX_CONNS);
  }
  for (unsigned i = 0; i < TCP_MAX_CONNS; i++) {
    conns[i].rx = (uint8_t*)(uintptr_t)(mem + i * per * PAGE_SIZE);
    conns[i].tx = conns[i].rx + TCP_RXBUF;
  }
}

bool tcp_listen(uint16_t port, const struct tcp_app* app) {
  struct listener* free_slot = NULL;
  for (int i = 0; i < TCP_MAX_LISTENERS; i++) {
    if (listeners[i].app && listeners[i].port == port) {
      return false;
    }
    if (!listeners[i].app && !free_slot) {
      free_slot = &listeners[i];
    }
  }
  if (!free_slot) {
    return false;
  }
  free_slot->port = port;
  free_slot->app = app;
  return true;
}

unsigned tcp_conn_id(const struct tcp_conn* c) {
  return (unsigned)(c - conns);
}

uint32_t tcp_remote_ip(const struct tcp_conn* c) {
  return c->rip;
}

uint16_t tcp_remote_port(const struct tcp_conn* c) {
  return c->rport;
}

/* --- buffers --- */

static uint32_t rx_free(const struct tcp_conn* c) {
  return TCP_RXBUF - c->rx_len;
}

static uint16_t window(const struct tcp_conn* c) {
  return (uint16_t)min_u32(rx_free(c), 0xffff);
}

size_t tcp_rx_avail(const struct tcp_conn* c) {
  return c->rx_len;
}

size_t tcp_peek(const struct tcp_conn* c, size_t off, void* buf, size_t n) {
  if (off >= c->rx_len) {
    return 0;
  }
  if (n > c->rx_len - off) {
    n = c->rx_len - off;
  }
  uint32_t start = (uint32_t)((c->rx_head + off) % TCP_RXBUF);
  size_t first = TCP_RXBUF - start < n ? TCP_RXBUF - start : n;
  memcpy(buf, c->rx + start, first);
  memcpy((uint8_t*)buf + first, c->rx, n - first);
  return n;
}

void tcp_consume(struct tcp_conn* c, size_t n) {
  if (n > c->rx_len) {
    n = c->rx_len;
  }
  c->rx_head = (uint32_t)((c->rx_head + n) % TCP_RXBUF);
  c->rx_len -= (uint32_t)n;
}

size_t tcp_read(struct tcp_conn* c, void* buf, size_t n) {
  n = tcp_peek(c, 0, buf, n);
  tcp_consume(c, n);
  return n;
}

bool tcp_eof(const struct tcp_conn* c) {
  return c->fin_rcvd && c->rx_len == 0;
}

bool tcp_fin_received(const struct tcp_conn* c) {
  return c->fin_rcvd;
}

size_t tcp_tx_space(const struct tcp_conn* c) {
  if (c->app_closed || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT)) {
    return 0;
  }
  return TCP_TXBUF - c->tx_len;
}

size_t tcp_write(struct tcp_conn* c, const void* buf, size_t n) {
  size_t space = tcp_tx_space(c);
  if (n > space) {
    n = space;
  }
  uint32_t end = (c->tx_head + c->tx_len) % TCP_TXBUF;
  size_t first = TCP_TXBUF - end < n ? TCP_TXBUF - end : n;
  memcpy(c->tx + end, buf, first);
  memcpy(c->tx, (const uint8_t*)buf + first, n - first);
  c->tx_len += (uint32_t)n;
  return n;
}

/* --- sending --- */

/*
 * Sends one segment. data_off/len select bytes of the send buffer (offset from its head).
 * Connection-less RSTs pass c == NULL with the addresses in rst. Returns false only when
 * no transmit buffer is free; a segment to an unreachable peer counts as sent (and lost):
 * the retransmission timer tries again later, not every poll round.
 */
static bool emit(struct tcp_conn* c, const struct segment* rst, uint32_t seq, uint32_t ack,
                 uint8_t flags, uint32_t data_off, uint32_t len) {
  uint32_t dst = c ? c->rip : rst->src;
  struct ip_tx t;
  uint8_t* h = ip_tx_begin(&t, dst);
  if (!h) {
    if (t.unreachable && c && (flags & TCP_ACK)) {
      c->ack_now = false;
    }
    return t.unreachable;
  }
  size_t hlen = TCP_HLEN + ((flags & TCP_SYN) ? 4 : 0);
  put16(h, c ? c->lport : rst->dport);
  put16(h + 2, c ? c->rport : rst->sport);
  put32(h + 4, seq);
  put32(h + 8, ack);
  h[12] = (uint8_t)(hlen / 4) << 4;
  h[13] = flags;
  put16(h + 14, c ? window(c) : 0);
  put16(h + 16, 0);
  put16(h + 18, 0);
  if (flags & TCP_SYN) {
    h[20] = 2; /* MSS */
    h[21] = 4;
    put16(h + 22, TCP_MSS);
  }
  if (len) {
    uint32_t start = (c->tx_head + data_off) % TCP_TXBUF;
    uint32_t first = min_u32(TCP_TXBUF - start, len);
    memcpy(h + hlen, c->tx + start, first);
    memcpy(h + hlen + first, c->tx, len - first);
  }
  size_t total = hlen + len;
  put16(h + 16,
        csum_finish(csum_add(ip_pseudo_sum(net_cfg.ip, dst, IP_PROTO_TCP, total), h, total)));
  ip_tx_send(&t, IP_PROTO_TCP, total);
  if (c && (flags & TCP_ACK)) {
    c->ack_now = false;
    c->rcv_adv = c->rcv_nxt + window(c);
  }
  if (flags & TCP_RST) {
    net_stats.tcp_rst_sent++;
  }
  return true;
}

/* An RST answering a segment that matches no connection (RFC 9293 3.10.7.1). */
static void reset_for(const struct segment* s) {
  if (s->flags & TCP_RST) {
    return;
  }
  if (s->flags & TCP_ACK) {
    emit(NULL, s, s->ack, 0, TCP_RST, 0, 0);
  } else {
    uint32_t len = (uint32_t)s->dlen + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);
    emit(NULL, s, 0, s->seq + len, TCP_RST | TCP_ACK, 0, 0);
  }
}

static uint64_t rto_ticks(const struct tcp_conn* c) {
  unsigned shift = c->retries < RTO_MAX_SHIFT ? c->retries : RTO_MAX_SHIFT;
  return clock_ms((uint64_t)RTO_MS << shift);
}

static void arm_rto(struct tcp_conn* c) {
  if (!c->rto_at) {
    c->rto_at = net_now + rto_ticks(c);
  }
}

static void sent(struct tcp_conn* c, uint32_t seq_end) {
  c->snd_nxt = seq_end;
  if (seq_gt(seq_end, c->snd_max)) {
    c->snd_max = seq_end;
  }
  arm_rto(c);
}

/* Sends what the window allows, a FIN when due, or else a pending ACK. */
static void output(struct tcp_conn* c) {
  if (c->state == TCP_CLOSED) {
    return;
  }
  if (c->state == TCP_SYN_RCVD) {
    if (c->snd_nxt == c->iss && emit(c, NULL, c->iss, c->rcv_nxt, TCP_SYN | TCP_ACK, 0, 0)) {
      sent(c, c->iss + 1);
    }
    return;
  }
  bool may_send = !c->fin_acked && c->state != TCP_FIN_WAIT_2 && c->state != TCP_TIME_WAIT;
  while (may_send) {
    uint32_t data_end = c->snd_una + c->tx_len;
    if (seq_lt(c->snd_nxt, data_end)) {
      uint32_t wnd_end = c->snd_una + c->snd_wnd;
      uint32_t room = seq_gt(wnd_end, c->snd_nxt) ? wnd_end - c->snd_nxt : 0;
      if (room == 0 && c->force_one) {
        room = 1; /* a zero-window probe */
      }
      uint32_t n = min_u32(min_u32(c->mss, data_end - c->snd_nxt), room);
      if (n == 0) {
        break;
      }
      bool fin = c->app_closed && c->snd_nxt + n == data_end;
      uint8_t flags = TCP_ACK | TCP_PSH | (fin ? TCP_FIN : 0);
      if (!emit(c, NULL, c->snd_nxt, c->rcv_nxt, flags, c->snd_nxt - c->snd_una, n)) {
        break;
      }
      c->force_one = false;
      sent(c, c->snd_nxt + n + fin);
      if (fin) {
        break;
      }
    } else if (c->app_closed && c->snd_nxt == data_end) {
      if (emit(c, NULL, c->snd_nxt, c->rcv_nxt, TCP_ACK | TCP_FIN, 0, 0)) {
        sent(c, c->snd_nxt + 1);
      }
      break;
    } else {
      break;
    }
  }
  if (c->ack_now) {
    emit(c, NULL, c->snd_nxt, c->rcv_nxt, TCP_ACK, 0, 0);
  }
}

/* --- connections --- */

static void release(struct tcp_conn* c) {
  bool notify = c->app_open;
  c->app_open = false;
  c->state = TCP_CLOSED;
  if (notify && c->app->gone) {
    c->app->gone(c);
  }
}

void tcp_abort(struct tcp_conn* c) {
  if (c->state == TCP_CLOSED) {
    return;
  }
  if (c->state != TCP_SYN_RCVD && c->state != TCP_TIME_WAIT) {
    emit(c, NULL, c->snd_nxt, c->rcv_nxt, TCP_RST | TCP_ACK, 0, 0);
  }
  release(c);
}

void tcp_close(struct tcp_conn* c) {
  if (c->app_closed) {
    return;
  }
  c->app_closed = true;
  if (c->state == TCP_ESTABLISHED) {
    c->state = TCP_FIN_WAIT_1;
  } else if (c->state == TCP_CLOSE_WAIT) {
    c->state = TCP_LAST_ACK;
  }
}

static struct tcp_conn* lookup(uint32_t ip, uint16_t rport, uint16_t lport) {
  for (unsigned i = 0; i < TCP_MAX_CONNS; i++) {
    struct tcp_conn* c = &conns[i];
    if (c->state != TCP_CLOSED && c->rip == ip && c->rport == rport && c->lport == lport) {
      return c;
    }
  }
  return NULL;
}

/* Eviction rank: lower goes first; connections that may still carry data are never evicted. */
static int evict_rank(enum tcp_state s) {
  switch (s) {
    case TCP_TIME_WAIT:
      return 0;
    case TCP_SYN_RCVD:
      return 1;
    case TCP_LAST_ACK:
    case TCP_CLOSING:
    case TCP_FIN_WAIT_2:
      return 2;
    default:
      return -1;
  }
}

static struct tcp_conn* alloc_conn(void) {
  struct tcp_conn* victim = NULL;
  for (unsigned i = 0; i < TCP_MAX_CONNS; i++) {
    struct tcp_conn* c = &conns[i];
    if (c->state == TCP_CLOSED) {
      return c;
    }
    int r = evict_rank(c->state);
    if (r < 0) {
      continue;
    }
    int vr = victim ? evict_rank(victim->state) : 99;
    if (r < vr || (r == vr && c->order < victim->order)) {
      victim = c;
    }
  }
  if (victim) {
    net_stats.tcp_evicted++;
    tcp_abort(victim);
  }
  return victim;
}

static uint16_t parse_mss(const struct segment* s) {
  const uint8_t* o = s->opts;
  size_t n = s->optlen;
  size_t i = 0;
  while (i < n) {
    uint8_t kind = o[i];
    if (kind == 0) {
      break;
    }
    if (kind == 1) {
      i++;
      continue;
    }
    if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n) {
      break; /* malformed: ignore the rest */
    }
    if (kind == 2 && o[i + 1] == 4) {
      uint16_t mss = get16(o + i + 2);
      return mss < TCP_MIN_MSS ? TCP_MIN_MSS : mss > TCP_MSS ? TCP_MSS : mss;
    }
    i += o[i + 1];
  }
  return TCP_DEFAULT_MSS;
}

static void passive_open(const struct listener* l, const struct segment* s) {
  struct tcp_conn* c = alloc_conn();
  if (!c) {
    reset_for(s); /* every slot carries data: refuse */
    return;
  }
  uint8_t* rx = c->rx;
  uint8_t* tx = c->tx;
  memset(c, 0, sizeof(*c));
  c->rx = rx;
  c->tx = tx;
  c->state = TCP_SYN_RCVD;
  c->app = l->app;
  c->rip = s->src;
  c->rport = s->sport;
  c->lport = s->dport;
  c->order = ++conn_order;
  c->iss = (uint32_t)mix(iss_seed + ++iss_count);
  c->snd_una = c->snd_nxt = c->snd_max = c->iss;
  c->snd_wnd = s->wnd;
  c->snd_wl1 = s->seq;
  c->rcv_nxt = s->seq + 1;
  c->mss = parse_mss(s);
}

static void no_connection(const struct segment* s) {
  if ((s->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
    for (int i = 0; i < TCP_MAX_LISTENERS; i++) {
      if (listeners[i].app && listeners[i].port == s->dport) {
        passive_open(&listeners[i], s);
        return;
      }
    }
  }
  reset_for(s);
}

/* RFC 9293 3.10.7.4: is the segment (partly) inside the receive window? */
static bool acceptable(const struct tcp_conn* c, const struct segment* s, uint32_t seglen) {
  uint32_t wnd = rx_free(c);
  if (s->seq == c->rcv_nxt) {
    return true; /* includes zero-window probes, whose ACKs must be processed */
  }
  if (seglen == 0) {
    return wnd && seq_le(c->rcv_nxt, s->seq) && seq_lt(s->seq, c->rcv_nxt + wnd);
  }
  if (wnd == 0) {
    return false;
  }
  uint32_t last = s->seq + seglen - 1;
  return (seq_le(c->rcv_nxt, s->seq) && seq_lt(s->seq, c->rcv_nxt + wnd)) ||
         (seq_le(c->rcv_nxt, last) && seq_lt(last, c->rcv_nxt + wnd));
}

static void enter_time_wait(struct tcp_conn* c) {
  c->state = TCP_TIME_WAIT;
  c->rto_at = 0;
  c->timeout_at = net_now + clock_ms(TIME_WAIT_MS);
}

/* A new acknowledgment: frees acknowledged data, restarts or stops the timer. */
static void acked(struct tcp_conn* c, uint32_t ack) {
  uint32_t n = ack - c->snd_una;
  uint32_t data = min_u32(n, c->tx_len);
  c->tx_head = (c->tx_head + data) % TCP_TXBUF;
  c->tx_len -= data;
  if (n > data) {
    c->fin_acked = true;
  }
  c->snd_una = ack;
  if (seq_lt(c->snd_nxt, ack)) {
    c->snd_nxt = ack;
  }
  c->dupacks = 0;
  c->retries = 0;
  c->rto_at = 0;
  if (c->snd_una != c->snd_max) {
    arm_rto(c);
  }
}

/* Returns false if the connection is gone. */
static bool syn_rcvd_input(struct tcp_conn* c, const struct segment* s) {
  if (s->flags & TCP_RST) {
    if (s->seq == c->rcv_nxt) {
      release(c);
      return false;
    }
    return false;
  }
  if (s->flags & TCP_SYN) {
    if (!(s->flags & TCP_ACK) && s->seq + 1 == c->rcv_nxt) {
      c->snd_nxt = c->iss; /* the peer repeats its SYN: repeat the SYN-ACK */
    }
    return false;
  }
  if (!(s->flags & TCP_ACK)) {
    return false;
  }
  if (s->ack != c->iss + 1) {
    reset_for(s);
    return false;
  }
  c->state = TCP_ESTABLISHED;
  c->snd_una = c->snd_nxt = c->snd_max = s->ack;
  c->snd_wnd = s->wnd;
  c->snd_wl1 = s->seq;
  c->snd_wl2 = s->ack;
  c->retries = 0;
  c->rto_at = 0;
  c->app_open = true;
  if (c->app->open && !c->app->open(c)) {
    c->app_open = false;
    tcp_abort(c);
    return false;
  }
  return true;
}

static void established_input(struct tcp_conn* c, const struct segment* s) {
  bool syn = s->flags & TCP_SYN;
  bool fin = s->flags & TCP_FIN;
  uint32_t seglen = (uint32_t)s->dlen + syn + fin;
  if (!acceptable(c, s, seglen)) {
    if (!(s->flags & TCP_RST)) {
      c->ack_now = true;
    }
    return;
  }
  if (s->flags & TCP_RST) {
    if (s->seq == c->rcv_nxt) {
      release(c);
    } else {
      c->ack_now = true; /* challenge ACK (RFC 5961 3.2) */
    }
    return;
  }
  if (syn) {
    c->ack_now = true; /* challenge ACK (RFC 5961 4.2) */
    return;
  }
  if (!(s->flags & TCP_ACK)) {
    return;
  }
  if (seq_gt(s->ack, c->snd_max)) {
    c->ack_now = true; /* acknowledges something never sent */
    return;
  }
  if (seq_gt(s->ack, c->snd_una)) {
    acked(c, s->ack);
  } else if (s->ack == c->snd_una && s->dlen == 0 && !fin && s->wnd == c->snd_wnd &&
             c->snd_una != c->snd_max) {
    if (++c->dupacks == 3) {
      c->snd_nxt = c->snd_una; /* fast retransmit, go-back-N */
      net_stats.tcp_retransmits++;
    }
  }
  if (seq_lt(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && seq_le(c->snd_wl2, s->ack))) {
    c->snd_wnd = s->wnd;
    c->snd_wl1 = s->seq;
    c->snd_wl2 = s->ack;
    if (c->snd_wnd == 0) {
      c->retries = 0; /* the peer is alive, only its window is closed: keep probing */
    }
  }
  if (c->fin_acked) {
    if (c->state == TCP_FIN_WAIT_1) {
      c->state = TCP_FIN_WAIT_2;
      c->timeout_at = net_now + clock_ms(FIN_WAIT_2_MS);
    } else if (c->state == TCP_CLOSING) {
      enter_time_wait(c);
    } else if (c->state == TCP_LAST_ACK) {
      release(c);
      return;
    }
  }

  /* Data, in order only. */
  uint32_t seq = s->seq;
  const uint8_t* data = s->data;
  uint32_t dlen = (uint32_t)s->dlen;
  if (seq_gt(seq, c->rcv_nxt)) {
    c->ack_now = true; /* a hole before it: drop, send a duplicate ACK */
    return;
  }
  uint32_t old = c->rcv_nxt - seq;
  if (old > dlen) {
    old = dlen;
  }
  data += old;
  dlen -= old;
  if (dlen) {
    c->ack_now = true;
    if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_1 && c->state != TCP_FIN_WAIT_2) {
      return; /* data after the peer's FIN */
    }
    uint32_t take = min_u32(dlen, rx_free(c));
    uint32_t end = (c->rx_head + c->rx_len) % TCP_RXBUF;
    uint32_t first = min_u32(TCP_RXBUF - end, take);
    memcpy(c->rx + end, data, first);
    memcpy(c->rx, data + first, take - first);
    c->rx_len += take;
    c->rcv_nxt += take;
    if (take < dlen) {
      return; /* beyond the window: the FIN (if any) waits too */
    }
  }
  if (fin) {
    if (seq + (uint32_t)s->dlen == c->rcv_nxt && !c->fin_rcvd) {
      c->fin_rcvd = true;
      c->rcv_nxt++;
      c->ack_now = true;
      if (c->state == TCP_ESTABLISHED) {
        c->state = TCP_CLOSE_WAIT;
      } else if (c->state == TCP_FIN_WAIT_1) {
        if (c->fin_acked) {
          enter_time_wait(c);
        } else {
          c->state = TCP_CLOSING;
        }
      } else if (c->state == TCP_FIN_WAIT_2) {
        enter_time_wait(c);
      }
    } else if (c->fin_rcvd) {
      c->ack_now = true; /* a repeated FIN */
      if (c->state == TCP_TIME_WAIT) {
        enter_time_wait(c);
      }
    }
  }
}

void tcp_input(uint32_t src, const uint8_t* p, size_t len) {
  if (len < TCP_HLEN) {
    net_stats.rx_drop_tcp++;
    return;
  }
  size_t doff = (size_t)(p[12] >> 4) * 4;
  if (doff < TCP_HLEN || doff > len ||
      csum_finish(csum_add(ip_pseudo_sum(src, net_cfg.ip, IP_PROTO_TCP, len), p, len)) != 0) {
    net_stats.rx_drop_tcp++;
    return;
  }
  struct segment s = {
      .src = src,
      .sport = get16(p),
      .dport = get16(p + 2),
      .seq = get32(p + 4),
      .ack = get32(p + 8),
      .flags = p[13],
      .wnd = get16(p + 14),
      .opts = p + TCP_HLEN,
      .optlen = doff - TCP_HLEN,
      .data = p + doff,
      .dlen = len - doff,
  };
  bool syn = s.flags & TCP_SYN;
  if (s.sport == 0 || s.dport == 0 || (syn && (s.flags & (TCP_FIN | TCP_RST)))) {
    net_stats.rx_drop_tcp++; /* nonsense flag combinations get no answer */
    return;
  }
  net_stats.rx_tcp++;
  struct tcp_conn* c = lookup(src, s.sport, s.dport);
  if (c && c->state == TCP_TIME_WAIT && syn && !(s.flags & TCP_ACK)) {
    release(c); /* a new connection on the same ports: TIME_WAIT gives way */
    c = NULL;
  }
  if (!c) {
    no_connection(&s);
    return;
  }
  if (c->state == TCP_SYN_RCVD && !syn_rcvd_input(c, &s)) {
    return;
  }
  established_input(c, &s);
}

/* --- the poll round --- */

static void timers(struct tcp_conn* c) {
  /*
   * Deadlines are absolute TSC values. A VM restored on another host may see its TSC jump
   * back; a deadline further ahead than any timer sets is due now rather than much later.
   */
  uint64_t horizon = net_now + clock_ms(2 * FIN_WAIT_2_MS);
  if (c->rto_at > horizon) {
    c->rto_at = net_now;
  }
  if (c->timeout_at > horizon) {
    c->timeout_at = net_now;
  }
  if (c->timeout_at && net_now >= c->timeout_at &&
      (c->state == TCP_TIME_WAIT || c->state == TCP_FIN_WAIT_2)) {
    if (c->state == TCP_FIN_WAIT_2) {
      tcp_abort(c);
    } else {
      release(c);
    }
    return;
  }
  /* Persist timer: data waits for a zero window and nothing is in flight to get an ACK. */
  if (!c->rto_at && c->snd_wnd == 0 && c->tx_len && c->snd_una == c->snd_max &&
      c->state != TCP_SYN_RCVD && !c->fin_acked) {
    arm_rto(c);
  }
  if (!c->rto_at || net_now < c->rto_at) {
    return;
  }
  c->rto_at = 0;
  c->retries++;
  if (c->retries > (c->state == TCP_SYN_RCVD ? SYN_RETRIES : MAX_RETRIES)) {
    net_stats.tcp_aborted++;
    tcp_abort(c);
    return;
  }
  net_stats.tcp_retransmits++;
  c->snd_nxt = c->state == TCP_SYN_RCVD ? c->iss : c->snd_una;
  c->force_one = true;
  arm_rto(c);
}

uint64_t tcp_next_deadline(void) {
  uint64_t next = UINT64_MAX;
  for (unsigned i = 0; i < TCP_MAX_CONNS; i++) {
    const struct tcp_conn* c = &conns[i];
    if (c->state == TCP_CLOSED) {
      continue;
    }
    if (c->rto_at && c->rto_at < next) {
      next = c->rto_at;
    }
    if (c->timeout_at && c->timeout_at < next) {
      next = c->timeout_at;
    }
  }
  return next;
}

bool tcp_poll(uint64_t now) {
  (void)now;
  bool busy = false;
  for (unsigned i = 0; i < TCP_MAX_CONNS; i++) {
    struct tcp_conn* c = &conns[i];
    if (c->state == TCP_CLOSED) {
      continue;
    }
    busy = true;
    timers(c);
    if (c->app_open && !c->app_closed && c->app->poll &&
        (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)) {
      c->app->poll(c);
    }
    if (c->state == TCP_CLOSED) {
      continue;
    }
    /* A window update once the service has freed at least two segments' worth. */
    uint32_t edge = c->rcv_nxt + window(c);
    if (c->state != TCP_SYN_RCVD && seq_gt(edge, c->rcv_adv) && edge - c->rcv_adv >= 2 * TCP_MSS) {
      c->ack_now = true;
    }
    output(c);
  }
  return busy;
}
