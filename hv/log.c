#include "hv/log.h"
#include <stdarg.h>
#include <stdio.h>
#include "arch/x86/uart16550.h"

#define LOG_RING_SIZE (64 * 1024)

static struct uart16550 console;
static enum log_level console_level = LOG_INFO;
static struct ringbuf ring;
static char ring_storage[LOG_RING_SIZE];

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
    ringbuf_write(&ring, s, n);
}

void log_write_raw(const char *s, size_t n)
{
    ringbuf_write(&ring, s, n);
    uart_write(&console, s, n);
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
    int n = snprintf(line, sizeof line, LOG_PREFIX "%s", level_tag[level]);
    size_t avail = sizeof line - (size_t)n - 1; /* keep room for '\n' */
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, avail, fmt, ap);
    va_end(ap);
    /* A long message is cut, but the line is still ended. */
    size_t body = m < 0 ? 0 : (size_t)m < avail ? (size_t)m : avail - 1;
    size_t len = (size_t)n + body;
    line[len++] = '\n';
    ringbuf_write(&ring, line, len);
    if (level <= console_level)
        uart_write(&console, line, len);
}
