#include "hv/tlb.h"
#include "hv/guest_mem.h"

static bool cpu_flush_by_asid;

/* FlushByAsid (CPUID 0x8000000A EDX[6]) flushes only one ASID; without it
 * (e.g. QEMU's TCG) the only choice is a full flush. */
void tlb_init(bool flush_by_asid)
{
    cpu_flush_by_asid = flush_by_asid;
}

void tlb_vcpu_init(struct vcpu *v)
{
    tlb_policy_init(&v->tlb, cpu_flush_by_asid);
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

void tlb_vmrun12(struct vcpu *v, uint32_t vasid, uint64_t ncr3, uint8_t tlb_control12)
{
    tlb_on_vmrun12(&v->tlb, vasid, ncr3, tlb_control12);
}

/* INVLPGA with ASID 0 names L1's own translations (APM 15.16.2); the
 * policy tells them apart. */
void tlb_invlpga(struct vcpu *v, uint32_t asid)
{
    tlb_on_invlpga(&v->tlb, asid);
}

void tlb_apply_requests(struct vcpu *v)
{
    bool l2 = v->nested.in_l2;
    if (l2 && tlb_take_npt02_resync(&v->tlb))
        guest_mem_npt02_reset();
    v->vmcb->control.tlb_control = tlb_control_for_vmrun(&v->tlb, l2 ? TLB_CTX_L2 : TLB_CTX_L1);
}
