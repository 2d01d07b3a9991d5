/* #DB and #AC, which L0 intercepts in L1 and L2 whatever the guests ask.
 *
 * An exception that the CPU raises again while it delivers the same
 * exception (a data breakpoint on the #DB handler's stack or IDT entry;
 * #AC with alignment checking on a misaligned stack at CPL 3) makes the
 * CPU deliver it forever. It never reaches an instruction boundary, so no
 * interrupt or NMI gets the CPU back: without these intercepts a guest
 * could take a physical CPU from the hypervisor (the "benign exception"
 * loops of CVE-2015-5307 and CVE-2015-8104). Intercepted, each delivery is
 * a #VMEXIT, and the loop goes through L0, which stays in control. The
 * exception goes back to the guest unchanged: the CPU has already recorded
 * its cause in DR6 (the VMCB's DR6, which VMRUN gives back to the guest).
 * ICEBP needs nothing: the #DB of INT1 does not trigger the #DB intercept
 * (APM Vol. 2, 15.12), the CPU delivers it itself. */
#include "hv/exit/exit_dispatch.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/nested/l1_gif.h"
#include "hv/nested/nested.h"

/* The exception goes back to the guest; but if it cut off the delivery of
 * an interrupt or NMI (EXITINTINFO, APM 15.7.2), that event must not be
 * lost (the interrupt was already taken from the APIC): it is delivered
 * again first (exit_dispatch's redeliver), and the exception at the next
 * exit, as a CPU delivers the event and then the trap. So is an INT3/INTn
 * event L1 injected into L2 (no instruction raises it again,
 * hv/nested/cut_off_event.h). An exception or INTn of the guest's own
 * instruction cut off is simply raised again by its instruction. */
static void give_back(struct vcpu *v, uint8_t vector, bool has_error)
{
    const struct vmcb *vmcb = v->vmcb.va;
    uint64_t ii = vmcb->control.exitintinfo;
    uint64_t type = ii & VMCB_EVENT_TYPE_MASK;
    if ((ii & VMCB_EVENT_V) &&
        (type == VMCB_EVENT_TYPE_INTR || type == VMCB_EVENT_TYPE_NMI ||
         nested_cut_off_event_is_l1s(v, vmcb, ii))) {
        v->deferred_event = vmcb_event_make(vector, VMCB_EVENT_TYPE_EXCEPTION, has_error, 0);
        v->deferred_vmcb = v->vmcb.va;
        return;
    }
    vcpu_inject_exception(v, vector, has_error, 0);
}

void exit_deferred_event(struct vcpu *v)
{
    struct vmcb *vmcb = v->vmcb.va;
    if (vmcb != v->deferred_vmcb) { /* that guest was left (L2 for L1): gone with it */
        v->deferred_event = 0;
        return;
    }
    if (vmcb->control.eventinj & VMCB_EVENT_V)
        return; /* the cut-off event is still to go first */
    uint64_t e = v->deferred_event;
    v->deferred_event = 0;
    vcpu_inject_exception(v, (uint8_t)(e & VMCB_EVENT_VECTOR_MASK), (e & VMCB_EVENT_EV) != 0, 0);
}

void exit_db(struct vcpu *v)
{
    /* L0 single-steps an IRET of L1's NMI handler (hv/nested/l1_gif.c): its own
     * trap is consumed; any other #DB is the guest's. */
    if (v->nested.in_l2 || !l1_nmi_iret_done(v))
        give_back(v, VEC_DB, false);
}

void exit_ac(struct vcpu *v)
{
    give_back(v, VEC_AC, true);
}
