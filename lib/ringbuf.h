/*
 * Byte ring buffer for the hypervisor log.
 *
 * Every log line is appended; once the buffer is full the oldest bytes are
 * overwritten, so the buffer always holds the most recent ringbuf_len()
 * bytes ever written. Freestanding: no libc.
 *
 * Layout: data[head] is the oldest retained byte; the retained content is the
 * len bytes starting there, wrapping at size. total counts every byte ever
 * written, so a reader that remembers (total - len) can tell how much it
 * missed.
 *
 * Contract:
 *  - size must be > 0. A zero-sized buffer is not supported; as a safety net
 *    it behaves as a sink (writes are counted in total, nothing is retained,
 *    reads return 0) instead of dividing by zero.
 *  - No locking: callers (e.g. the log, with several CPUs) serialize access.
 */
#ifndef LIB_RINGBUF_H
#define LIB_RINGBUF_H

#include <stddef.h>
#include <stdint.h>

struct ringbuf {
    uint32_t size;  /* capacity in bytes */
    uint32_t head;  /* index of the oldest retained byte */
    uint32_t len;   /* bytes retained, <= size */
    uint64_t total; /* bytes ever written */
    char *data;
};

void ringbuf_init(struct ringbuf *rb, char *storage, uint32_t size);

/* Append n bytes. If n >= size only the last size bytes of s are kept. */
void ringbuf_write(struct ringbuf *rb, const char *s, size_t n);

/*
 * Copy up to n bytes of the retained content, starting 'offset' bytes after
 * the oldest retained byte, into out. Returns the number of bytes copied
 * (0 when offset >= ringbuf_len()).
 */
size_t ringbuf_read(const struct ringbuf *rb, size_t offset, char *out,
                    size_t n);

size_t ringbuf_len(const struct ringbuf *rb);     /* bytes retained */
uint64_t ringbuf_total(const struct ringbuf *rb); /* bytes ever written */

#endif /* LIB_RINGBUF_H */
