/* ICR decoding and destinations (arch/x86/apic.c; APM Vol. 2, 16.5-16.6,
 * 16.12): physical and logical (flat, cluster, x2APIC) destinations, the
 * shorthands, broadcast, INIT de-assert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86/apic.h"

#define INIT_ASSERT (ICR_MODE_INIT << 8 | ICR_LEVEL_ASSERT)
#define XAPIC_DEST(id) ((uint64_t)(id) << 56)

static const struct apic_target cpu0 = { 0, 0x01000000, 0xFFFFFFFF };
static const struct apic_target cpu1 = { 1, 0x02000000, 0xFFFFFFFF };
static const struct apic_target cpu2 = { 2, 0x04000000, 0xFFFFFFFF };

static void test_decode_fields(void **state)
{
    (void)state;
    struct icr i = icr_decode(XAPIC_DEST(3) | ICR_MODE_STARTUP << 8 | ICR_LEVEL_ASSERT | 0x9A, false);
    assert_int_equal(i.mode, ICR_MODE_STARTUP);
    assert_int_equal(i.vector, 0x9A);
    assert_int_equal(i.dest, 3);
    assert_int_equal(i.shorthand, ICR_DEST_FIELD);
    assert_false(i.logical);
    i = icr_decode((uint64_t)0x12345678 << 32 | ICR_LOGICAL | 3u << 18, true);
    assert_int_equal(i.dest, 0x12345678);
    assert_int_equal(i.shorthand, ICR_ALL_EXCL_SELF);
    assert_true(i.logical);
}

static void test_init_deassert(void **state)
{
    (void)state;
    struct icr i = icr_decode(ICR_MODE_INIT << 8 | ICR_TRIGGER_LEVEL, false);
    assert_true(icr_is_init_deassert(&i));
    i = icr_decode(INIT_ASSERT | ICR_TRIGGER_LEVEL, false);
    assert_false(icr_is_init_deassert(&i));
    i = icr_decode(INIT_ASSERT, false);
    assert_false(icr_is_init_deassert(&i));
}

static void test_physical_destination(void **state)
{
    (void)state;
    struct icr i = icr_decode(XAPIC_DEST(1) | INIT_ASSERT, false);
    assert_false(icr_targets(&i, 0, &cpu0));
    assert_true(icr_targets(&i, 0, &cpu1));
    i = icr_decode(XAPIC_DEST(0xFF) | INIT_ASSERT, false); /* broadcast */
    assert_true(icr_targets(&i, 0, &cpu0) && icr_targets(&i, 0, &cpu2));
    i = icr_decode((uint64_t)0x100 << 32 | INIT_ASSERT, true); /* x2APIC ID 256 */
    struct apic_target big = { 0x100, 0, 0 };
    assert_true(icr_targets(&i, 0, &big));
    assert_false(icr_targets(&i, 0, &cpu0));
}

static void test_shorthands(void **state)
{
    (void)state;
    struct icr self = icr_decode(1u << 18 | INIT_ASSERT, false);
    struct icr all = icr_decode(2u << 18 | INIT_ASSERT, false);
    struct icr others = icr_decode(3u << 18 | INIT_ASSERT | XAPIC_DEST(2), false);
    assert_true(icr_targets(&self, 1, &cpu1));
    assert_false(icr_targets(&self, 1, &cpu2));
    assert_true(icr_targets(&all, 1, &cpu1) && icr_targets(&all, 1, &cpu0));
    assert_false(icr_targets(&others, 1, &cpu1));
    assert_true(icr_targets(&others, 1, &cpu0) && icr_targets(&others, 1, &cpu2));
}

static void test_xapic_logical_flat_and_cluster(void **state)
{
    (void)state;
    struct icr i = icr_decode(XAPIC_DEST(0x06) | ICR_LOGICAL | INIT_ASSERT, false);
    assert_false(icr_targets(&i, 9, &cpu0));
    assert_true(icr_targets(&i, 9, &cpu1) && icr_targets(&i, 9, &cpu2));
    /* Cluster model: DEST[7:4] the cluster, [3:0] the members. */
    struct apic_target c1m1 = { 5, 0x12000000, 0x0FFFFFFF }, c2m1 = { 6, 0x22000000, 0x0FFFFFFF };
    i = icr_decode(XAPIC_DEST(0x13) | ICR_LOGICAL | INIT_ASSERT, false);
    assert_true(icr_targets(&i, 9, &c1m1));
    assert_false(icr_targets(&i, 9, &c2m1));
}

static void test_x2apic_logical(void **state)
{
    (void)state;
    assert_int_equal(x2apic_ldr(0x21), 0x00020002);
    struct apic_target t = { 0x21, 0, 0 };
    struct icr i = icr_decode((uint64_t)0x00020002 << 32 | ICR_LOGICAL | INIT_ASSERT, true);
    assert_true(icr_targets(&i, 0, &t));
    i = icr_decode((uint64_t)0x00010002 << 32 | ICR_LOGICAL | INIT_ASSERT, true);
    assert_false(icr_targets(&i, 0, &t)); /* other cluster */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_fields),
        cmocka_unit_test(test_init_deassert),
        cmocka_unit_test(test_physical_destination),
        cmocka_unit_test(test_shorthands),
        cmocka_unit_test(test_xapic_logical_flat_and_cluster),
        cmocka_unit_test(test_x2apic_logical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
