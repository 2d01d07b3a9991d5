/* Unit tests for lib/ringbuf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/ringbuf.h"

#define GUARD 16
#define GUARD_BYTE 0x5a

/* Storage with guard bytes on both sides to catch out-of-bounds writes. */
struct guarded {
    char before[GUARD];
    char data[64];
    char after[GUARD];
};

static void guard_init(struct guarded *g)
{
    memset(g, GUARD_BYTE, sizeof(*g));
}

static void guard_check(const struct guarded *g)
{
    for (int i = 0; i < GUARD; i++) {
        assert_int_equal((unsigned char)g->before[i], GUARD_BYTE);
        assert_int_equal((unsigned char)g->after[i], GUARD_BYTE);
    }
}

/* Read the whole retained content as a NUL-terminated string. */
static void read_all(const struct ringbuf *rb, char *out, size_t cap)
{
    size_t n = ringbuf_read(rb, 0, out, cap - 1);
    assert_int_equal(n, ringbuf_len(rb));
    out[n] = '\0';
}

static void wr(struct ringbuf *rb, const char *s)
{
    ringbuf_write(rb, s, strlen(s));
}

static void test_empty(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[8] = "xxxxxxx";

    guard_init(&g);
    ringbuf_init(&rb, g.data, 8);
    assert_int_equal(ringbuf_len(&rb), 0);
    assert_int_equal(ringbuf_total(&rb), 0);
    assert_int_equal(ringbuf_read(&rb, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "xxxxxxx"); /* nothing copied */
    ringbuf_write(&rb, NULL, 0);         /* empty write is a no-op */
    assert_int_equal(ringbuf_len(&rb), 0);
    assert_int_equal(ringbuf_total(&rb), 0);
    guard_check(&g);
}

static void test_simple_append(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[32];

    guard_init(&g);
    ringbuf_init(&rb, g.data, 16);
    wr(&rb, "hello ");
    wr(&rb, "world");
    assert_int_equal(ringbuf_len(&rb), 11);
    assert_int_equal(ringbuf_total(&rb), 11);
    read_all(&rb, out, sizeof(out));
    assert_string_equal(out, "hello world");
    guard_check(&g);
}

static void test_fill_exactly(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[32];

    guard_init(&g);
    ringbuf_init(&rb, g.data, 8);
    wr(&rb, "abcd");
    wr(&rb, "efgh"); /* ends exactly at the end of storage */
    assert_int_equal(ringbuf_len(&rb), 8);
    assert_int_equal(rb.head, 0);
    read_all(&rb, out, sizeof(out));
    assert_string_equal(out, "abcdefgh");

    wr(&rb, "i"); /* wraps to index 0, drops 'a' */
    assert_int_equal(ringbuf_len(&rb), 8);
    assert_int_equal(rb.head, 1);
    assert_int_equal(g.data[0], 'i');
    read_all(&rb, out, sizeof(out));
    assert_string_equal(out, "bcdefghi");
    assert_int_equal(ringbuf_total(&rb), 9);
    guard_check(&g);
}

static void test_overwrite_oldest(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[32];

    guard_init(&g);
    ringbuf_init(&rb, g.data, 8);
    wr(&rb, "abcdef");
    wr(&rb, "ghij"); /* 2 bytes overflow */
    assert_int_equal(ringbuf_len(&rb), 8);
    read_all(&rb, out, sizeof(out));
    assert_string_equal(out, "cdefghij");
    assert_int_equal(ringbuf_total(&rb), 10);
    guard_check(&g);
}

static void test_wrap_without_overflow(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[32];

    guard_init(&g);
    ringbuf_init(&rb, g.data, 8);
    wr(&rb, "0123456"); /* len 7 */
    wr(&rb, "789");     /* head -> 2 */
    read_all(&rb, out, sizeof(out));
    assert_string_equal(out, "23456789");
    /* Full with head 2: the next write starts at index 2 and this one ends
     * exactly at the end of storage, so head wraps to 0. */
    wr(&rb, "ABCDEF");
    read_all(&rb, out, sizeof(out));
    assert_string_equal(out, "89ABCDEF");
    assert_int_equal(rb.head, 0);
    guard_check(&g);
}

static void test_write_larger_than_buffer(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[32];

    guard_init(&g);
    ringbuf_init(&rb, g.data, 8);
    wr(&rb, "xyz"); /* non-empty, head will move */
    wr(&rb, "0123456789ABCDEFGHIJ");
    assert_int_equal(ringbuf_len(&rb), 8);
    assert_int_equal(ringbuf_total(&rb), 23);
    read_all(&rb, out, sizeof(out));
    assert_string_equal(out, "CDEFGHIJ");
    guard_check(&g);
}

static void test_write_exactly_size_when_wrapped(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[32];

    guard_init(&g);
    ringbuf_init(&rb, g.data, 8);
    wr(&rb, "abcdefghijk"); /* > size */
    wr(&rb, "lm");          /* head now non-zero */
    assert_int_not_equal(rb.head, 0);
    wr(&rb, "ABCDEFGH"); /* exactly size: replaces everything */
    read_all(&rb, out, sizeof(out));
    assert_string_equal(out, "ABCDEFGH");
    assert_int_equal(ringbuf_total(&rb), 21);
    guard_check(&g);
}

static void test_read_offsets(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[32];

    guard_init(&g);
    ringbuf_init(&rb, g.data, 8);
    wr(&rb, "abcdefghijkl"); /* retained "efghijkl", head 4 */
    wr(&rb, "mn");           /* retained "ghijklmn", head 6 */

    memset(out, 0, sizeof(out));
    assert_int_equal(ringbuf_read(&rb, 1, out, 3), 3);
    assert_memory_equal(out, "hij", 3);

    /* Spans the physical end of storage. */
    memset(out, 0, sizeof(out));
    assert_int_equal(ringbuf_read(&rb, 0, out, 5), 5);
    assert_memory_equal(out, "ghijk", 5);

    /* Clamped to what is retained. */
    memset(out, 0, sizeof(out));
    assert_int_equal(ringbuf_read(&rb, 5, out, 100), 3);
    assert_memory_equal(out, "lmn", 3);

    /* Last byte, exactly at len, past len, zero count. */
    assert_int_equal(ringbuf_read(&rb, 7, out, 1), 1);
    assert_int_equal(out[0], 'n');
    assert_int_equal(ringbuf_read(&rb, 8, out, 4), 0);
    assert_int_equal(ringbuf_read(&rb, 1000, out, 4), 0);
    assert_int_equal(ringbuf_read(&rb, (size_t)-1, out, 4), 0);
    assert_int_equal(ringbuf_read(&rb, 0, out, 0), 0);
    guard_check(&g);
}

static void test_size_one(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char c = 0;

    guard_init(&g);
    ringbuf_init(&rb, g.data, 1);
    wr(&rb, "a");
    wr(&rb, "bc");
    wr(&rb, "d");
    assert_int_equal(ringbuf_len(&rb), 1);
    assert_int_equal(ringbuf_read(&rb, 0, &c, 1), 1);
    assert_int_equal(c, 'd');
    assert_int_equal(ringbuf_total(&rb), 4);
    guard_check(&g);
}

static void test_size_zero_is_sink(void **state)
{
    (void)state;
    struct guarded g;
    struct ringbuf rb;
    char out[4] = "zzz";

    guard_init(&g);
    ringbuf_init(&rb, g.data, 0);
    wr(&rb, "abc");
    assert_int_equal(ringbuf_len(&rb), 0);
    assert_int_equal(ringbuf_total(&rb), 3);
    assert_int_equal(ringbuf_read(&rb, 0, out, 3), 0);
    assert_string_equal(out, "zzz");
    /* Storage is never touched. */
    for (size_t i = 0; i < sizeof(g.data); i++)
        assert_int_equal((unsigned char)g.data[i], GUARD_BYTE);
    guard_check(&g);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Random writes and reads compared against a linear log of everything. */
static void test_random_against_model(void **state)
{
    (void)state;
    static char model[200000];
    size_t model_len = 0;
    uint32_t seed = 12345;

    for (uint32_t size = 1; size <= 37; size += 6) {
        struct guarded g;
        struct ringbuf rb;

        guard_init(&g);
        ringbuf_init(&rb, g.data, size);
        model_len = 0;
        for (int op = 0; op < 2000; op++) {
            char chunk[80];
            size_t n = lcg(&seed) % (size * 2 + 3);
            if (n > sizeof(chunk))
                n = sizeof(chunk);
            for (size_t i = 0; i < n; i++)
                chunk[i] = (char)('!' + lcg(&seed) % 90);
            ringbuf_write(&rb, chunk, n);
            memcpy(model + model_len, chunk, n);
            model_len += n;

            size_t want_len = model_len < size ? model_len : size;
            assert_int_equal(ringbuf_len(&rb), want_len);
            assert_int_equal(ringbuf_total(&rb), model_len);

            size_t off = lcg(&seed) % (want_len + 2);
            size_t cnt = lcg(&seed) % (size + 2);
            char out[64];
            size_t got = ringbuf_read(&rb, off, out, cnt);
            size_t exp = off >= want_len ? 0
                         : (cnt < want_len - off ? cnt : want_len - off);
            assert_int_equal(got, exp);
            assert_memory_equal(out, model + model_len - want_len + off, got);
        }
        guard_check(&g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_simple_append),
        cmocka_unit_test(test_fill_exactly),
        cmocka_unit_test(test_overwrite_oldest),
        cmocka_unit_test(test_wrap_without_overflow),
        cmocka_unit_test(test_write_larger_than_buffer),
        cmocka_unit_test(test_write_exactly_size_when_wrapped),
        cmocka_unit_test(test_read_offsets),
        cmocka_unit_test(test_size_one),
        cmocka_unit_test(test_size_zero_is_sink),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
