/* The hypervisor's log: every line goes to the serial console (if its level
 * is enabled) and always into an in-memory ring buffer for later inspection.
 * Lines carry the prefix "[hv] " so they stand out among the firmware's and
 * the OS's output on the same port. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "boot/config.h"
#include "lib/ringbuf.h"

#define LOG_PREFIX "[hv] "
#define LOG_LINE_MAX 512

void log_init(const struct hv_config *cfg);
void log_printf(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Unformatted output (newlib's stdout/stderr): to the console and the ring. */
void log_write_raw(const char *s, size_t n);
/* Appends to the ring only (e.g. the loader's lines, already on the console). */
void log_ring_append(const char *s, size_t n);
const struct ringbuf *log_ring(void);
/* To the console only (not the ring), whole under the output lock: the
 * debug shell's output and L1's output it kept (hv/console/console.c). */
void log_console_write(const char *s, size_t n, bool crlf); /* crlf: "\n" as "\r\n" */
enum log_level log_console_level(void);
void log_set_console_level(enum log_level level);
/* Straight to the UART, no formatting: for when the logger itself failed. */
void log_emergency(const char *s);

#define pr_err(...)   log_printf(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  log_printf(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log_printf(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)
/* For what a guest can cause as often as it likes: the first
 * LOG_LIMITED_FIRST times, then once every LOG_LIMITED_EVERY, so a guest
 * in a loop cannot flood the console (each call site counts alone). */
#define LOG_LIMITED_FIRST 10
#define LOG_LIMITED_EVERY 1000
#define log_limited(level, ...)                                               \
    do {                                                                      \
        static uint64_t seen_;                                                \
        uint64_t n_ = __atomic_fetch_add(&seen_, 1, __ATOMIC_RELAXED);        \
        if (n_ < LOG_LIMITED_FIRST || n_ % LOG_LIMITED_EVERY == 0)            \
            log_printf(level, __VA_ARGS__);                                   \
    } while (0)
#define pr_warn_limited(...) log_limited(LOG_WARN, __VA_ARGS__)
#define pr_info_limited(...) log_limited(LOG_INFO, __VA_ARGS__)
