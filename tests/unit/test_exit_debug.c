/* #DB and #AC given back to the guest (hv/exit/exit_debug.c): at once, or, when
 * they cut off the delivery of an interrupt or NMI, after that event has
 * been delivered again (never losing it), and only to the same VMCB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "arch/x86/vmcb.h"
#include "hv/nested/cut_off_event.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/nested/l1_gif.h"
#include "hv/core/vcpu.h"

static struct vcpu vcpu;
static struct vmcb vmcb, other;
static int injected_vector = -1;
static bool injected_error;

void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
    (void)error;
    injected_vector = vector;
    injected_error = has_error;
    v->vmcb.va->control.eventinj = vmcb_event_make(vector, VMCB_EVENT_TYPE_EXCEPTION, has_error, 0);
}
bool l1_nmi_iret_done(struct vcpu *v) { (void)v; return false; }
/* An INT3/INTn event L1 injected (hv/nested/nested.c decides; here, by test). */
static bool l1s_answer;
bool nested_cut_off_event_is_l1s(const struct vcpu *v, const struct vmcb *exited, uint64_t intinfo)
{
    (void)v; (void)exited;
    return l1s_answer && cut_off_event_is_instruction(intinfo); /* false for other events */
}

static void start(uint64_t exitintinfo)
{
    memset(&vcpu, 0, sizeof vcpu);
    memset(&vmcb, 0, sizeof vmcb);
    vcpu.vmcb.va = &vmcb;
    vmcb.control.exitintinfo = exitintinfo;
    injected_vector = -1;
    l1s_answer = false;
}

static void test_given_back_at_once(void **state)
{
    (void)state;
    start(0);
    exit_db(&vcpu);
    assert_int_equal(injected_vector, VEC_DB);
    start(0);
    exit_ac(&vcpu);
    assert_int_equal(injected_vector, VEC_AC);
    assert_true(injected_error); /* #AC pushes an error code (0) */
    /* A cut-off exception is raised again by its instruction: #DB now. */
    start(vmcb_event_make(VEC_PF, VMCB_EVENT_TYPE_EXCEPTION, true, 2));
    exit_db(&vcpu);
    assert_int_equal(injected_vector, VEC_DB);
    assert_int_equal(vcpu.deferred_event, 0);
}

static void test_after_a_cut_off_interrupt(void **state)
{
    (void)state;
    const uint64_t types[] = { VMCB_EVENT_TYPE_INTR, VMCB_EVENT_TYPE_NMI };
    for (int i = 0; i < 2; i++) {
        uint64_t intr = vmcb_event_make(i ? 2 : 0x30, types[i], false, 0);
        start(intr);
        exit_db(&vcpu);
        assert_int_equal(injected_vector, -1); /* not now */
        vmcb.control.eventinj = intr;          /* what redeliver() does */
        exit_deferred_event(&vcpu);
        assert_int_equal(injected_vector, -1); /* the interrupt goes first */
        assert_int_equal(vmcb.control.eventinj, intr);
        vmcb.control.eventinj = 0;             /* VMRUN delivered it; next exit */
        exit_deferred_event(&vcpu);
        assert_int_equal(injected_vector, VEC_DB);
        assert_int_equal(vcpu.deferred_event, 0);
    }
    start(vmcb_event_make(0x30, VMCB_EVENT_TYPE_INTR, false, 0));
    exit_ac(&vcpu);
    exit_deferred_event(&vcpu);
    assert_int_equal(injected_vector, VEC_AC);
    assert_true(injected_error);
}

/* The guest was left before (L2's #VMEXIT to L1): the exception is not
 * given to another guest. */
static void test_not_to_another_vmcb(void **state)
{
    (void)state;
    start(vmcb_event_make(0x30, VMCB_EVENT_TYPE_INTR, false, 0));
    exit_db(&vcpu);
    vcpu.vmcb.va = &other;
    exit_deferred_event(&vcpu);
    assert_int_equal(injected_vector, -1);
    assert_int_equal(vcpu.deferred_event, 0);
}

/* #DB while L1's injected INT3 was being delivered: that event has no
 * instruction to raise it again, so it goes first, as an interrupt would;
 * L2's own INT3 is raised again by the instruction, #DB now. */
static void test_after_l1s_injected_int3(void **state)
{
    (void)state;
    uint64_t bp = vmcb_event_make(VEC_BP, VMCB_EVENT_TYPE_EXCEPTION, false, 0);
    start(bp);
    l1s_answer = true;
    exit_db(&vcpu);
    assert_int_equal(injected_vector, -1);
    assert_int_not_equal(vcpu.deferred_event, 0);
    start(bp);
    exit_db(&vcpu);
    assert_int_equal(injected_vector, VEC_DB);
    assert_int_equal(vcpu.deferred_event, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_after_l1s_injected_int3),
        cmocka_unit_test(test_given_back_at_once),
        cmocka_unit_test(test_after_a_cut_off_interrupt),
        cmocka_unit_test(test_not_to_another_vmcb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
