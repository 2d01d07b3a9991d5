#include "hv/tlb.h"

static uint8_t flush_l1_control = VMCB_TLB_CONTROL_FLUSH_ALL;
static uint64_t flushes;

/* FlushByAsid (CPUID 0x8000000A EDX[6]) flushes only the guest's ASID;
 * without it (e.g. QEMU's TCG) the only choice is a full flush. */
void tlb_init(bool flush_by_asid)
{
    flush_l1_control = flush_by_asid ? VMCB_TLB_CONTROL_FLUSH_ASID : VMCB_TLB_CONTROL_FLUSH_ALL;
}

void tlb_request(struct vcpu *v, uint32_t requests)
{
    v->tlb_requests |= requests;
}

void tlb_apply_requests(struct vcpu *v)
{
    uint8_t control = VMCB_TLB_CONTROL_DO_NOTHING;
    if (v->tlb_requests & TLB_FLUSH_L1) {
        control = flush_l1_control;
        flushes++;
    }
    v->tlb_requests = 0;
    v->vmcb->control.tlb_control = control;
}

uint64_t tlb_flush_count(void)
{
    return flushes;
}
