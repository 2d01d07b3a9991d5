/* Exit routing for L2 (hv/nested/nested_route.h): reflect to L1 exactly the exits
 * its VMCB12 intercepts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "arch/x86/svm.h"
#include "hv/nested/nested_route.h"

static struct vmcb_control c12;

static int setup(void **state)
{
    (void)state;
    memset(&c12, 0, sizeof c12);
    return 0;
}

static void test_nothing_intercepted(void **state)
{
    (void)state;
    for (uint64_t code = 0; code < 0x500; code++)
        assert_false(nested_l1_intercepts(&c12, code, true));
    assert_false(nested_l1_intercepts(&c12, VMEXIT_INVALID, true));
}

/* Each intercept bit routes exactly its own exit code, nothing else. */
static void check_single_bit(uint32_t *word, unsigned nbits, uint64_t first_code)
{
    for (unsigned b = 0; b < nbits; b++) {
        *word = 1u << b;
        for (uint64_t code = 0; code < 0xC0; code++) {
            bool expect = code == first_code + b &&
                          !nested_exit_uses_map(code); /* those need the map */
            assert_int_equal(nested_l1_intercepts(&c12, code, false), expect);
        }
        *word = 0;
    }
}

static void test_each_vector_bit(void **state)
{
    (void)state;
    check_single_bit(&c12.intercept_cr, 32, 0x00);
    check_single_bit(&c12.intercept_dr, 32, 0x20);
    check_single_bit(&c12.intercept_exceptions, 32, 0x40);
    check_single_bit(&c12.intercept_misc1, 32, 0x60);
    check_single_bit(&c12.intercept_misc2, 32, 0x80);
    check_single_bit(&c12.intercept_misc3, 32, 0xA0);
}

static void test_cpuid_hlt_vmmcall(void **state)
{
    (void)state;
    c12.intercept_misc1 = VMCB_INTERCEPT1_CPUID | VMCB_INTERCEPT1_HLT;
    c12.intercept_misc2 = VMCB_INTERCEPT2_VMMCALL;
    assert_true(nested_l1_intercepts(&c12, VMEXIT_CPUID, false));
    assert_true(nested_l1_intercepts(&c12, VMEXIT_HLT, false));
    assert_true(nested_l1_intercepts(&c12, VMEXIT_VMMCALL, false));
    assert_false(nested_l1_intercepts(&c12, VMEXIT_VMLOAD, false));
    assert_false(nested_l1_intercepts(&c12, VMEXIT_NPF, true));
}

/* MSR and I/O exits: L1 wants them only with MSR_PROT/IOIO_PROT set and
 * its own map bit set for the access. */
static void test_msr_and_io_need_prot_and_map(void **state)
{
    (void)state;
    assert_false(nested_l1_intercepts(&c12, VMEXIT_MSR, true));
    assert_false(nested_l1_intercepts(&c12, VMEXIT_IOIO, true));
    c12.intercept_misc1 = VMCB_INTERCEPT1_MSR_PROT;
    assert_true(nested_l1_intercepts(&c12, VMEXIT_MSR, true));
    assert_false(nested_l1_intercepts(&c12, VMEXIT_MSR, false));
    assert_false(nested_l1_intercepts(&c12, VMEXIT_IOIO, true));
    c12.intercept_misc1 = VMCB_INTERCEPT1_IOIO_PROT;
    assert_true(nested_l1_intercepts(&c12, VMEXIT_IOIO, true));
    assert_false(nested_l1_intercepts(&c12, VMEXIT_IOIO, false));
    assert_false(nested_l1_intercepts(&c12, VMEXIT_MSR, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_nothing_intercepted, setup),
        cmocka_unit_test_setup(test_each_vector_bit, setup),
        cmocka_unit_test_setup(test_cpuid_hlt_vmmcall, setup),
        cmocka_unit_test_setup(test_msr_and_io_need_prot_and_map, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
