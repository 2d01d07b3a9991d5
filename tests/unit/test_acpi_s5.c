/* Tests for boot/acpi_s5.c: SLP_TYPa of \_S5 from DSDT bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "boot/acpi_s5.h"

/* QEMU's q35/PIIX DSDT: Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero }) */
static void test_qemu_zero(void **state)
{
    (void)state;
    static const uint8_t aml[] = { 0x10, 0x08, 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04,
                                   0x00, 0x00, 0x00, 0x00 };
    assert_int_equal(acpi_s5_slp_typ(aml, sizeof aml), 0);
}

/* Typical AMD board: Name (\_S5, Package () { 0x05, 0x05, 0, 0 }), BytePrefix. */
static void test_root_prefixed_byte(void **state)
{
    (void)state;
    static const uint8_t aml[] = { 0xA0, 0x08, 0x5C, '_', 'S', '5', '_', 0x12, 0x0A, 0x04,
                                   0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00 };
    assert_int_equal(acpi_s5_slp_typ(aml, sizeof aml), 5);
}

/* A two-byte PkgLength (lead byte 0x4n) and OneOp; the _S4_ before is no match. */
static void test_long_pkglength_and_one(void **state)
{
    (void)state;
    static const uint8_t aml[] = { 0x08, '_', 'S', '4', '_', 0x12, 0x06, 0x04, 0x0A, 0x06,
                                   0x08, '_', 'S', '5', '_', 0x12, 0x40, 0x01, 0x04,
                                   0x01, 0x01, 0x00, 0x00 };
    assert_int_equal(acpi_s5_slp_typ(aml, sizeof aml), 1);
}

/* A reference to _S5 (no NameOp) is skipped; a method named _S5 (MethodOp
 * 14) is not read; a truncated package and a value past 7 are refused. */
static void test_refusals(void **state)
{
    (void)state;
    static const uint8_t ref_then_def[] = { 0x70, '_', 'S', '5', '_', 0x60,
                                            0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02,
                                            0x0A, 0x07, 0x00 };
    assert_int_equal(acpi_s5_slp_typ(ref_then_def, sizeof ref_then_def), 7);
    static const uint8_t method[] = { 0x14, 0x08, '_', 'S', '5', '_', 0x00, 0xA4, 0x00 };
    assert_int_equal(acpi_s5_slp_typ(method, sizeof method), -1);
    static const uint8_t truncated[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x0A };
    assert_int_equal(acpi_s5_slp_typ(truncated, sizeof truncated), -1);
    static const uint8_t too_big[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x0A, 0x08 };
    assert_int_equal(acpi_s5_slp_typ(too_big, sizeof too_big), -1);
    static const uint8_t word[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x02, 0x0B, 0x03, 0x00 };
    assert_int_equal(acpi_s5_slp_typ(word, sizeof word), 3);
    assert_int_equal(acpi_s5_slp_typ(word, 4), -1);
    assert_int_equal(acpi_s5_slp_typ(word, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qemu_zero),
        cmocka_unit_test(test_root_prefixed_byte),
        cmocka_unit_test(test_long_pkglength_and_one),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
