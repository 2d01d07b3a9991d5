#include "arch/x86/uart16550.h"
#include "arch/x86/cpu.h"

#define LCR_8N1  0x03
#define LCR_DLAB UART_LCR_DLAB
#define LSR_THRE UART_LSR_THRE
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

int uart_getc(const struct uart16550 *u)
{
    if (!u->base || !(inb(u->base + UART_LSR) & UART_LSR_DR) ||
        (inb(u->base + UART_LCR) & UART_LCR_DLAB))
        return -1;
    return inb(u->base + UART_RBR);
}
