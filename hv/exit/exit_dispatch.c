#include "hv/exit/exit_dispatch.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/smp/ap_start.h"
#include "hv/nested/cut_off_event.h"
#include "hv/nested/l1_gif.h"
#include "hv/nested/nested.h"

/* Exit codes L0 intercepts in L1 (hv/core/launch.c sets the matching intercept
 * bits); the table is indexed by code for codes below 0x100. */
static const exit_handler_fn low_handlers[0x100] = {
    [VMEXIT_CPUID] = exit_cpuid,
    [VMEXIT_MSR] = exit_msr,
    [VMEXIT_IOIO] = exit_ioio,
    [VMEXIT_VMMCALL] = exit_vmmcall,
    [VMEXIT_VMRUN] = exit_svm_insn,
    [VMEXIT_VMLOAD] = exit_svm_insn,
    [VMEXIT_VMSAVE] = exit_svm_insn,
    [VMEXIT_STGI] = exit_svm_insn,
    [VMEXIT_CLGI] = exit_svm_insn,
    [VMEXIT_SKINIT] = exit_svm_insn,
    [VMEXIT_INVLPGA] = exit_svm_insn,
    [VMEXIT_SHUTDOWN] = exit_shutdown,
    [VMEXIT_NMI] = exit_nmi,
    [VMEXIT_INTR] = exit_intr,
    [VMEXIT_EXCP_BASE + VEC_SX] = exit_init_sx,
    [VMEXIT_IRET] = exit_iret,
    [VMEXIT_EXCP_BASE + VEC_DB] = exit_db,
    [VMEXIT_EXCP_BASE + VEC_AC] = exit_ac,
};

exit_handler_fn exit_handler_for(uint64_t exitcode)
{
    if (exitcode < 0x100)
        return low_handlers[exitcode] ? low_handlers[exitcode] : exit_unexpected;
    if (exitcode == VMEXIT_NPF)
        return exit_npf;
    return exit_unexpected;
}

static void dispatch(struct vcpu *v, uint64_t code)
{
    /* L0's own events, in L1 and in L2 alike, whatever L1 intercepts:
     * another CPU's kick (hv/smp/apic.c; the run loop serves what it was for)
     * and a physical INIT redirected as #SX. */
    if (__builtin_expect(code == VMEXIT_NMI || code == VMEXIT_EXCP_BASE + VEC_SX, 0)) {
        if (code != VMEXIT_NMI) {
            exit_init_sx(v);
            return;
        }
        if (vcpu_nmi_was_kick(v))
            return;
    }
    if (v->nested.in_l2) {
        nested_l2_exit(v); /* L1's intercepts decide first */
        return;
    }
    if (__builtin_expect(v->nested.iret_stepping, 0) && code != VMEXIT_EXCP_BASE + VEC_DB)
        l1_nmi_step_check(v); /* L1 left the IRET by some other way */
    exit_handler_for(code)(v);
}

/* An exit may cut off the delivery of an event (EXITINTINFO, APM 15.7.2).
 * If the exit went to L1, L1 finds it in its VMCB12's EXITINTINFO; if the
 * handler queued an event itself, that one goes first (hv/exit/exit_debug.c).
 * Otherwise it is injected again at the next VMRUN of the same VMCB
 * (EVENTINJ, 15.20), except an instruction's event (INT3, INTO, INTn),
 * which its instruction raises again with the right return address,
 * unless L1 injected it into L2 (hv/nested/cut_off_event.h says why). */
static void redeliver(struct vcpu *v, const struct vmcb *exited, uint64_t intinfo)
{
    struct vmcb_control *c = &v->vmcb.va->control;
    if (v->vmcb.va != exited || (c->eventinj & VMCB_EVENT_V))
        return;
    bool l1s = nested_cut_off_event_is_l1s(v, exited, intinfo);
    if (!cut_off_event_reinjected(intinfo, l1s))
        return; /* RIP is at the instruction: it runs again */
    c->eventinj = intinfo;
    if (l1s)
        nested_l1_insn_event_reinjected(v);
}

void exit_dispatch(struct vcpu *v)
{
    const struct vmcb *exited = v->vmcb.va;
    uint64_t intinfo = exited->control.exitintinfo;
    dispatch(v, exited->control.exitcode);
    if (__builtin_expect((intinfo & VMCB_EVENT_V) != 0, 0))
        redeliver(v, exited, intinfo);
    if (__builtin_expect(v->deferred_event != 0, 0))
        exit_deferred_event(v);
}
