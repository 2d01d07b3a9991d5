/* Byte ring buffer for the log. See ringbuf.h. No libc. */
#include "lib/ringbuf.h"

static void copy_bytes(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

/* (a + b) mod size without 32-bit overflow: a, b < 2^32, size > 0. */
static uint32_t wrap_add(uint32_t a, uint64_t b, uint32_t size)
{
    return (uint32_t)(((uint64_t)a + b) % size);
}

void ringbuf_init(struct ringbuf *rb, char *storage, uint32_t size)
{
    rb->size = size;
    rb->head = 0;
    rb->len = 0;
    rb->total = 0;
    rb->data = storage;
}

/* Copy n <= size bytes into the buffer at index pos, wrapping at the end. */
static void put_wrapped(struct ringbuf *rb, uint32_t pos, const char *s,
                        uint32_t n)
{
    uint32_t first = rb->size - pos;

    if (first > n)
        first = n;
    copy_bytes(rb->data + pos, s, first);
    copy_bytes(rb->data, s + first, n - first);
}

void ringbuf_write(struct ringbuf *rb, const char *s, size_t n)
{
    rb->total += n;
    if (rb->size == 0 || n == 0)
        return;

    if (n >= rb->size) {
        /* Everything older is overwritten: keep only the tail of s. */
        copy_bytes(rb->data, s + (n - rb->size), rb->size);
        rb->head = 0;
        rb->len = rb->size;
        return;
    }

    uint32_t m = (uint32_t)n;
    uint32_t tail = wrap_add(rb->head, rb->len, rb->size);
    uint64_t newlen = (uint64_t)rb->len + m;

    put_wrapped(rb, tail, s, m);
    if (newlen > rb->size) {
        /* The write ran over the oldest bytes: advance head past them. */
        rb->head = wrap_add(rb->head, newlen - rb->size, rb->size);
        newlen = rb->size;
    }
    rb->len = (uint32_t)newlen;
}

size_t ringbuf_read(const struct ringbuf *rb, size_t offset, char *out,
                    size_t n)
{
    if (offset >= rb->len)
        return 0;

    size_t avail = rb->len - offset;
    size_t count = n < avail ? n : avail;
    uint32_t start = wrap_add(rb->head, offset, rb->size);
    size_t first = rb->size - start;

    if (first > count)
        first = count;
    copy_bytes(out, rb->data + start, first);
    copy_bytes(out + first, rb->data, count - first);
    return count;
}

size_t ringbuf_len(const struct ringbuf *rb)
{
    return rb->len;
}

uint64_t ringbuf_total(const struct ringbuf *rb)
{
    return rb->total;
}
