/* The one place a vCPU's current VMCB changes, the first launch included
 * (docs/design.md, "TLB"). Flushes are requested in a VMCB's TLB_CONTROL
 * and happen at that VMCB's next VMRUN (APM 15.16.1), so, in this order:
 *  1. the leaving context's pending requests go into the VMCB it leaves
 *     (applied after the switch they would land in the wrong VMCB);
 *  2. the switch;
 *  3. what the transition owes the new context: for L2, what L1 asked in
 *     VMCB12 (TLB_CONTROL, another ASID or nCR3), from the checked copy. */
#include "hv/nested.h"
#include "hv/tlb.h"

void switch_vmcb(struct vcpu *v, enum tlb_ctx to)
{
    if (v->vmcb.va)
        tlb_service_leaving(v);
    v->nested.in_l2 = to == TLB_CTX_L2;
    v->vmcb = to == TLB_CTX_L2 ? v->nested.vmcb02 : v->vmcb01;
    if (to == TLB_CTX_L2) {
        const struct vmcb_control *c12 = &v->nested.vmcb12->control;
        tlb_vmrun12(v, c12->guest_asid,
                    (c12->nested_ctl & VMCB_NP_ENABLE) ? c12->n_cr3 : TLB_NCR3_NONE,
                    c12->tlb_control);
    }
}
