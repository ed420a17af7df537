// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * echo: TCP and UDP port 7 (RFC 862). TCP sends back every byte received and closes
 * after the peer has closed and everything has been echoed; UDP answers each datagram
 * with the same payload.
 *
 * echo=tsc: every answer carries the TSC at the time it was made, so two VMs never
 * answer alike: TCP answers line by line, "<16 hex digits of TSC> <line>" (a line being
 * up to 1024 bytes ending in LF, or what is left at EOF); UDP answers
 * "<16 hex digits> <payload>", cut to the largest datagram.
 */
#include "drivers/tsc.h"
#include "lib/format.h"
#include "lib/string.h"
#include "net/tcp.h"
#include "net/udp.h"
#include "services/service.h"

#define ECHO_PORT 7
#define CHUNK 4096
#define LINE_MAX 1024
#define TSC_PREFIX 17 /* 16 hex digits and a space */

static bool tsc_mode;
static uint8_t chunk[CHUNK + TSC_PREFIX];

static void put_tsc(uint8_t* p) {
  char text[TSC_PREFIX + 1];
  format_buf(text, sizeof(text), "%016lx ", rdtsc());
  memcpy(p, text, TSC_PREFIX);
}

static void echo_plain(struct tcp_conn* c) {
  for (;;) {
    size_t n = tcp_rx_avail(c);
    size_t space = tcp_tx_space(c);
    if (n > space) {
      n = space;
    }
    if (n > CHUNK) {
      n = CHUNK;
    }
    if (n == 0) {
      return;
    }
    tcp_peek(c, 0, chunk, n);
    tcp_write(c, chunk, n);
    tcp_consume(c, n);
  }
}

/* Length of the next line (with its LF), or 0 if it is not complete yet. */
static size_t next_line(struct tcp_conn* c, bool eof) {
  size_t avail = tcp_rx_avail(c);
  size_t n = tcp_peek(c, 0, chunk + TSC_PREFIX, avail < LINE_MAX ? avail : LINE_MAX);
  for (size_t i = 0; i < n; i++) {
    if (chunk[TSC_PREFIX + i] == '\n') {
      return i + 1;
    }
  }
  return (n == LINE_MAX || eof) ? n : 0;
}

static void echo_tsc(struct tcp_conn* c) {
  for (;;) {
    size_t n = next_line(c, tcp_fin_received(c));
    if (n == 0 || tcp_tx_space(c) < n + TSC_PREFIX) {
      return;
    }
    put_tsc(chunk);
    tcp_write(c, chunk, n + TSC_PREFIX);
    tcp_consume(c, n);
  }
}

static void echo_poll(struct tcp_conn* c) {
  if (tsc_mode) {
    echo_tsc(c);
  } else {
    echo_plain(c);
  }
  if (tcp_eof(c)) {
    tcp_close(c);
  }
}

static const struct tcp_app echo_app = {.poll = echo_poll};

static void echo_udp(uint32_t src, uint16_t sport, uint16_t dport, const uint8_t* data,
                     size_t len) {
  if (!tsc_mode) {
    udp_send(src, dport, sport, data, len);
    return;
  }
  static uint8_t reply[UDP_PAYLOAD_MAX];
  if (len > UDP_PAYLOAD_MAX - TSC_PREFIX) {
    len = UDP_PAYLOAD_MAX - TSC_PREFIX;
  }
  put_tsc(reply);
  memcpy(reply + TSC_PREFIX, data, len);
  udp_send(src, dport, sport, reply, len + TSC_PREFIX);
}

void echo_start(bool tsc) {
  if (service_added("echo")) {
    return;
  }
  tsc_mode = tsc;
  tcp_listen(ECHO_PORT, &echo_app);
  udp_bind(ECHO_PORT, echo_udp);
  service_add("echo", 0, 0);
}
