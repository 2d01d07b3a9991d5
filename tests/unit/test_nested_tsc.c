/* TSC-offset arithmetic for L2 (hv/nested/nested_tsc.h): L2 must read exactly
 * what L1 asked for, L1's TSC plus VMCB12's offset, with two's-complement
 * (negative) offsets and wrap-around modulo 2^64 as the CPU adds them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hv/nested/nested_tsc.h"
#include "tests/unit/xorshift.h"

/* What a guest with this offset reads when the host's TSC is host_tsc
 * (the CPU's addition, modulo 2^64). */
static uint64_t guest_tsc(uint64_t host_tsc, uint64_t offset)
{
    return host_tsc + offset;
}

/* What L2 reads, computed the long way: host -> L1 -> L2. */
static uint64_t l2_reads(uint64_t host, uint64_t offset01, uint64_t offset12)
{
    uint64_t l1_tsc = guest_tsc(host, offset01);
    return guest_tsc(l1_tsc, offset12);
}

static void test_positive_offsets_add(void **state)
{
    (void)state;
    assert_int_equal(nested_tsc_offset(1000, 234, TSC_RATIO_ONE), 1234);
    assert_int_equal(guest_tsc(5000000, nested_tsc_offset(1000, 234, TSC_RATIO_ONE)), 5001234);
}

/* What L0 computes when it performs L2's RDTSC/RDTSCP itself. */
static void test_guest_read_scales_then_adds(void **state)
{
    (void)state;
    assert_int_equal(nested_tsc_guest(5000000, TSC_RATIO_ONE, (uint64_t)-700), 4999300);
    assert_int_equal(nested_tsc_guest(1001, TSC_RATIO_ONE / 2, 10), 510); /* 500.5 -> 500 */
    assert_int_equal(nested_tsc_guest(~0ULL, TSC_RATIO_ONE, 2), 1);       /* wraps */
    assert_int_equal(nested_tsc_guest(1ULL << 62, 4 * TSC_RATIO_ONE, 0), 0); /* 2^64 wraps */
}

static void test_negative_offsets(void **state)
{
    (void)state;
    /* L1 behind the host by 1000, L2 ahead of L1 by 300: L2 700 behind. */
    assert_int_equal(nested_tsc_offset((uint64_t)-1000, 300, TSC_RATIO_ONE), (uint64_t)-700);
    assert_int_equal(guest_tsc(10000, nested_tsc_offset((uint64_t)-1000, 300, TSC_RATIO_ONE)), 9300);
    /* Both behind. */
    assert_int_equal(nested_tsc_offset((uint64_t)-1000, (uint64_t)-24, TSC_RATIO_ONE), (uint64_t)-1024);
}

static void test_wraps_modulo_2_64(void **state)
{
    (void)state;
    assert_int_equal(nested_tsc_offset(0xFFFFFFFFFFFFFFF0ULL, 0x20, TSC_RATIO_ONE), 0x10);
    /* A guest whose TSC was set back to 0 near the host's wrap. */
    uint64_t host = 0xFFFFFFFFFFFFFF00ULL;
    assert_int_equal(guest_tsc(host, nested_tsc_offset(0, 0 - host, TSC_RATIO_ONE)), 0);
    assert_int_equal(guest_tsc(host + 0x200, nested_tsc_offset(0, 0 - host, TSC_RATIO_ONE)), 0x200);
}

/* The one offset in VMCB02 gives L2 the same reading as the two steps,
 * for any host TSC and offsets (pseudo-random, fixed seed). */
static void test_one_offset_equals_two_steps(void **state)
{
    (void)state;
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 100000; i++) {
        uint64_t x = xorshift64s(&rng);
        uint64_t host = x, o01 = x * 3 + 1, o12 = ~x >> (i & 63);
        assert_int_equal(guest_tsc(host, nested_tsc_offset(o01, o12, TSC_RATIO_ONE)), l2_reads(host, o01, o12));
    }
}

/* With L1's TSC ratio (8.32 fixed point): the CPU scales the host's TSC
 * and adds VMCB02's offset; L2 must read ratio12 x (L1's TSC) + offset12. */
static uint64_t scaled(uint64_t tsc, uint64_t ratio)
{
    return (uint64_t)(((unsigned __int128)tsc * ratio) >> 32);
}

static void test_ratio_scales_l1s_offset(void **state)
{
    (void)state;
    const uint64_t two = 2 * TSC_RATIO_ONE, half = TSC_RATIO_ONE / 2;
    /* L1 1000 ahead of the host; L2 at twice L1's rate, 5 ahead. */
    assert_int_equal(nested_tsc_offset(1000, 5, two), 2005);
    assert_int_equal(scaled(10000, two) + nested_tsc_offset(1000, 5, two),
                     2 * (10000 + 1000) + 5);
    /* L1 behind the host: the scaled offset stays negative. */
    assert_int_equal(nested_tsc_offset((uint64_t)-1000, 0, two), (uint64_t)-2000);
    assert_int_equal(nested_tsc_offset((uint64_t)-1000, 0, half), (uint64_t)-500);
    /* 1.0 is the plain sum (what L2 gets without the MSR). */
    assert_int_equal(nested_tsc_offset((uint64_t)-1000, 300, TSC_RATIO_ONE), (uint64_t)-700);
}

/* Any ratio: the one step differs from the two (scale L1's TSC, add) by
 * the rounding of the fractions only: at most one tick. */
static void test_ratio_one_step_equals_two_steps(void **state)
{
    (void)state;
    uint64_t rng = 0x243F6A8885A308D3ULL;
    for (int i = 0; i < 100000; i++) {
        uint64_t host = xorshift64s(&rng) >> 8;                         /* < 2^56 */
        int64_t o01 = (int64_t)(xorshift64s(&rng) >> 12) - (1LL << 51);  /* |o01| < host's range */
        uint64_t o12 = xorshift64s(&rng);
        uint64_t r12 = xorshift64s(&rng) & ((1ULL << 36) - 1);           /* 0 .. 16.0 */
        if ((int64_t)host + o01 < 0)
            continue;                                                   /* L1's TSC below 0 */
        uint64_t two_steps = scaled(host + (uint64_t)o01, r12) + o12;
        uint64_t one_step = scaled(host, r12) + nested_tsc_offset((uint64_t)o01, o12, r12);
        uint64_t diff = one_step - two_steps;
        assert_true(diff == 0 || diff == 1 || diff == (uint64_t)-1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positive_offsets_add),
        cmocka_unit_test(test_negative_offsets),
        cmocka_unit_test(test_guest_read_scales_then_adds),
        cmocka_unit_test(test_wraps_modulo_2_64),
        cmocka_unit_test(test_one_offset_equals_two_steps),
        cmocka_unit_test(test_ratio_scales_l1s_offset),
        cmocka_unit_test(test_ratio_one_step_equals_two_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
