#include "hv/tlb/tlb.h"
#include "hv/core/host_caps.h"
#include "hv/nested/nested.h"

void tlb_vcpu_init(struct vcpu *v)
{
    tlb_policy_init(&v->tlb, host_caps()->flush_by_asid,
                    tlb_l2_entries_for(host_caps()->nasid));
}

/* L1's EFER.NXE (and the like) also decide how NPT12 reads: NPT02 built
 * under the old meaning goes too. */
void tlb_l1_changed(struct vcpu *v)
{
    tlb_on_l1_flush_request(&v->tlb);
    tlb_request_npt02_resync(&v->tlb);
}
void tlb_npt01_changed(struct vcpu *v) { tlb_on_npt01_change(&v->tlb); }
void tlb_npt02_changed(struct vcpu *v) { tlb_on_npt02_change(&v->tlb); }
void tlb_npt02_evicted(struct vcpu *v, unsigned i) { tlb_on_npt02_evicted(&v->tlb, i); }

bool tlb_vmrun12(struct vcpu *v, uint32_t vasid, uint64_t ncr3, uint8_t tlb_control12)
{
    return tlb_on_vmrun12(&v->tlb, vasid, ncr3, tlb_control12);
}

/* INVLPGA with ASID 0 names L1's own translations (APM 15.16.2); the
 * policy tells them apart. */
void tlb_invlpga(struct vcpu *v, uint32_t asid)
{
    tlb_on_invlpga(&v->tlb, asid);
}

static struct vmcb *context_vmcb(struct vcpu *v, enum tlb_ctx ctx)
{
    return ctx == TLB_CTX_L2 ? v->nested.vmcb02.va : v->vmcb01.va;
}

/* An entry's NPT02 is dropped only while it is not running: before its
 * VMRUN, or as L2 is left. */
static void drop_npt02_if_owed(struct vcpu *v, enum tlb_ctx ctx)
{
    if (ctx == TLB_CTX_L2 && tlb_take_npt02_resync(&v->tlb))
        npt02_reset(nested_npt02(v));
}

void tlb_service_leaving_slow(struct vcpu *v)
{
    enum tlb_ctx ctx = tlb_current_ctx(v);
    drop_npt02_if_owed(v, ctx);
    /* Leaving L2 this is 00h: the entry keeps its debt (hv/tlb/switch_vmcb.c). */
    struct vmcb_control *c = &context_vmcb(v, ctx)->control;
    c->tlb_control = tlb_control_merge(c->tlb_control, tlb_control_for_leaving(&v->tlb, ctx));
}

void tlb_apply_requests_slow(struct vcpu *v)
{
    enum tlb_ctx ctx = tlb_current_ctx(v);
    drop_npt02_if_owed(v, ctx);
    struct vmcb_control *c = &v->vmcb.va->control;
    c->tlb_control = tlb_control_merge(c->tlb_control, tlb_control_for_vmrun(&v->tlb, ctx));
    /* 01h empties every ASID of this CPU: what the other VMCB still holds
     * (switch_vmcb() put it there) and what either context owes is paid. */
    if (c->tlb_control == VMCB_TLB_CONTROL_FLUSH_ALL) {
        context_vmcb(v, ctx == TLB_CTX_L2 ? TLB_CTX_L1 : TLB_CTX_L2)->control.tlb_control = 0;
        tlb_paid_all(&v->tlb);
    }
}
