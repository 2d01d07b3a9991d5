#include "hv/core/log.h"
#include <stdarg.h>
#include <stdio.h>
#include "arch/x86/uart16550.h"
#include "hv/core/percpu.h"
#include "lib/spinlock.h"

#define LOG_RING_SIZE (64 * 1024)

static struct uart16550 console;
static enum log_level console_level = LOG_INFO;
static struct ringbuf ring;
static char ring_storage[LOG_RING_SIZE];
/* Whole lines go out under this lock, so lines of several CPUs never mix.
 * owner (vCPU index + 1) lets a CPU that faults while printing still dump
 * its crash instead of waiting for itself. */
static struct spinlock out_lock;
static uint32_t out_owner;

static uint32_t self_tag(void)
{
    struct vcpu *v = vcpu_current();
    return v ? v->id + 1 : 1;
}

static bool out_begin(void)
{
    uint32_t me = self_tag();
    if (__atomic_load_n(&out_owner, __ATOMIC_RELAXED) == me)
        return false; /* nested (a fault inside the logger): no lock */
    spin_lock(&out_lock);
    out_owner = me;
    return true;
}

static void out_end(bool locked)
{
    if (!locked)
        return;
    out_owner = 0;
    spin_unlock(&out_lock);
}

static const char *const level_tag[] = {
    [LOG_ERROR] = "error: ",
    [LOG_WARN] = "warning: ",
    [LOG_INFO] = "",
    [LOG_DEBUG] = "debug: ",
};

void log_init(const struct hv_config *cfg)
{
    ringbuf_init(&ring, ring_storage, sizeof ring_storage);
    uart_init(&console, cfg->serial_port, cfg->serial_baud);
    console_level = cfg->log_level;
}

void log_ring_append(const char *s, size_t n)
{
    bool locked = out_begin();
    ringbuf_write(&ring, s, n);
    out_end(locked);
}

void log_write_raw(const char *s, size_t n)
{
    bool locked = out_begin();
    ringbuf_write(&ring, s, n);
    uart_write(&console, s, n);
    out_end(locked);
}

void log_console_write(const char *s, size_t n, bool crlf)
{
    bool locked = out_begin();
    if (crlf)
        uart_write(&console, s, n);
    else
        for (size_t i = 0; i < n; i++)
            uart_putc(&console, s[i]);
    out_end(locked);
}

enum log_level log_console_level(void)
{
    return console_level;
}

void log_set_console_level(enum log_level level)
{
    console_level = level;
}

void log_emergency(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    uart_write(&console, s, n);
}

const struct ringbuf *log_ring(void)
{
    return &ring;
}

void log_printf(enum log_level level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    /* The boot CPU's lines as before SMP; an AP's name it. */
    struct vcpu *v = vcpu_current();
    char cpu[16] = "";
    if (v && v->id)
        snprintf(cpu, sizeof cpu, "cpu%u: ", v->id);
    int n = snprintf(line, sizeof line, LOG_PREFIX "%s%s", cpu, level_tag[level]);
    size_t avail = sizeof line - (size_t)n - 1; /* keep room for '\n' */
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, avail, fmt, ap);
    va_end(ap);
    /* A long message is cut, but the line is still ended. */
    size_t body = m < 0 ? 0 : (size_t)m < avail ? (size_t)m : avail - 1;
    size_t len = (size_t)n + body;
    line[len++] = '\n';
    bool locked = out_begin();
    ringbuf_write(&ring, line, len);
    if (level <= console_level)
        uart_write(&console, line, len);
    out_end(locked);
}
