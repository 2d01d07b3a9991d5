/* The one place a vCPU's current VMCB changes, the first launch included
 * (docs/design.md, "TLB"). Flushes are requested in a VMCB's TLB_CONTROL
 * and happen at that VMCB's next VMRUN (APM 15.16.1), so, in this order:
 *  1. the leaving context's pending requests go into the VMCB it leaves
 *     (applied after the switch they would land in the wrong VMCB);
 *  2. the switch;
 *  3. what the transition owes the new context: for L2, what L1 asked in
 *     VMCB12 (TLB_CONTROL, another ASID or nCR3), from the checked copy,
 *     and the L2 entry (host ASID, NPT02) of VMCB12's (ASID, nCR3).
 * Leaving L2, step 1 writes nothing into VMCB02: its next VMRUN may be
 * with another entry's host ASID, and TLB_CONTROL flushes the ASID of the
 * VMCB it runs with (15.16.1), so the leaving entry's debt stays owed by
 * that entry until VMCB02 runs with its ASID again (hv/tlb/tlb_policy.c). */
#include "hv/nested/nested.h"
#include "hv/tlb/tlb.h"

void switch_vmcb(struct vcpu *v, enum tlb_ctx to)
{
    if (v->vmcb.va)
        tlb_service_leaving(v);
    v->nested.in_l2 = to == TLB_CTX_L2;
    v->vmcb = to == TLB_CTX_L2 ? v->nested.vmcb02 : v->vmcb01;
    if (to == TLB_CTX_L2) {
        const struct vmcb_control *c12 = &v->nested.vmcb12->control;
        /* VMCB02 runs with the current entry's ASID and NPT02 always:
         * build_controls() gave it the current entry's NPT02, the entry
         * the policy now chose replaces both if it is another one. */
        if (tlb_vmrun12(v, c12->guest_asid,
                        (c12->nested_ctl & VMCB_NP_ENABLE) ? c12->n_cr3 : TLB_NCR3_NONE,
                        c12->tlb_control))
            nested_vmcb02_use_entry(v);
    }
}
