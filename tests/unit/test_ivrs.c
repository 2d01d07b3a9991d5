/* IVRS parsing and hiding (boot/ivrs.c): the IOMMUs of well-formed tables,
 * one per MMIO base; malformed tables refused as a whole; the table
 * removed from an XSDT and an RSDT with a valid checksum after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/amd_iommu.h"
#include "boot/ivrs.h"

static uint8_t t[512];
static size_t tlen;

static void put(size_t off, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        t[off + i] = (uint8_t)(v >> (8 * i));
}

static void table_begin(const char *sig)
{
    memset(t, 0, sizeof t);
    memcpy(t, sig, 4);
    tlen = 36;
}

static void table_end(void)
{
    put(4, tlen, 4);
    t[9] = acpi_checksum_fix(t, tlen);
}

static void ivrs_begin(void)
{
    table_begin("IVRS");
    tlen = IVRS_HEADER_BYTES;
}

static void add_ivhd(uint8_t type, uint16_t devid, uint64_t base, uint16_t seg, uint64_t efr,
                     uint16_t len)
{
    t[tlen] = type;
    put(tlen + 2, len, 2);
    put(tlen + 4, devid, 2);
    put(tlen + 6, 0x40, 2);
    put(tlen + 8, base, 8);
    put(tlen + 16, seg, 2);
    if (type != IVHD_TYPE_10)
        put(tlen + 24, efr, 8);
    tlen += len;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static void test_one_iommu_listed_twice(void **state)
{
    (void)state;
    struct hv_iommu_boot u[HV_MAX_IOMMUS];
    ivrs_begin();
    add_ivhd(IVHD_TYPE_10, 0x0010, 0xFED80000, 0, 0, 24 + 8); /* + a device entry */
    add_ivhd(IVHD_TYPE_11, 0x0010, 0xFED80000, 0, 0x1234, 40);
    t[tlen] = 0x20; /* an IVMD block: skipped */
    put(tlen + 2, 32, 2);
    tlen += 32;
    add_ivhd(IVHD_TYPE_40, 0x0810, 0xFEB80000, 1, 0x5678, 40);
    table_end();
    assert_int_equal(ivrs_parse(t, tlen, u, HV_MAX_IOMMUS), 2);
    assert_int_equal(u[0].base, 0xFED80000);
    assert_int_equal(u[0].device_id, 0x10);
    assert_int_equal(u[0].cap_offset, 0x40);
    assert_int_equal(u[0].efr, 0x1234);
    assert_int_equal(u[1].base, 0xFEB80000);
    assert_int_equal(u[1].segment, 1);
    assert_int_equal(u[1].efr, 0x5678);
}

static void test_malformed_tables_refused(void **state)
{
    (void)state;
    struct hv_iommu_boot u[HV_MAX_IOMMUS];
    ivrs_begin();
    add_ivhd(IVHD_TYPE_10, 0x10, 0xFED80000, 0, 0, 24);
    table_end();
    assert_int_equal(ivrs_parse(t, tlen, u, HV_MAX_IOMMUS), 1);
    assert_int_equal(ivrs_parse(t, tlen - 1, u, HV_MAX_IOMMUS), -1); /* length mismatch */
    put(IVRS_HEADER_BYTES + 2, 200, 2);                               /* block past the end */
    assert_int_equal(ivrs_parse(t, tlen, u, HV_MAX_IOMMUS), -1);
    put(IVRS_HEADER_BYTES + 2, 2, 2);                                 /* block too short */
    assert_int_equal(ivrs_parse(t, tlen, u, HV_MAX_IOMMUS), -1);
    ivrs_begin();
    add_ivhd(IVHD_TYPE_11, 0x10, 0xFED80000, 0, 0, 24); /* 11h needs 40 bytes */
    table_end();
    assert_int_equal(ivrs_parse(t, tlen, u, HV_MAX_IOMMUS), -1);
    ivrs_begin();
    add_ivhd(IVHD_TYPE_10, 0x10, 0, 0, 0, 24); /* no base */
    table_end();
    assert_int_equal(ivrs_parse(t, tlen, u, HV_MAX_IOMMUS), -1);
    ivrs_begin();
    add_ivhd(IVHD_TYPE_10, 0x10, 0xFED80000, 0, 0, 24);
    add_ivhd(IVHD_TYPE_10, 0x18, 0xFED84000, 0, 0, 24);
    table_end();
    assert_int_equal(ivrs_parse(t, tlen, u, 1), -1); /* more than we can own */
    ivrs_begin();
    table_end();
    assert_int_equal(ivrs_parse(t, tlen, u, HV_MAX_IOMMUS), 0);
}

static void test_removed_from_xsdt_and_rsdt(void **state)
{
    (void)state;
    table_begin("XSDT");
    const uint64_t xs[] = { 0x7FF00000, 0x7FF12345, 0x1234567890ULL, 0x7FF12345 };
    for (int i = 0; i < 4; i++)
        put(36 + 8 * i, xs[i], 8);
    tlen = 36 + 32;
    table_end();
    assert_int_equal(acpi_sdt_remove(t, 8, 0x7FF12345), 2);
    assert_int_equal(t[4], 36 + 16);
    assert_int_equal(sum(t, 36 + 16), 0);
    uint64_t e0, e1;
    memcpy(&e0, t + 36, 8);
    memcpy(&e1, t + 44, 8);
    assert_int_equal(e0, 0x7FF00000);
    assert_int_equal(e1, 0x1234567890ULL);
    assert_int_equal(acpi_sdt_remove(t, 8, 0x7FF12345), 0);

    table_begin("RSDT");
    put(36, 0x7FF12345, 4);
    put(40, 0x7FF00000, 4);
    tlen = 44;
    table_end();
    assert_int_equal(acpi_sdt_remove(t, 4, 0x7FF12345), 1);
    assert_int_equal(t[4], 40);
    assert_int_equal(sum(t, 40), 0);
    assert_int_equal(t[36] | t[37] << 8 | t[38] << 16 | (uint32_t)t[39] << 24, 0x7FF00000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_iommu_listed_twice),
        cmocka_unit_test(test_malformed_tables_refused),
        cmocka_unit_test(test_removed_from_xsdt_and_rsdt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
