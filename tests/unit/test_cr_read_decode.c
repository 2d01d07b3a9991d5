/* hv/decode/cr_read_decode.c: MOV from CRn as binutils encodes it (the byte
 * strings below are objdump's for the instructions in the comments; the
 * ones from the TCG/Xen trace are Debian 6.1's vmlinux), and what is not
 * one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/decode/cr_read_decode.h"

static void expect(const uint8_t *b, unsigned n, bool lm, unsigned len, unsigned cr, unsigned gpr)
{
    struct cr_read_insn d;
    assert_true(cr_read_decode(b, n, lm, &d));
    assert_int_equal(d.len, len);
    assert_int_equal(d.cr, cr);
    assert_int_equal(d.gpr, gpr);
}

static void test_linux_reads(void **state)
{
    (void)state;
    expect((const uint8_t[]){0x0f, 0x20, 0xd7}, 3, true, 3, 2, 7);        /* mov %cr2,%rdi */
    expect((const uint8_t[]){0x0f, 0x20, 0xd0}, 3, true, 3, 2, 0);        /* mov %cr2,%rax */
    expect((const uint8_t[]){0x0f, 0x20, 0xd8}, 3, true, 3, 3, 0);        /* mov %cr3,%rax */
    expect((const uint8_t[]){0x0f, 0x20, 0xe5}, 3, true, 3, 4, 5);        /* mov %cr4,%rbp */
    expect((const uint8_t[]){0x0f, 0x20, 0xc0}, 3, true, 3, 0, 0);        /* mov %cr0,%rax */
    expect((const uint8_t[]){0x41, 0x0f, 0x20, 0xdc}, 4, true, 4, 3, 12); /* mov %cr3,%r12 */
    expect((const uint8_t[]){0x44, 0x0f, 0x20, 0xc0}, 4, true, 4, 8, 0);  /* mov %cr8,%rax */
    expect((const uint8_t[]){0x0f, 0x20, 0xe0}, 3, false, 3, 4, 0);       /* mov %cr4,%eax */
    /* LOCK MOV CR0 is CR8 (AMD); the mod field is ignored */
    expect((const uint8_t[]){0xf0, 0x0f, 0x20, 0xc1}, 4, false, 4, 8, 1);
    expect((const uint8_t[]){0x0f, 0x20, 0x17}, 3, true, 3, 2, 7);
    /* prefixes that change nothing, and a REX before them does not count */
    expect((const uint8_t[]){0x66, 0x0f, 0x20, 0xd8}, 4, true, 4, 3, 0);
    expect((const uint8_t[]){0x2e, 0x41, 0x0f, 0x20, 0xd9}, 5, true, 5, 3, 9);
}

static void test_not_cr_reads(void **state)
{
    (void)state;
    struct cr_read_insn d;
    assert_false(cr_read_decode((const uint8_t[]){0x0f, 0x22, 0xd8}, 3, true, &d)); /* mov to cr3 */
    assert_false(cr_read_decode((const uint8_t[]){0x0f, 0x21, 0xc0}, 3, true, &d)); /* mov %db0 */
    assert_false(cr_read_decode((const uint8_t[]){0x0f, 0x01, 0xe0}, 3, true, &d)); /* smsw */
    assert_false(cr_read_decode((const uint8_t[]){0x0f, 0x20}, 2, true, &d));       /* cut short */
    assert_false(cr_read_decode((const uint8_t[]){0x41, 0x66, 0x0f, 0x20, 0xd8}, 5, true, &d));
    /* 0x41 in 32-bit code is INC ECX, not a prefix */
    assert_false(cr_read_decode((const uint8_t[]){0x41, 0x0f, 0x20, 0xd8}, 4, false, &d));
    /* 15 prefixes and no opcode: past the 15-byte limit */
    uint8_t many[20];
    for (unsigned i = 0; i < 20; i++)
        many[i] = 0x66;
    many[15] = 0x0f, many[16] = 0x20, many[17] = 0xd8;
    assert_false(cr_read_decode(many, 18, true, &d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_reads),
        cmocka_unit_test(test_not_cr_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
