/* Polled driver for the 16550 UART (the PC's COM ports). Output only for
 * now; input (for the debug shell) comes later. Used by the loader and the
 * core, which both write to the same port. */
#pragma once
#include <stdint.h>
#include <stddef.h>

struct uart16550 {
    uint16_t base;  /* I/O base, e.g. 0x3F8 for COM1; 0 = no port */
};

void uart_init(struct uart16550 *u, uint16_t base, uint32_t baud);
void uart_putc(const struct uart16550 *u, char c);
/* Writes n bytes, turning "\n" into "\r\n" for terminals. */
void uart_write(const struct uart16550 *u, const char *s, size_t n);
