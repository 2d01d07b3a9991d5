/* hv/decode/rdtscp_decode.c: RDTSC and RDTSCP as binutils encodes them (objdump's
 * bytes; Xen's log of the PVH domU showed "0f 01 f9 66 90", RDTSCP followed
 * by a 2-byte NOP), with the prefixes that change nothing, and what is not
 * one of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/decode/rdtscp_decode.h"

static void expect(const uint8_t *b, unsigned n, bool lm, unsigned len, bool rdtscp)
{
    struct rdtscp_insn d;
    assert_true(rdtscp_decode(b, n, lm, &d));
    assert_int_equal(d.len, len);
    assert_int_equal(d.rdtscp, rdtscp);
}

static void test_plain(void **state)
{
    (void)state;
    expect((const uint8_t[]){0x0f, 0x01, 0xf9, 0x66, 0x90}, 5, true, 3, true); /* from Xen's log */
    expect((const uint8_t[]){0x0f, 0x01, 0xf9}, 3, false, 3, true);
    expect((const uint8_t[]){0x0f, 0x31}, 2, true, 2, false);
    expect((const uint8_t[]){0x0f, 0x31, 0x0f, 0x01, 0xf9}, 5, false, 2, false);
}

static void test_prefixes(void **state)
{
    (void)state;
    expect((const uint8_t[]){0x66, 0x0f, 0x01, 0xf9}, 4, true, 4, true);
    expect((const uint8_t[]){0x48, 0x0f, 0x01, 0xf9}, 4, true, 4, true); /* rex.W rdtscp */
    expect((const uint8_t[]){0x2e, 0x67, 0xf3, 0x41, 0x0f, 0x31}, 6, true, 6, false);
    /* A REX is no prefix outside 64-bit code (it is INC/DEC there). */
    struct rdtscp_insn d;
    assert_false(rdtscp_decode((const uint8_t[]){0x48, 0x0f, 0x01, 0xf9}, 4, false, &d));
    /* ...and counts only right before the opcode. */
    assert_false(rdtscp_decode((const uint8_t[]){0x48, 0x66, 0x0f, 0x01, 0xf9}, 5, true, &d));
}

static void test_not_these(void **state)
{
    (void)state;
    struct rdtscp_insn d;
    assert_false(rdtscp_decode((const uint8_t[]){0xf0, 0x0f, 0x01, 0xf9}, 4, true, &d)); /* LOCK: #UD */
    assert_false(rdtscp_decode((const uint8_t[]){0x0f, 0x01, 0xf8}, 3, true, &d));       /* swapgs */
    assert_false(rdtscp_decode((const uint8_t[]){0x0f, 0x01, 0xd9}, 3, true, &d));       /* vmmcall */
    assert_false(rdtscp_decode((const uint8_t[]){0x0f, 0x33}, 2, true, &d));             /* rdpmc */
    assert_false(rdtscp_decode((const uint8_t[]){0x0f, 0x20, 0xd8}, 3, true, &d));       /* mov cr3 */
    assert_false(rdtscp_decode((const uint8_t[]){0x0f, 0x01}, 2, true, &d));             /* cut short */
    assert_false(rdtscp_decode((const uint8_t[]){0x0f}, 1, true, &d));
    assert_false(rdtscp_decode(NULL, 0, true, &d));                                      /* not read */
    /* More than 15 bytes of prefixes: no instruction. */
    uint8_t many[18];
    for (unsigned i = 0; i < 15; i++)
        many[i] = 0x66;
    many[15] = 0x0f, many[16] = 0x01, many[17] = 0xf9;
    assert_false(rdtscp_decode(many, 18, true, &d));
    /* 12 prefixes + 3 = 15: still one. */
    expect(many + 3, 15, true, 15, true);
    /* What is not decoded leaves the caller's default alone. */
    d = (struct rdtscp_insn){ .len = 2, .rdtscp = false };
    assert_false(rdtscp_decode((const uint8_t[]){0x0f, 0x01, 0xf8}, 3, true, &d));
    assert_int_equal(d.len, 2);
    assert_false(d.rdtscp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_not_these),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
