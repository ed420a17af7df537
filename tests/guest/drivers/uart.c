// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Each port access is a VM exit (~29 us from ring 3 on kvm-pvm), so the driver reads the
 * line status register once per FIFO's worth of bytes: after THRE (transmit FIFO empty)
 * it may write 16 bytes on a 16550A, 1 byte on a UART without FIFOs.
 */
#include "drivers/uart.h"

#include <stdint.h>

#include "drivers/pio.h"

#define REG_DATA 0 /* THR (write) / RBR (read); DLL with DLAB */
#define REG_IER 1  /* interrupt enable; DLM with DLAB */
#define REG_FCR 2  /* FIFO control (write) */
#define REG_IIR 2  /* interrupt identification (read) */
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR 0x07 /* enable, clear RX and TX FIFOs */
#define IIR_FIFO_ENABLED 0xc0
#define MCR_DTR_RTS 0x03
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define FIFO_DEPTH 16

/* Bytes that may go out after one THRE (0 before uart_init(): treated as 1). */
static unsigned burst;
/* Bytes still allowed before LSR must be read again. */
static unsigned budget;

void uart_init(void) {
  outb(UART_COM1 + REG_IER, 0);
  outb(UART_COM1 + REG_LCR, LCR_DLAB);
  outb(UART_COM1 + REG_DATA, 1); /* divisor 1: 115200 baud */
  outb(UART_COM1 + REG_IER, 0);
  outb(UART_COM1 + REG_LCR, LCR_8N1);
  outb(UART_COM1 + REG_FCR, FCR_ENABLE_CLEAR);
  outb(UART_COM1 + REG_MCR, MCR_DTR_RTS);
  burst = (inb(UART_COM1 + REG_IIR) & IIR_FIFO_ENABLED) == IIR_FIFO_ENABLED ? FIFO_DEPTH : 1;
  budget = 0;
}

static void put(char c) {
  if (budget == 0) {
    while (!(inb(UART_COM1 + REG_LSR) & LSR_THRE)) {
    }
    budget = burst ? burst : 1;
  }
  outb(UART_COM1 + REG_DATA, (uint8_t)c);
  budget--;
}

void uart_write(const char* s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\n') {
      put('\r');
    }
    put(s[i]);
  }
}

void uart_drain(void) {
  while (!(inb(UART_COM1 + REG_LSR) & LSR_TEMT)) {
  }
  budget = burst ? burst : 1;
}
