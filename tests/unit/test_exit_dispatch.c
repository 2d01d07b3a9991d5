/* The exit dispatch table: every exit L0 intercepts in L1 reaches its
 * handler, everything else reaches exit_unexpected. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "arch/x86/svm.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/exit/l1_intercepts.h"
#include "hv/nested/cut_off_event.h"
#include "hv/nested/nested.h"

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
/* L1's injection, as hv/nested/nested.c would answer (cut_off_event_is_l1s()
 * is tested below on its own). */
static bool l1s_answer;
static int l1s_reinjected;
bool nested_cut_off_event_is_l1s(const struct vcpu *v, const struct vmcb *exited, uint64_t intinfo)
{
    (void)v; (void)exited;
    return l1s_answer && cut_off_event_is_instruction(intinfo); /* false for other events */
}
void nested_l1_insn_event_reinjected(struct vcpu *v) { (void)v; l1s_reinjected++; }

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

#define EV(vec, type) (VMCB_EVENT_V | (type) | (uint64_t)(vec))
#define INT3_TCG EV(3, VMCB_EVENT_TYPE_SOFT_INT)  /* QEMU's TCG reports INT3/INTO so */
#define INT3_AMD EV(3, VMCB_EVENT_TYPE_EXCEPTION) /* AMD CPUs: #BP, a trap */
#define INTO_AMD EV(4, VMCB_EVENT_TYPE_EXCEPTION)
#define INT80 EV(0x80, VMCB_EVENT_TYPE_SOFT_INT)

/* Which events are an instruction's (APM 15.7.2, 15.20; hv/nested/cut_off_event.h). */
static void test_instruction_events(void **state)
{
    (void)state;
    assert_true(cut_off_event_is_instruction(INT3_TCG));
    assert_true(cut_off_event_is_instruction(INT3_AMD));
    assert_true(cut_off_event_is_instruction(INTO_AMD));
    assert_true(cut_off_event_is_instruction(INT80));
    assert_true(cut_off_event_is_instruction(EV(4, VMCB_EVENT_TYPE_SOFT_INT)));
    assert_false(cut_off_event_is_instruction(EV(14, VMCB_EVENT_TYPE_EXCEPTION) | VMCB_EVENT_EV));
    assert_false(cut_off_event_is_instruction(EV(6, VMCB_EVENT_TYPE_EXCEPTION)));
    assert_false(cut_off_event_is_instruction(EV(1, VMCB_EVENT_TYPE_EXCEPTION)));
    assert_false(cut_off_event_is_instruction(EV(3, VMCB_EVENT_TYPE_INTR))); /* vector 3 as an IRQ */
    assert_false(cut_off_event_is_instruction(EV(0x30, VMCB_EVENT_TYPE_INTR)));
    assert_false(cut_off_event_is_instruction(EV(2, VMCB_EVENT_TYPE_NMI)));
}

/* L2's own INT3 and L1's injection told apart: first exit after the VMRUN
 * that injected it, RIP unchanged, same vector, both instruction events. */
static void test_l1s_injection_recognized(void **state)
{
    (void)state;
    const uint64_t rip = 0x401000;
    assert_true(cut_off_event_is_l1s(INT3_AMD, INT3_AMD, true, rip, rip));
    assert_true(cut_off_event_is_l1s(INT80, INT80, true, rip, rip));
    /* Injected as #BP, reported as INTn vector 3, or the other way round. */
    assert_true(cut_off_event_is_l1s(INT3_TCG, INT3_AMD, true, rip, rip));
    assert_true(cut_off_event_is_l1s(INT3_AMD, INT3_TCG, true, rip, rip));
    /* Not L1's: a later exit (the injection was delivered, this INT3 is
     * L2's), RIP elsewhere, another vector, nothing or no instruction
     * event injected. */
    assert_false(cut_off_event_is_l1s(INT3_AMD, INT3_AMD, false, rip, rip));
    assert_false(cut_off_event_is_l1s(INT3_TCG, INT3_AMD, true, rip + 8, rip));
    assert_false(cut_off_event_is_l1s(INT80, EV(0x81, VMCB_EVENT_TYPE_SOFT_INT), true, rip, rip));
    assert_false(cut_off_event_is_l1s(INT3_TCG, 0, true, rip, rip));
    assert_false(cut_off_event_is_l1s(INT3_TCG, EV(3, VMCB_EVENT_TYPE_INTR), true, rip, rip));
    assert_false(cut_off_event_is_l1s(EV(3, VMCB_EVENT_TYPE_INTR), INT3_AMD, true, rip, rip));
}

static void test_reinjection_rule(void **state)
{
    (void)state;
    assert_false(cut_off_event_reinjected(INT3_TCG, false));
    assert_false(cut_off_event_reinjected(INT3_AMD, false));
    assert_false(cut_off_event_reinjected(INTO_AMD, false));
    assert_false(cut_off_event_reinjected(INT80, false));
    assert_true(cut_off_event_reinjected(INT3_TCG, true));
    assert_true(cut_off_event_reinjected(INT80, true));
    assert_true(cut_off_event_reinjected(EV(14, VMCB_EVENT_TYPE_EXCEPTION) | VMCB_EVENT_EV, false));
    assert_true(cut_off_event_reinjected(EV(6, VMCB_EVENT_TYPE_EXCEPTION), false));
    assert_true(cut_off_event_reinjected(EV(0x30, VMCB_EVENT_TYPE_INTR), false));
    assert_true(cut_off_event_reinjected(EV(2, VMCB_EVENT_TYPE_NMI), false));
}

/* exit_dispatch() end to end: an exit L0 handles (#NPF: its stub does
 * nothing) that cut off an event. Xen's PVH domU BUG()ed in Linux's int3
 * self-test when L0 injected INT3 again with RIP still at it. */
static struct vcpu dvcpu;
static struct vmcb dvmcb;
static uint64_t dispatch_cut_off(uint64_t intinfo, bool l1s)
{
    memset(&dvcpu, 0, sizeof dvcpu);
    memset(&dvmcb, 0, sizeof dvmcb);
    dvcpu.vmcb.va = &dvmcb;
    dvmcb.control.exitcode = VMEXIT_NPF;
    dvmcb.control.exitintinfo = intinfo;
    l1s_answer = l1s;
    l1s_reinjected = 0;
    exit_dispatch(&dvcpu);
    return dvmcb.control.eventinj;
}

static void test_dispatch_leaves_instruction_events_to_the_instruction(void **state)
{
    (void)state;
    assert_int_equal(dispatch_cut_off(INT3_TCG, false), 0);
    assert_int_equal(dispatch_cut_off(INT3_AMD, false), 0);
    assert_int_equal(dispatch_cut_off(INTO_AMD, false), 0);
    assert_int_equal(dispatch_cut_off(INT80, false), 0);
    assert_int_equal(l1s_reinjected, 0);
}

static void test_dispatch_reinjects_the_rest_and_l1s(void **state)
{
    (void)state;
    uint64_t pf = EV(14, VMCB_EVENT_TYPE_EXCEPTION) | VMCB_EVENT_EV | (UINT64_C(2) << 32);
    assert_int_equal(dispatch_cut_off(pf, false), pf);
    assert_int_equal(dispatch_cut_off(EV(0x30, VMCB_EVENT_TYPE_INTR), false),
                     EV(0x30, VMCB_EVENT_TYPE_INTR));
    assert_int_equal(dispatch_cut_off(EV(2, VMCB_EVENT_TYPE_NMI), false), EV(2, VMCB_EVENT_TYPE_NMI));
    assert_int_equal(l1s_reinjected, 0);
    assert_int_equal(dispatch_cut_off(INT3_AMD, true), INT3_AMD);
    assert_int_equal(l1s_reinjected, 1);
    assert_int_equal(dispatch_cut_off(INT80, true), INT80);
    assert_int_equal(l1s_reinjected, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_exits),
        cmocka_unit_test(test_unrequested_exits_are_unexpected),
        cmocka_unit_test(test_every_l1_intercept_has_a_handler),
        cmocka_unit_test(test_instruction_events),
        cmocka_unit_test(test_l1s_injection_recognized),
        cmocka_unit_test(test_reinjection_rule),
        cmocka_unit_test(test_dispatch_leaves_instruction_events_to_the_instruction),
        cmocka_unit_test(test_dispatch_reinjects_the_rest_and_l1s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
