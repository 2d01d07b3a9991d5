/* The exit dispatch table: every exit L0 intercepts in L1 reaches its
 * handler, everything else reaches exit_unexpected. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "arch/x86/svm.h"
#include "hv/exit_dispatch.h"
#include "hv/l1_intercepts.h"

/* Stand-ins for the real handlers: the test compares addresses only. */
void exit_cpuid(struct vcpu *v) { (void)v; }
void exit_msr(struct vcpu *v) { (void)v; }
void exit_vmmcall(struct vcpu *v) { (void)v; }
void exit_svm_insn(struct vcpu *v) { (void)v; }
void exit_shutdown(struct vcpu *v) { (void)v; }
void exit_npf(struct vcpu *v) { (void)v; }
void exit_ioio(struct vcpu *v) { (void)v; }
void exit_unexpected(struct vcpu *v) { (void)v; }
void exit_nmi(struct vcpu *v) { (void)v; }
void exit_intr(struct vcpu *v) { (void)v; }
void nested_l2_exit(struct vcpu *v) { (void)v; }
bool vcpu_nmi_was_kick(struct vcpu *v) { (void)v; return false; }
void exit_init_sx(struct vcpu *v) { (void)v; }
void exit_iret(struct vcpu *v) { (void)v; }
void exit_db(struct vcpu *v) { (void)v; }
void exit_ac(struct vcpu *v) { (void)v; }
void exit_deferred_event(struct vcpu *v) { (void)v; }
void l1_nmi_step_check(struct vcpu *v) { (void)v; }

static void test_known_exits(void **state)
{
    (void)state;
    assert_ptr_equal(exit_handler_for(VMEXIT_CPUID), exit_cpuid);
    assert_ptr_equal(exit_handler_for(VMEXIT_MSR), exit_msr);
    assert_ptr_equal(exit_handler_for(VMEXIT_IOIO), exit_ioio);
    assert_ptr_equal(exit_handler_for(VMEXIT_VMMCALL), exit_vmmcall);
    assert_ptr_equal(exit_handler_for(VMEXIT_SHUTDOWN), exit_shutdown);
    assert_ptr_equal(exit_handler_for(VMEXIT_NPF), exit_npf);
    assert_ptr_equal(exit_handler_for(VMEXIT_NMI), exit_nmi); /* always intercepted */
    assert_ptr_equal(exit_handler_for(VMEXIT_INTR), exit_intr); /* the same, with vGIF */
    assert_ptr_equal(exit_handler_for(VMEXIT_EXCP(30)), exit_init_sx); /* INIT as #SX */
    /* #DB, #AC: no delivery loop inside the CPU */
    assert_ptr_equal(exit_handler_for(VMEXIT_EXCP(1)), exit_db);
    assert_ptr_equal(exit_handler_for(VMEXIT_EXCP(17)), exit_ac);
    const uint64_t svm_insns[] = { VMEXIT_VMRUN, VMEXIT_VMLOAD, VMEXIT_VMSAVE, VMEXIT_STGI,
                                   VMEXIT_CLGI, VMEXIT_SKINIT, VMEXIT_INVLPGA };
    for (size_t i = 0; i < sizeof svm_insns / sizeof *svm_insns; i++)
        assert_ptr_equal(exit_handler_for(svm_insns[i]), exit_svm_insn);
}

static void test_unrequested_exits_are_unexpected(void **state)
{
    (void)state;
    assert_ptr_equal(exit_handler_for(VMEXIT_INVALID), exit_unexpected);
    assert_ptr_equal(exit_handler_for(0xFFFFFFFFull), exit_unexpected); /* TCG's INVALID */
    assert_ptr_equal(exit_handler_for(VMEXIT_HLT), exit_unexpected);
    assert_ptr_equal(exit_handler_for(VMEXIT_SMI), exit_unexpected);
    assert_ptr_equal(exit_handler_for(VMEXIT_EXCP(14)), exit_unexpected);
    assert_ptr_equal(exit_handler_for(0x401), exit_unexpected);
    assert_ptr_equal(exit_handler_for(0x100), exit_unexpected);
    assert_ptr_equal(exit_handler_for(UINT64_C(1) << 40), exit_unexpected);
}

/* Intercept bit n of the vector at 00Ch exits with code 60h + n, at 010h
 * with 80h + n (APM Appendix C): each bit L0 sets must have a handler. */
static void test_every_l1_intercept_has_a_handler(void **state)
{
    (void)state;
    unsigned checked = 0;
    for (unsigned bit = 0; bit < 32; bit++) {
        if (L1_INTERCEPT_MISC1 & (1u << bit)) {
            assert_ptr_not_equal(exit_handler_for(0x60 + bit), exit_unexpected);
            checked++;
        }
        if (L1_INTERCEPT_MISC2 & (1u << bit)) {
            assert_ptr_not_equal(exit_handler_for(0x80 + bit), exit_unexpected);
            checked++;
        }
    }
    assert_int_equal(checked, 13); /* NMI joined for the kicks between CPUs */
    for (unsigned vec = 0; vec < 32; vec++)
        if (L0_INTERCEPT_EXCEPTIONS & (1u << vec))
            assert_ptr_not_equal(exit_handler_for(0x40 + vec), exit_unexpected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_exits),
        cmocka_unit_test(test_unrequested_exits_are_unexpected),
        cmocka_unit_test(test_every_l1_intercept_has_a_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
