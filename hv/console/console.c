#include "hv/console/console.h"
#include <stdarg.h>
#include <stdio.h>
#include "arch/x86/cpu.h"
#include "arch/x86/svm_bitmaps.h"
#include "arch/x86/uart16550.h"
#include "hv/console/console_mux.h"
#include "hv/core/log.h"
#include "hv/console/shell.h"
#include "hv/console/shell_line.h"
#include "lib/spinlock.h"

/* Bytes taken from the UART per look: bounds the time one exit spends. */
#define PULL_MAX 32

static bool enabled;
static uint16_t base;
static struct spinlock lock; /* everything below */
static struct console_mux mux;
static struct shell_line line;
static uint8_t lsr_errors;   /* OE/PE/FE/BI seen while pulling, for L1's next LSR read */
static uint64_t tsc_hz;
static uint8_t *l0_iopm;
static bool debug_shell;

static uint64_t tsc_calibrate(void);

void console_init(const struct hv_config *cfg, uint8_t *iopm)
{
    tsc_hz = tsc_calibrate();
    shell_init();
    debug_shell = cfg->debug_shell;
    if (!cfg->debug_shell || !cfg->serial_port)
        return;
    base = cfg->serial_port;
    console_mux_init(&mux, cfg->console_escape);
    shell_line_reset(&line);
    l0_iopm = iopm;
    iopm_set(iopm, base + UART_RBR, 1, true);
    iopm_set(iopm, base + UART_IIR, 1, true);
    iopm_set(iopm, base + UART_LSR, 1, true);
    enabled = true;
    pr_info("debug shell: type Ctrl-%c three times on the serial console", cfg->console_escape - 'a' + 'A');
}

bool console_debug_shell(void)
{
    return debug_shell;
}

uint64_t console_tsc_hz(void)
{
    return tsc_hz;
}

/* PIT channel 2 counting 10 ms with its gate (port 0x61), as Linux's
 * pit_calibrate_tsc does: the only clock every PC has. Run once at start,
 * before L1 runs, so L1's use of the PIT is not disturbed. */
static uint64_t tsc_calibrate(void)
{
    const uint16_t count = 11932; /* 1193182 Hz / 100 */
    uint8_t gate = inb(0x61);
    outb(0x61, (uint8_t)((gate & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(0x43, 0xB0);                             /* channel 2, lo/hi, mode 0 */
    outb(0x42, count & 0xFF);
    outb(0x42, count >> 8);
    uint64_t t0 = rdtsc_now(), t1 = t0;
    for (uint64_t i = 0; i < 100000000 && !(inb(0x61) & 0x20); i++)
        t1 = rdtsc_now();
    outb(0x61, gate);
    return (t1 - t0) * 100;
}

void console_printf(const char *fmt, ...)
{
    char buf[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    log_console_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, true);
}

static void prompt(void)
{
    console_printf("hv> ");
}

/* The line has just changed hands (lock held). */
static void switched(enum console_owner to)
{
    if (to == CONSOLE_SHELL) {
        shell_line_reset(&line);
        console_printf("\n[hv] console: hypervisor shell (L1 keeps running; its output waits). "
                       "'help' lists commands, 'continue' or Ctrl-%c x3 returns to L1\n",
                       mux.escape + 'A' - 1);
        prompt();
        return;
    }
    console_printf("\n[hv] console: back to L1");
    if (mux.l1_out_len || mux.l1_out_dropped)
        console_printf(" (%u bytes of its output kept, %lu dropped, follow)", mux.l1_out_len,
                       mux.l1_out_dropped);
    console_printf("\n");
    log_console_write(mux.l1_out, mux.l1_out_len, false);
    mux.l1_out_len = 0;
    mux.l1_out_dropped = 0;
}

void console_return_to_l1(void)
{
    /* Called from a command, lock held. */
    console_mux_set_owner(&mux, CONSOLE_L1);
    switched(CONSOLE_L1);
}

/* Takes what the UART received through the escape detector (lock held). */
static void pull(void)
{
    for (int i = 0; i < PULL_MAX; i++) {
        uint8_t lsr = inb(base + UART_LSR);
        lsr_errors |= lsr & 0x1E;
        if (!(lsr & UART_LSR_DR) || (inb(base + UART_LCR) & UART_LCR_DLAB))
            return;
        enum console_event ev = console_mux_input(&mux, inb(base + UART_RBR));
        if (ev == CONSOLE_EV_TO_SHELL)
            switched(CONSOLE_SHELL);
        else if (ev == CONSOLE_EV_TO_L1)
            switched(CONSOLE_L1);
    }
}

/* Runs what the shell was typed (lock held). */
static void run_shell(void)
{
    int c;
    while (mux.owner == CONSOLE_SHELL && (c = fifo_pop(&mux.to_shell)) >= 0) {
        switch (shell_line_feed(&line, (uint8_t)c)) {
        case SHELL_FEED_ECHO: {
            char ch = (char)c;
            log_console_write(&ch, 1, false);
            break;
        }
        case SHELL_FEED_ERASE:
            log_console_write("\b \b", 3, false);
            break;
        case SHELL_FEED_OVERLONG:
            console_printf("\nerror: line longer than %d characters, ignored\n", SHELL_LINE_MAX);
            prompt();
            break;
        case SHELL_FEED_LINE:
            console_printf("\n");
            shell_run(line.buf);
            if (mux.owner == CONSOLE_SHELL)
                prompt();
            break;
        case SHELL_FEED_NONE:
            break;
        }
    }
}

void console_poll(struct vcpu *v)
{
    if (!enabled || v->id != 0) {
        v->console_countdown = 0; /* wraps: never again in 2^32 exits */
        return;
    }
    v->console_countdown = CONSOLE_POLL_EVERY;
    if (!spin_trylock(&lock))
        return; /* another CPU is at the UART: it pulls */
    /* While L1 owns the line and has its receive interrupt on, its handler
     * reads the bytes (intercepted): leave them to it. */
    bool l1_irq = (inb(base + UART_LCR) & UART_LCR_DLAB) == 0 &&
                  (inb(base + UART_IER) & UART_IER_ERBFI) != 0;
    if (mux.owner == CONSOLE_SHELL || !l1_irq)
        pull();
    run_shell();
    spin_unlock(&lock);
}

static bool is_console_port(uint16_t port)
{
    return port == base + UART_RBR || port == base + UART_IIR || port == base + UART_LSR;
}

bool console_give_up(uint16_t port)
{
    if (!enabled || !is_console_port(port))
        return false;
    spin_lock(&lock);
    if (enabled) {
        enabled = false;
        iopm_set(l0_iopm, base + UART_RBR, 1, false);
        iopm_set(l0_iopm, base + UART_IIR, 1, false);
        iopm_set(l0_iopm, base + UART_LSR, 1, false);
        console_mux_set_owner(&mux, CONSOLE_L1);
        pr_warn("L1 uses string I/O on the serial port %#x: the debug shell gives the port up", port);
    }
    spin_unlock(&lock);
    return true;
}

bool console_ioio(struct vcpu *v, uint16_t port, bool in, uint64_t *rax)
{
    if (!enabled || !is_console_port(port))
        return false;
    spin_lock(&lock);
    bool dlab = (inb(base + UART_LCR) & UART_LCR_DLAB) != 0;
    if (port == base + UART_IIR) {
        if (in) {
            /* A byte L1 is owed (taken by another CPU's LSR read, or held
             * as a possible escape) no longer shows in the UART's own
             * IIR: Linux's handler, which reads IIR first, would return
             * without reading it, until the next byte came. */
            pull();
            uint8_t iir = inb(port);
            if (!fifo_empty(&mux.to_l1) && !dlab && (inb(base + UART_IER) & UART_IER_ERBFI))
                iir = (uint8_t)((iir & 0xC0) | UART_IIR_RDA);
            *rax = (*rax & ~0xFFULL) | iir;
        } else {
            outb(port, (uint8_t)*rax); /* FCR */
        }
    } else if (port == base + UART_LSR) {
        if (in) {
            pull();
            uint8_t lsr = (uint8_t)((inb(base + UART_LSR) & ~(UART_LSR_DR | 0x1E)) | lsr_errors);
            lsr_errors = 0;
            if (!fifo_empty(&mux.to_l1))
                lsr |= UART_LSR_DR;
            /* While the shell has the line L1's output is kept, so L1 never
             * waits for the transmitter. */
            if (mux.owner == CONSOLE_SHELL)
                lsr |= UART_LSR_THRE | UART_LSR_TEMT;
            *rax = (*rax & ~0xFFULL) | lsr;
        } else {
            outb(port, (uint8_t)*rax); /* LSR writes: factory test only */
        }
    } else if (dlab) {
        /* Divisor latch: L1 sets its baud rate. */
        if (in)
            *rax = (*rax & ~0xFFULL) | inb(port);
        else
            outb(port, (uint8_t)*rax);
    } else if (in) {
        pull();
        int c = fifo_pop(&mux.to_l1);
        *rax = (*rax & ~0xFFULL) | (uint8_t)(c < 0 ? 0 : c);
    } else if (console_mux_l1_output(&mux, (uint8_t)*rax)) {
        outb(port, (uint8_t)*rax);
    }
    run_shell();
    spin_unlock(&lock);
    (void)v;
    return true;
}
