/* Unit tests for arch/x86/svm_bitmaps.c (APM Vol. 2 15.10, 15.11). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/svm_bitmaps.h"
#include "tests/unit/xorshift.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    return xorshift64s(&rng_state);
}

/*
 * Reference MSRPM model, written differently from the code under test: the
 * map is one long bit string of four 16 Kbit vectors (APM 15.11); MSR n of
 * vector v is at bit v * 16384 + 2 n.  Returns -1 if uncovered.
 */
static long ref_msr_bitpos(uint32_t msr)
{
    if (msr <= 0x1FFFu)
        return 2L * msr;
    if (msr >= 0xC0000000u && msr <= 0xC0001FFFu)
        return 16384L + 2L * (msr - 0xC0000000u);
    if (msr >= 0xC0010000u && msr <= 0xC0011FFFu)
        return 2L * 16384L + 2L * (msr - 0xC0010000u);
    return -1;
}

/* Maps allocated with the exact size so ASan flags any overrun. */
static uint8_t *new_map(size_t size, uint8_t fill)
{
    uint8_t *m = malloc(size);
    assert_non_null(m);
    memset(m, fill, size);
    return m;
}

static void expect_locate(uint32_t msr, uint32_t byte, unsigned bit)
{
    uint32_t b = 0xdeadbeef;
    unsigned r = 99;

    assert_true(msrpm_locate(msr, &b, &r));
    assert_int_equal(b, byte);
    assert_int_equal(r, bit);
    /* Cross-check against the bit-string formula. */
    assert_int_equal((long)b * 8 + r, ref_msr_bitpos(msr));
}

static void expect_uncovered(uint32_t msr)
{
    uint32_t b = 0x1234;
    unsigned r = 7;

    assert_false(msrpm_locate(msr, &b, &r));
    /* Outputs untouched on failure. */
    assert_int_equal(b, 0x1234);
    assert_int_equal(r, 7);
}

static void test_msrpm_range_boundaries(void **state)
{
    (void)state;
    expect_locate(0x00000000u, 0x000, 0);
    expect_locate(0x00000001u, 0x000, 2);
    expect_locate(0x00000003u, 0x000, 6);
    expect_locate(0x00000004u, 0x001, 0);
    expect_locate(0x00001FFFu, 0x7FF, 6);
    expect_uncovered(0x00002000u);
    expect_uncovered(0x3FFFFFFFu);
    expect_uncovered(0xBFFFFFFFu);
    expect_locate(0xC0000000u, 0x800, 0);
    expect_locate(0xC0001FFFu, 0xFFF, 6);
    expect_uncovered(0xC0002000u);
    expect_uncovered(0xC000FFFFu);
    expect_locate(0xC0010000u, 0x1000, 0);
    expect_locate(0xC0011FFFu, 0x17FF, 6);
    expect_uncovered(0xC0011FFFu + 1);
    expect_uncovered(0xC0020000u);
    expect_uncovered(0xFFFFFFFFu);
    /* NULL outputs are allowed. */
    assert_true(msrpm_locate(0xC0000080u, NULL, NULL));
    assert_false(msrpm_locate(0x2000u, NULL, NULL));
}

static void test_msrpm_known_msrs(void **state)
{
    (void)state;
    /* EFER C000_0080h: 80h * 2 bits = 100h bits = byte 20h -> 820h, bit 0. */
    expect_locate(0xC0000080u, 0x820, 0);
    /* VM_HSAVE_PA C001_0117h: 117h * 2 = 22Eh bits = byte 45h bit 6
     * -> 1045h bit 6 (read) / 7 (write). */
    expect_locate(0xC0010117u, 0x1045, 6);
    /* VM_CR C001_0114h: 228h bits = byte 45h bit 0. */
    expect_locate(0xC0010114u, 0x1045, 0);
    /* TSC 10h: 20h bits = byte 4 bit 0. */
    expect_locate(0x10u, 0x004, 0);
    /* APIC_BASE 1Bh: 36h bits = byte 6 bit 6. */
    expect_locate(0x1Bu, 0x006, 6);
    /* LSTAR C000_0082h: 104h bits = byte 20h bit 4 -> 820h bit 4. */
    expect_locate(0xC0000082u, 0x820, 4);
    /* TSC_AUX C000_0103h: 206h bits = byte 40h bit 6 -> 840h bit 6. */
    expect_locate(0xC0000103u, 0x840, 6);
}

static void test_msrpm_set_and_neighbours(void **state)
{
    (void)state;
    uint8_t *m = new_map(MSRPM_SIZE, 0);
    const uint32_t efer = 0xC0000080u;

    msrpm_set(m, efer, false, true);
    assert_int_equal(m[0x820], 0x02);
    assert_false(msrpm_intercepts(m, efer, false));
    assert_true(msrpm_intercepts(m, efer, true));
    assert_false(msrpm_intercepts(m, efer - 1, false));
    assert_false(msrpm_intercepts(m, efer - 1, true));
    assert_false(msrpm_intercepts(m, efer + 1, false));
    assert_false(msrpm_intercepts(m, efer + 1, true));

    msrpm_set(m, efer, true, false);
    assert_int_equal(m[0x820], 0x01);
    msrpm_set(m, efer, true, true);
    assert_int_equal(m[0x820], 0x03);

    /* Clearing one MSR inside an all-ones map leaves its neighbours set. */
    memset(m, 0xFF, MSRPM_SIZE);
    msrpm_set(m, 0xC0010117u, false, false);
    assert_int_equal(m[0x1045], 0x3F);
    assert_true(msrpm_intercepts(m, 0xC0010116u, false));
    assert_true(msrpm_intercepts(m, 0xC0010116u, true));
    assert_true(msrpm_intercepts(m, 0xC0010118u, false));
    assert_false(msrpm_intercepts(m, 0xC0010117u, false));
    assert_false(msrpm_intercepts(m, 0xC0010117u, true));
    for (uint32_t i = 0; i < MSRPM_SIZE; i++)
        if (i != 0x1045)
            assert_int_equal(m[i], 0xFF);
    free(m);
}

static void test_msrpm_uncovered(void **state)
{
    (void)state;
    uint8_t *m = new_map(MSRPM_SIZE, 0);
    static const uint32_t out[] = { 0x2000u, 0x40000000u, 0xC0002000u,
                                    0xC0012000u, 0xFFFFFFFFu, 0xBFFFFFFFu };

    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        msrpm_set(m, out[i], true, true); /* no-op */
        assert_true(msrpm_intercepts(m, out[i], false));
        assert_true(msrpm_intercepts(m, out[i], true));
        msrpm_set(m, out[i], false, false); /* still no-op */
        assert_true(msrpm_intercepts(m, out[i], false));
    }
    for (uint32_t i = 0; i < MSRPM_SIZE; i++)
        assert_int_equal(m[i], 0);
    free(m);
}

/* Every covered MSR maps to a distinct bit pair inside the first 6 KiB. */
static void test_msrpm_exhaustive_ranges(void **state)
{
    (void)state;
    static uint8_t seen[MSRPM_SIZE];
    static const uint32_t first[] = { 0, 0xC0000000u, 0xC0010000u };

    memset(seen, 0, sizeof(seen));
    for (size_t r = 0; r < 3; r++) {
        for (uint32_t n = 0; n < 0x2000u; n++) {
            uint32_t byte;
            unsigned bit;
            assert_true(msrpm_locate(first[r] + n, &byte, &bit));
            assert_true(byte < 0x1800u);
            assert_true(bit % 2 == 0 && bit <= 6);
            assert_int_equal((seen[byte] >> bit) & 3u, 0);
            seen[byte] = (uint8_t)(seen[byte] | (3u << bit));
        }
        /* One past each range is uncovered. */
        assert_false(msrpm_locate(first[r] + 0x2000u, NULL, NULL));
        if (first[r])
            assert_false(msrpm_locate(first[r] - 1, NULL, NULL));
    }
    for (uint32_t i = 0; i < 0x1800u; i++)
        assert_int_equal(seen[i], 0xFF);
    for (uint32_t i = 0x1800u; i < MSRPM_SIZE; i++)
        assert_int_equal(seen[i], 0);
}

/* Random MSRs near the interesting areas, plus fully random ones. */
static uint32_t random_msr(void)
{
    static const uint32_t bases[] = { 0, 0xC0000000u, 0xC0010000u };
    uint64_t r = rnd();

    switch (r % 4) {
    case 0:
        return (uint32_t)(r >> 32);
    default: {
        uint32_t base = bases[(r >> 8) % 3];
        /* Within [base - 16, base + 0x2010). */
        return base + (uint32_t)((r >> 16) % 0x2020u) - 16u;
    }
    }
}

static void test_msrpm_random_vs_reference(void **state)
{
    (void)state;
    uint8_t *m = new_map(MSRPM_SIZE, 0);
    static uint8_t ref[MSRPM_SIZE];

    memset(ref, 0, sizeof(ref));
    for (int iter = 0; iter < 200000; iter++) {
        uint32_t msr = random_msr();
        uint64_t r = rnd();
        bool rd = r & 1, wr = (r >> 1) & 1;
        long pos = ref_msr_bitpos(msr);

        msrpm_set(m, msr, rd, wr);
        if (pos >= 0) {
            uint8_t mask = (uint8_t)(3u << (pos % 8));
            uint8_t val = (uint8_t)(((rd ? 1u : 0u) | (wr ? 2u : 0u))
                                    << (pos % 8));
            ref[pos / 8] = (uint8_t)((ref[pos / 8] & ~mask) | val);
        }
        /* Probe a random MSR against the reference. */
        uint32_t q = random_msr();
        long qp = ref_msr_bitpos(q);
        bool qw = rnd() & 1;
        bool want = qp < 0 ? true : ((ref[(qp + qw) / 8] >> ((qp + qw) % 8)) & 1);
        assert_int_equal(msrpm_intercepts(m, q, qw), want);
    }
    assert_memory_equal(m, ref, MSRPM_SIZE);
    /* The reserved fourth vector was never written. */
    for (uint32_t i = 0x1800u; i < MSRPM_SIZE; i++)
        assert_int_equal(m[i], 0);
    free(m);
}

/* ---------------------------------------------------------------- IOPM */

static void test_iopm_single_ports(void **state)
{
    (void)state;
    uint8_t *m = new_map(IOPM_SIZE, 0);

    iopm_set(m, 0x3F8, 1, true);
    assert_int_equal(m[0x3F8 / 8], 1u << (0x3F8 % 8));
    assert_true(iopm_intercepts(m, 0x3F8, 1));
    assert_false(iopm_intercepts(m, 0x3F7, 1));
    assert_false(iopm_intercepts(m, 0x3F9, 1));
    /* A wider access that covers the port exits too (APM 15.10.2). */
    assert_true(iopm_intercepts(m, 0x3F7, 2));
    assert_true(iopm_intercepts(m, 0x3F5, 4));
    assert_false(iopm_intercepts(m, 0x3F4, 4));
    assert_false(iopm_intercepts(m, 0x3F9, 4));
    iopm_set(m, 0x3F8, 1, false);
    for (uint32_t i = 0; i < IOPM_SIZE; i++)
        assert_int_equal(m[i], 0);

    iopm_set(m, 0, 1, true);
    assert_int_equal(m[0], 1);
    iopm_set(m, 0xFFFF, 1, true);
    assert_int_equal(m[0x1FFF], 0x80);
    assert_int_equal(m[0x2000], 0);
    free(m);
}

static void test_iopm_multibyte(void **state)
{
    (void)state;
    uint8_t *m = new_map(IOPM_SIZE, 0);

    /* 4-byte access at CF8h (PCI config address) spans CF8h..CFBh. */
    iopm_set(m, 0xCF8, 4, true);
    assert_int_equal(m[0xCF8 / 8], 0x0F);
    for (unsigned p = 0xCF8; p < 0xCFC; p++)
        assert_true(iopm_intercepts(m, (uint16_t)p, 1));
    assert_false(iopm_intercepts(m, 0xCFC, 1));
    assert_false(iopm_intercepts(m, 0xCF7, 1));
    /* Crossing a byte boundary: 2 bytes at port 7 -> bits 7 and 8. */
    iopm_set(m, 7, 2, true);
    assert_int_equal(m[0], 0x80);
    assert_int_equal(m[1], 0x01);
    /* Clearing part of a range leaves the rest. */
    iopm_set(m, 0xCF9, 2, false);
    assert_int_equal(m[0xCF8 / 8], 0x09);
    free(m);
}

static void test_iopm_wrap_extra_bits(void **state)
{
    (void)state;
    uint8_t *m = new_map(IOPM_SIZE, 0);

    /* Port FFFFh, 4 bytes: bits FFFFh, 10000h, 10001h, 10002h. */
    iopm_set(m, 0xFFFF, 4, true);
    assert_int_equal(m[0x1FFF], 0x80);
    assert_int_equal(m[0x2000], 0x07);
    /* Port 0 was not touched: no wrap to the bottom of the map. */
    assert_int_equal(m[0], 0);
    assert_false(iopm_intercepts(m, 0, 4));
    assert_true(iopm_intercepts(m, 0xFFFF, 1));

    /* Only the extra bits set: single-byte FFFFh passes, wider exits. */
    iopm_set(m, 0xFFFF, 1, false);
    assert_false(iopm_intercepts(m, 0xFFFF, 1));
    assert_true(iopm_intercepts(m, 0xFFFF, 2));
    assert_true(iopm_intercepts(m, 0xFFFF, 4));
    assert_true(iopm_intercepts(m, 0xFFFE, 4));
    assert_false(iopm_intercepts(m, 0xFFFE, 2));
    assert_false(iopm_intercepts(m, 0xFFFC, 4));

    /* FFFEh size 4: FFFEh, FFFFh, 10000h, 10001h; bit 10002h untouched. */
    memset(m, 0, IOPM_SIZE);
    iopm_set(m, 0xFFFE, 4, true);
    assert_int_equal(m[0x1FFF], 0xC0);
    assert_int_equal(m[0x2000], 0x03);
    for (uint32_t i = 0x2001; i < IOPM_SIZE; i++)
        assert_int_equal(m[i], 0);
    free(m);
}

static void test_iopm_bad_size(void **state)
{
    (void)state;
    uint8_t *m = new_map(IOPM_SIZE, 0);
    static const unsigned bad[] = { 0, 3, 5, 8, 0xFFFFFFFFu };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        iopm_set(m, 0x80, bad[i], true);
        assert_true(iopm_intercepts(m, 0x80, bad[i]));
    }
    for (uint32_t i = 0; i < IOPM_SIZE; i++)
        assert_int_equal(m[i], 0);
    free(m);
}

static uint16_t random_port(void)
{
    uint64_t r = rnd();
    switch (r % 4) {
    case 0:
        return (uint16_t)(0xFFF0u + (r >> 8) % 16); /* near the top */
    case 1:
        return (uint16_t)((r >> 8) % 64);           /* near the bottom */
    default:
        return (uint16_t)(r >> 16);
    }
}

static void test_iopm_random_vs_reference(void **state)
{
    (void)state;
    uint8_t *m = new_map(IOPM_SIZE, 0);
    static bool ref[IOPM_BITS];
    static const unsigned sizes[] = { 1, 2, 4 };

    memset(ref, 0, sizeof(ref));
    for (int iter = 0; iter < 200000; iter++) {
        uint16_t port = random_port();
        unsigned size = sizes[rnd() % 3];
        bool v = rnd() % 3 != 0;

        iopm_set(m, port, size, v);
        for (unsigned i = 0; i < size; i++)
            ref[(uint32_t)port + i] = v;

        uint16_t q = random_port();
        unsigned qs = sizes[rnd() % 3];
        bool want = false;
        for (unsigned i = 0; i < qs; i++)
            want |= ref[(uint32_t)q + i];
        assert_int_equal(iopm_intercepts(m, q, qs), want);
    }
    /* Full bit-for-bit comparison, then nothing beyond bit 10002h. */
    for (uint32_t b = 0; b < IOPM_BITS; b++)
        assert_int_equal((m[b / 8] >> (b % 8)) & 1, ref[b]);
    assert_int_equal(m[0x2000] & 0xF8, 0);
    for (uint32_t i = 0x2001; i < IOPM_SIZE; i++)
        assert_int_equal(m[i], 0);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msrpm_range_boundaries),
        cmocka_unit_test(test_msrpm_known_msrs),
        cmocka_unit_test(test_msrpm_set_and_neighbours),
        cmocka_unit_test(test_msrpm_uncovered),
        cmocka_unit_test(test_msrpm_exhaustive_ranges),
        cmocka_unit_test(test_msrpm_random_vs_reference),
        cmocka_unit_test(test_iopm_single_ports),
        cmocka_unit_test(test_iopm_multibyte),
        cmocka_unit_test(test_iopm_wrap_extra_bits),
        cmocka_unit_test(test_iopm_bad_size),
        cmocka_unit_test(test_iopm_random_vs_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
