/* What every fuzz target shares: the invariant check, which aborts with
 * the name of the broken invariant (libFuzzer then saves the input as a
 * crash), and a reader that turns the fuzzer's bytes into values (zeros
 * once the input runs out, so every input is a complete test). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline __attribute__((noreturn)) void fuzz_broken(const char *invariant, const char *file,
                                                         int line)
{
    fprintf(stderr, "\n*** BROKEN INVARIANT: %s\n    at %s:%d\n", invariant, file, line);
    abort();
}

/* cond must hold on every input; invariant says, in words, what broke. */
#define FUZZ_CHECK(cond, invariant)                                \
    do {                                                           \
        if (!(cond))                                               \
            fuzz_broken((invariant), __FILE__, __LINE__);          \
    } while (0)

struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

static inline bool in_empty(const struct fuzz_in *in) { return in->n == 0; }

static inline uint8_t in_u8(struct fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Little-endian; missing bytes read as zero. */
static inline uint64_t in_bytes_le(struct fuzz_in *in, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)in_u8(in) << (8 * i);
    return v;
}

static inline uint16_t in_u16(struct fuzz_in *in) { return (uint16_t)in_bytes_le(in, 2); }
static inline uint32_t in_u32(struct fuzz_in *in) { return (uint32_t)in_bytes_le(in, 4); }
static inline uint64_t in_u64(struct fuzz_in *in) { return in_bytes_le(in, 8); }

/* Copies up to size bytes into dst; the rest of dst is left as it was.
 * Returns how many were copied. */
static inline size_t in_copy(struct fuzz_in *in, void *dst, size_t size)
{
    size_t k = size < in->n ? size : in->n;
    memcpy(dst, in->p, k);
    in->p += k;
    in->n -= k;
    return k;
}
