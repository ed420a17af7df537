// SPDX-License-Identifier: GPL-2.0-or-later
/* 8250/16550 UART on COM1, polled, transmit only. */
#ifndef TESTGUEST_DRIVERS_UART_H
#define TESTGUEST_DRIVERS_UART_H

#include <stddef.h>

#define UART_COM1 0x3f8

/* 115200 8N1, interrupts off, FIFOs on when the UART has them. */
void uart_init(void);

/* Writes n bytes, "\n" becoming "\r\n". Works before uart_init() too (one byte per THRE). */
void uart_write(const char* s, size_t n);

/* Waits until the transmitter is empty (before the VM is ended). */
void uart_drain(void);

#endif
