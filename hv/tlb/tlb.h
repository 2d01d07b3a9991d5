/* TLB flushes of a vCPU (docs/design.md, "TLB"): code that needs a flush
 * records the event here; the policy (hv/tlb/tlb_policy.c, pure and
 * model-tested) turns the events into per-context requests. They become
 * TLB_CONTROL (APM 15.16) of the context's own VMCB, where they take
 * effect at its next VMRUN: switch_vmcb() writes the leaving context's
 * requests into the VMCB it leaves, and the run loop the current
 * context's into the VMCB about to run. */
#pragma once
#include "hv/core/vcpu.h"

void tlb_vcpu_init(struct vcpu *v);
/* Events. */
void tlb_l1_changed(struct vcpu *v);       /* L1's translations changed meaning (EFER.NXE) */
void tlb_npt01_changed(struct vcpu *v);    /* an NPT01 entry lost rights or changed */
void tlb_npt02_changed(struct vcpu *v);    /* an NPT02 entry changed */
/* true: VMCB02 must take another L2 entry's ASID and NPT02 (switch_vmcb). */
bool tlb_vmrun12(struct vcpu *v, uint32_t vasid, uint64_t ncr3, uint8_t tlb_control12);
void tlb_invlpga(struct vcpu *v, uint32_t asid);
/* L0 dropped L2 entry i's NPT02 to give its pages to another (budget). */
void tlb_npt02_evicted(struct vcpu *v, unsigned i);
/* The context whose VMCB is current. */
static inline enum tlb_ctx tlb_current_ctx(const struct vcpu *v)
{
    return v->nested.in_l2 ? TLB_CTX_L2 : TLB_CTX_L1;
}
/* Something is owed before ctx's VMCB runs again. */
static inline bool tlb_owed(const struct vcpu *v, enum tlb_ctx ctx)
{
    return tlb_pending(&v->tlb, ctx) != 0 ||
           (ctx == TLB_CTX_L2 && v->tlb.l2[v->tlb.cur].resync);
}

void tlb_apply_requests_slow(struct vcpu *v);
/* Run loop: drop NPT02 if owed, and set TLB_CONTROL of the VMCB to run
 * (out of line only when something is owed). */
static inline void tlb_apply_requests(struct vcpu *v)
{
    if (__builtin_expect(tlb_owed(v, tlb_current_ctx(v)) ||
                             v->vmcb.va->control.tlb_control != 0, 0))
        tlb_apply_requests_slow(v);
}
/* Run loop, after VMRUN: the CPU does not clear TLB_CONTROL (15.16.1). */
static inline void tlb_vmrun_done(struct vcpu *v)
{
    v->vmcb.va->control.tlb_control = 0;
}
void tlb_service_leaving_slow(struct vcpu *v);
/* switch_vmcb(): the leaving context's requests into the VMCB it leaves. */
static inline void tlb_service_leaving(struct vcpu *v)
{
    if (__builtin_expect(tlb_owed(v, tlb_current_ctx(v)), 0))
        tlb_service_leaving_slow(v);
}
