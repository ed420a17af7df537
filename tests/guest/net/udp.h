// SPDX-License-Identifier: GPL-2.0-or-later
/* UDP sockets for the services: a handler per bound port, datagrams up to 1472 bytes. */
#ifndef TESTGUEST_NET_UDP_H
#define TESTGUEST_NET_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UDP_HLEN 8
#define UDP_PAYLOAD_MAX (1480 - UDP_HLEN)

typedef void (*udp_handler)(uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                            const uint8_t* data, size_t len);

/* Binds a handler to a local port; false if the port is taken or the table is full. */
bool udp_bind(uint16_t port, udp_handler fn);

/*
 * Sends a datagram (len <= UDP_PAYLOAD_MAX). False if it could not be sent (no route,
 * unresolved next hop, no transmit buffer).
 */
bool udp_send(uint32_t dst_ip, uint16_t src_port, uint16_t dst_port, const void* data, size_t len);

#endif
