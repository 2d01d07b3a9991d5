/* TSC-offset arithmetic for L2 (hv/nested_tsc.h): L2 must read exactly
 * what L1 asked for, L1's TSC plus VMCB12's offset, with two's-complement
 * (negative) offsets and wrap-around modulo 2^64 as the CPU adds them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hv/nested_tsc.h"
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
    assert_int_equal(nested_tsc_offset(1000, 234), 1234);
    assert_int_equal(guest_tsc(5000000, nested_tsc_offset(1000, 234)), 5001234);
}

static void test_negative_offsets(void **state)
{
    (void)state;
    /* L1 behind the host by 1000, L2 ahead of L1 by 300: L2 700 behind. */
    assert_int_equal(nested_tsc_offset((uint64_t)-1000, 300), (uint64_t)-700);
    assert_int_equal(guest_tsc(10000, nested_tsc_offset((uint64_t)-1000, 300)), 9300);
    /* Both behind. */
    assert_int_equal(nested_tsc_offset((uint64_t)-1000, (uint64_t)-24), (uint64_t)-1024);
}

static void test_wraps_modulo_2_64(void **state)
{
    (void)state;
    assert_int_equal(nested_tsc_offset(0xFFFFFFFFFFFFFFF0ULL, 0x20), 0x10);
    /* A guest whose TSC was set back to 0 near the host's wrap. */
    uint64_t host = 0xFFFFFFFFFFFFFF00ULL;
    assert_int_equal(guest_tsc(host, nested_tsc_offset(0, 0 - host)), 0);
    assert_int_equal(guest_tsc(host + 0x200, nested_tsc_offset(0, 0 - host)), 0x200);
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
        assert_int_equal(guest_tsc(host, nested_tsc_offset(o01, o12)), l2_reads(host, o01, o12));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positive_offsets_add),
        cmocka_unit_test(test_negative_offsets),
        cmocka_unit_test(test_wraps_modulo_2_64),
        cmocka_unit_test(test_one_offset_equals_two_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
