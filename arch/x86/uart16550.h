/* Polled driver for the 16550 UART (the PC's COM ports). Used by the
 * loader, the core and the L1 test program, which all write to the same
 * port; the core also reads it (the debug shell, hv/console/console.c). */
#pragma once
#include <stdint.h>
#include <stddef.h>

struct uart16550 {
    uint16_t base;  /* I/O base, e.g. 0x3F8 for COM1; 0 = no port */
};

void uart_init(struct uart16550 *u, uint16_t base, uint32_t baud);
void uart_putc(const struct uart16550 *u, char c);
/* Register offsets from the I/O base (PC16550D data sheet). */
enum {
    UART_RBR = 0, /* receive buffer (DLAB=0, read) */
    UART_THR = 0, /* transmit holding (DLAB=0, write) */
    UART_DLL = 0, /* divisor latch low (DLAB=1) */
    UART_IER = 1,
    UART_DLM = 1,
    UART_IIR = 2, /* interrupt identification (read) */
    UART_FCR = 2, /* FIFO control (write) */
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
};
#define UART_IER_ERBFI 0x01 /* receive data available interrupt */
#define UART_IIR_RDA   0x04 /* received data available */
#define UART_IIR_NO_INT 0x01
#define UART_LCR_DLAB  0x80
#define UART_LSR_DR    0x01 /* data ready */
#define UART_LSR_THRE  0x20
#define UART_LSR_TEMT  0x40

/* A received byte, or -1 when there is none (or the divisor latch is
 * switched in, when offset 0 is not the receive buffer). */
int uart_getc(const struct uart16550 *u);
/* Writes n bytes, turning "\n" into "\r\n" for terminals. */
void uart_write(const struct uart16550 *u, const char *s, size_t n);
