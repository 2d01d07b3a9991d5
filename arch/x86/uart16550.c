#include "arch/x86/uart16550.h"
#include "arch/x86/cpu.h"

/* Register offsets from the I/O base (PC16550D data sheet). */
enum {
    UART_THR = 0, /* transmit holding (DLAB=0) */
    UART_DLL = 0, /* divisor latch low (DLAB=1) */
    UART_IER = 1,
    UART_DLM = 1,
    UART_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
};
#define LCR_8N1  0x03
#define LCR_DLAB 0x80
#define LSR_THRE 0x20
#define UART_CLOCK_DIV 115200u

/* A missing UART reads as 0xFF (THRE set), so the wait below ends at once;
 * the bound keeps a wedged one from hanging the hypervisor. */
#define THRE_SPIN_LIMIT 100000

void uart_init(struct uart16550 *u, uint16_t base, uint32_t baud)
{
    u->base = base;
    if (!base)
        return;
    uint16_t div = (uint16_t)(UART_CLOCK_DIV / (baud ? baud : UART_CLOCK_DIV));
    outb(base + UART_IER, 0x00);           /* polled: no interrupts */
    outb(base + UART_LCR, LCR_DLAB);
    outb(base + UART_DLL, div & 0xFF);
    outb(base + UART_DLM, div >> 8);
    outb(base + UART_LCR, LCR_8N1);
    outb(base + UART_FCR, 0x07);           /* enable and clear FIFOs */
    outb(base + UART_MCR, 0x03);           /* DTR, RTS */
}

void uart_putc(const struct uart16550 *u, char c)
{
    if (!u->base)
        return;
    for (int i = 0; i < THRE_SPIN_LIMIT; i++) {
        if (inb(u->base + UART_LSR) & LSR_THRE)
            break;
        cpu_pause();
    }
    outb(u->base + UART_THR, (uint8_t)c);
}

void uart_write(const struct uart16550 *u, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            uart_putc(u, '\r');
        uart_putc(u, s[i]);
    }
}
