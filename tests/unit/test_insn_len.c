/* Unit tests for hv/decode/insn_len.c (APM Vol. 2 15.7.1, 15.10.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "arch/x86/svm.h"
#include "hv/decode/insn_len.h"
#include "tests/unit/xorshift.h"

/* Expected lengths, from the encodings (checked with GNU as / objdump). */
static const struct {
    uint64_t code;
    unsigned len;
} fixed[] = {
    { VMEXIT_CPUID, 2 },              /* 0F A2 */
    { VMEXIT_MSR, 2 },                /* 0F 32 / 0F 30 */
    { VMEXIT_RDTSC, 2 },              /* 0F 31 */
    { VMEXIT_RDTSCP, 3 },             /* 0F 01 F9 */
    { VMEXIT_RDPMC, 2 },              /* 0F 33 */
    { VMEXIT_HLT, 1 },                /* F4 */
    { VMEXIT_INVD, 2 },               /* 0F 08 */
    { VMEXIT_WBINVD, 2 },             /* 0F 09 */
    { VMEXIT_PAUSE, 2 },              /* F3 90 */
    { VMEXIT_ICEBP, 1 },              /* F1 */
    { VMEXIT_MONITOR, 3 },            /* 0F 01 C8 */
    { VMEXIT_MWAIT, 3 },              /* 0F 01 C9 */
    { VMEXIT_MWAIT_CONDITIONAL, 3 },
    { VMEXIT_XSETBV, 3 },             /* 0F 01 D1 */
    { VMEXIT_RDPRU, 3 },              /* 0F 01 FD */
    { VMEXIT_VMRUN, 3 },              /* 0F 01 D8 */
    { VMEXIT_VMMCALL, 3 },            /* 0F 01 D9 */
    { VMEXIT_VMLOAD, 3 },             /* 0F 01 DA */
    { VMEXIT_VMSAVE, 3 },             /* 0F 01 DB */
    { VMEXIT_STGI, 3 },               /* 0F 01 DC */
    { VMEXIT_CLGI, 3 },               /* 0F 01 DD */
    { VMEXIT_SKINIT, 3 },             /* 0F 01 DE */
    { VMEXIT_INVLPGA, 3 },            /* 0F 01 DF */
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

static unsigned ref_len(uint64_t code)
{
    for (size_t i = 0; i < NFIXED; i++)
        if (fixed[i].code == code)
            return fixed[i].len;
    return 0;
}

static void test_listed_codes(void **state)
{
    (void)state;
    /* Literal values too, so a wrong constant in svm.h would show. */
    assert_int_equal(insn_len_fixed(0x72), 2);  /* CPUID */
    assert_int_equal(insn_len_fixed(0x7C), 2);  /* MSR */
    assert_int_equal(insn_len_fixed(0x78), 1);  /* HLT */
    assert_int_equal(insn_len_fixed(0x81), 3);  /* VMMCALL */
    assert_int_equal(insn_len_fixed(0x87), 3);  /* RDTSCP */
    for (size_t i = 0; i < NFIXED; i++)
        assert_int_equal(insn_len_fixed(fixed[i].code), fixed[i].len);
}

static void test_not_fixed_codes(void **state)
{
    (void)state;
    static const uint64_t none[] = {
        VMEXIT_IOIO, VMEXIT_INVLPG, VMEXIT_CR0_WRITE, VMEXIT_CR3_WRITE,
        VMEXIT_CR4_READ, VMEXIT_DR7_WRITE, VMEXIT_EXCP_PF, VMEXIT_EXCP_BP,
        VMEXIT_EXCP_UD, VMEXIT_NPF, VMEXIT_INTR, VMEXIT_NMI,
        VMEXIT_SHUTDOWN, VMEXIT_TASK_SWITCH, VMEXIT_SWINT, VMEXIT_IRET,
        VMEXIT_PUSHF, VMEXIT_POPF, VMEXIT_RSM, VMEXIT_CR0_SEL_WRITE,
        VMEXIT_INVPCID, VMEXIT_EFER_WRITE_TRAP, VMEXIT_CR0_WRITE_TRAP,
        VMEXIT_VMGEXIT, VMEXIT_INVALID, VMEXIT_BUSY,
        VMEXIT_UNUSED_EXITCODE, 0x1000, 0x7FFFFFFFFFFFFFFFull,
        0x100000072ull /* CPUID code with a high bit set */,
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        assert_int_equal(insn_len_fixed(none[i]), 0);

    /* Exhaustive over every code Table C-1 can produce, low and negative. */
    for (uint64_t c = 0; c < 0x500; c++)
        assert_int_equal(insn_len_fixed(c), ref_len(c));
    for (uint64_t c = 0; c < 16; c++)
        assert_int_equal(insn_len_fixed(~c), 0);
}

static void test_next_rip_fixed(void **state)
{
    (void)state;
    for (size_t i = 0; i < NFIXED; i++) {
        /* No NRIPS: nRIP is ignored even when non-zero. */
        assert_int_equal(insn_next_rip(fixed[i].code, 0x1000, 0xBAD, 0x777,
                                       false),
                         0x1000 + fixed[i].len);
        /* NRIPS but nRIP 0: fall back to the length. */
        assert_int_equal(insn_next_rip(fixed[i].code, 0x1000, 0, 0x777, true),
                         0x1000 + fixed[i].len);
    }
    /* Unknown length and no nRIP: 0. */
    assert_int_equal(insn_next_rip(VMEXIT_NPF, 0x1000, 0, 0x2000, false), 0);
    assert_int_equal(insn_next_rip(VMEXIT_INVLPG, 0x1000, 0, 0, true), 0);
    assert_int_equal(insn_next_rip(VMEXIT_EXCP_GP, 0x1000, 0, 0, false), 0);
}

static void test_next_rip_nrips_preferred(void **state)
{
    (void)state;
    /* A prefixed CPUID (e.g. 66 0F A2) is 3 bytes: only nRIP knows. */
    assert_int_equal(insn_next_rip(VMEXIT_CPUID, 0x1000, 0x1003, 0, true),
                     0x1003);
    /* nRIP also wins for IOIO and for codes without a fixed length. */
    assert_int_equal(insn_next_rip(VMEXIT_IOIO, 0x1000, 0x1002, 0x1001, true),
                     0x1002);
    assert_int_equal(insn_next_rip(VMEXIT_INVLPG, 0x1000, 0x1003, 0, true),
                     0x1003);
}

static void test_next_rip_ioio(void **state)
{
    (void)state;
    /* IN AL, DX is 1 byte, OUT imm8, AL 2, REP OUTSB 2: EXITINFO2 says. */
    assert_int_equal(insn_next_rip(VMEXIT_IOIO, 0x1000, 0, 0x1001, false),
                     0x1001);
    assert_int_equal(insn_next_rip(VMEXIT_IOIO, 0x1000, 0, 0x1002, false),
                     0x1002);
    assert_int_equal(insn_next_rip(VMEXIT_IOIO, 0x1000, 0, 0x1002, true),
                     0x1002);
    assert_int_equal(insn_next_rip(VMEXIT_IOIO, 0x1000, 0x9999, 0x1002,
                                   false),
                     0x1002);
}

static void test_next_rip_wraps(void **state)
{
    (void)state;
    assert_int_equal(insn_next_rip(VMEXIT_CPUID, UINT64_MAX, 0, 0, false), 1);
    assert_int_equal(insn_next_rip(VMEXIT_HLT, UINT64_MAX, 0, 0, false), 0);
    assert_int_equal(insn_next_rip(VMEXIT_VMMCALL, UINT64_MAX - 1, 0, 0,
                                   false),
                     1);
    assert_int_equal(insn_next_rip(VMEXIT_RDTSCP, 0xFFFFFFFFFFFFFFFDull, 0, 0,
                                   true),
                     0);
    /* No 32-bit truncation inside: that is the caller's job. */
    assert_int_equal(insn_next_rip(VMEXIT_MSR, 0xFFFFFFFFull, 0, 0, false),
                     0x100000001ull);
}

static uint64_t xs = 0x0123456789abcdefull;
static uint64_t rnd(void)
{
    return xorshift64s(&xs);
}

static void test_randomized_vs_model(void **state)
{
    (void)state;
    for (int i = 0; i < 100000; i++) {
        uint64_t code = rnd() & 3 ? rnd() % 0x500 : rnd();
        uint64_t rip = rnd(), nrip = rnd() & 1 ? rnd() : 0, ei2 = rnd();
        bool nrips = rnd() & 1;
        uint64_t want;

        if (nrips && nrip)
            want = nrip;
        else if (code == VMEXIT_IOIO)
            want = ei2;
        else if (ref_len(code))
            want = rip + ref_len(code);
        else
            want = 0;
        assert_int_equal(insn_next_rip(code, rip, nrip, ei2, nrips), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed_codes),
        cmocka_unit_test(test_not_fixed_codes),
        cmocka_unit_test(test_next_rip_fixed),
        cmocka_unit_test(test_next_rip_nrips_preferred),
        cmocka_unit_test(test_next_rip_ioio),
        cmocka_unit_test(test_next_rip_wraps),
        cmocka_unit_test(test_randomized_vs_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
