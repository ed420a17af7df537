// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TCP, passive open only, for the services. A service listens on a port with a set of
 * callbacks; each established connection then gets `poll` once per poll round, where it
 * reads what has arrived, writes its answers and may close. Data is accepted in order
 * only; our segments are retransmitted (go-back-N) on a TSC timer with exponential backoff.
 * README.md ("TCP") lists what is and is not implemented.
 */
#ifndef TESTGUEST_NET_TCP_H
#define TESTGUEST_NET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_MAX_CONNS 16
#define TCP_MSS 1460
#define TCP_RXBUF 65536u /* receive buffer per connection (the advertised window, <= 65535) */
#define TCP_TXBUF 65536u /* send buffer per connection: unacknowledged plus unsent data */

struct tcp_conn;

struct tcp_app {
  /* The connection is established: return false to refuse it (it is reset). */
  bool (*open)(struct tcp_conn* c);
  /* Once per poll round until the service closes (or aborts) the connection. */
  void (*poll)(struct tcp_conn* c);
  /* The connection is gone (closed, reset, timed out): forget it. */
  void (*gone)(struct tcp_conn* c);
};

/* Allocates the connection buffers; called by net_up(). */
void tcp_init(void);

/* Listens on a port; false if it is taken or the table is full. */
bool tcp_listen(uint16_t port, const struct tcp_app* app);

/* 0 .. TCP_MAX_CONNS - 1: services keep per-connection state in arrays indexed by it. */
unsigned tcp_conn_id(const struct tcp_conn* c);
uint32_t tcp_remote_ip(const struct tcp_conn* c);
uint16_t tcp_remote_port(const struct tcp_conn* c);

/* Bytes received and not yet consumed. */
size_t tcp_rx_avail(const struct tcp_conn* c);
/* Copies up to n received bytes from offset off without consuming them. */
size_t tcp_peek(const struct tcp_conn* c, size_t off, void* buf, size_t n);
/* Drops n received bytes (n <= tcp_rx_avail). */
void tcp_consume(struct tcp_conn* c, size_t n);
size_t tcp_read(struct tcp_conn* c, void* buf, size_t n);
/* True once the peer has closed its side and everything it sent has been consumed. */
bool tcp_eof(const struct tcp_conn* c);
/* True once the peer has closed its side (data may still be waiting). */
bool tcp_fin_received(const struct tcp_conn* c);

/* Room in the send buffer, and queueing data there (returns how much was taken). */
size_t tcp_tx_space(const struct tcp_conn* c);
size_t tcp_write(struct tcp_conn* c, const void* buf, size_t n);

/* Sends FIN after the queued data; the service gets no more polls, then `gone`. */
void tcp_close(struct tcp_conn* c);
/* Sends RST and forgets the connection at once (`gone` is called). */
void tcp_abort(struct tcp_conn* c);

/* Timers, the services' polls and transmission; called by net_poll() every round. */
bool tcp_poll(uint64_t now);

/* The earliest TCP timer (TSC), or UINT64_MAX if none is armed. */
uint64_t tcp_next_deadline(void);

/* ISNs come from a counter seeded by the command line (see README.md). */
void tcp_seed(uint64_t seed);

#endif
