/* TLB-flush and NPT02-resync policy; the why is in hv/tlb_policy.h. */
#include "hv/tlb_policy.h"

#include "arch/x86/vmcb.h"

#define OWE(p, ctx, why) ((p)->pending[(ctx)] |= TLB_WHY_BIT(why))

void tlb_policy_init(struct tlb_policy *p, bool flush_by_asid)
{
    /* Field by field: a struct assignment may become a memset call. */
    p->flush_by_asid = flush_by_asid;
    p->pending[TLB_CTX_L1] = TLB_WHY_BIT(TLB_WHY_INIT);
    p->pending[TLB_CTX_L2] = TLB_WHY_BIT(TLB_WHY_INIT);
    p->npt02_resync = false; /* no NPT02 yet; the first VMRUN12 asks anyway */
    p->l2_vasid = 0;         /* never a valid VMCB12 ASID (APM 15.5.1) */
    p->l2_ncr3 = TLB_NCR3_NONE;
    p->flushes_asid = 0;
    p->flushes_all = 0;
    p->npt02_resyncs = 0;
    for (int i = 0; i < TLB_WHY_COUNT; i++)
        p->flushes_by_reason[i] = 0;
}

void tlb_on_l1_flush_request(struct tlb_policy *p)
{
    OWE(p, TLB_CTX_L1, TLB_WHY_L0);
}

void tlb_on_npt01_change(struct tlb_policy *p)
{
    OWE(p, TLB_CTX_L1, TLB_WHY_NPT01);
    /* NPT02 entries hold NPT01's old answer: drop them, and what the L2
     * ASID cached from them. */
    OWE(p, TLB_CTX_L2, TLB_WHY_NPT01);
    p->npt02_resync = true;
}

void tlb_on_npt02_change(struct tlb_policy *p)
{
    OWE(p, TLB_CTX_L2, TLB_WHY_NPT02);
}

void tlb_request_npt02_resync(struct tlb_policy *p)
{
    /* Dropping frees table pages the page-walk caches may point into. */
    OWE(p, TLB_CTX_L2, TLB_WHY_NPT02_DROP);
    p->npt02_resync = true;
}

void tlb_on_vmrun12(struct tlb_policy *p, uint32_t vasid, uint64_t ncr3,
                    uint8_t vmcb12_tlb_control)
{
    uint16_t why = 0;

    /* The host L2 ASID and NPT02 hold translations of l2_vasid only; L1
     * was promised that another vASID sees none of them (APM 15.16). */
    if (vasid != p->l2_vasid)
        why |= TLB_WHY_BIT(TLB_WHY_VASID);
    /* Same vASID on other nested tables: the hardware would keep the
     * cached translations (L1 owes itself the flush), but NPT02 is a
     * shadow of one NPT12 and must follow the new root; dropping it owes
     * the flush.  Rare: L1s change vASID when they change guests. */
    else if (ncr3 != p->l2_ncr3)
        why |= TLB_WHY_BIT(TLB_WHY_NCR3);

    switch (vmcb12_tlb_control) {
    case VMCB_TLB_CONTROL_DO_NOTHING:
        break;
    case VMCB_TLB_CONTROL_FLUSH_ASID:
    case VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL:
        /* 07h spares global entries; NPT02 holds no global ones, and the
         * host cannot spare L2's own: flush as 03h. */
        why |= TLB_WHY_BIT(TLB_WHY_L1_CONTROL);
        break;
    default:
        /* 01h flushes every ASID in L1's view, L1's own (ASID 0) too, and
         * L1 may count on that after the #VMEXIT.  Its other vASIDs hold
         * nothing in the host (a vASID change flushes).  Reserved values
         * get the strongest meaning. */
        why |= TLB_WHY_BIT(TLB_WHY_L1_CONTROL);
        OWE(p, TLB_CTX_L1, TLB_WHY_L1_CONTROL);
        break;
    }

    p->l2_vasid = vasid;
    p->l2_ncr3 = ncr3;
    if (why) {
        /* L1's flush covers guest-physical translations too (APM 15.25),
         * i.e. what NPT02 caches of NPT12. */
        p->pending[TLB_CTX_L2] |= why;
        p->npt02_resync = true;
    }
}

void tlb_on_invlpga(struct tlb_policy *p, uint32_t vasid)
{
    if (vasid == 0) {
        /* ASID 0 is the host's: in L1's world, L1 itself. */
        OWE(p, TLB_CTX_L1, TLB_WHY_INVLPGA);
    } else if (vasid == p->l2_vasid) {
        OWE(p, TLB_CTX_L2, TLB_WHY_INVLPGA);
        p->npt02_resync = true;
    }
    /* Any other vASID: the host holds none of its translations, and
     * running it again flushes anyway (vASID change). */
}

bool tlb_take_npt02_resync(struct tlb_policy *p)
{
    if (!p->npt02_resync)
        return false;
    p->npt02_resync = false;
    p->npt02_resyncs++;
    return true;
}

static void count_reasons(struct tlb_policy *p, uint16_t why)
{
    for (int i = 0; i < TLB_WHY_COUNT; i++)
        if (why & TLB_WHY_BIT(i))
            p->flushes_by_reason[i]++;
}

uint8_t tlb_control_for_vmrun(struct tlb_policy *p, enum tlb_ctx ctx)
{
    uint16_t why = p->pending[ctx];

    if (!why)
        return VMCB_TLB_CONTROL_DO_NOTHING;
    if (p->flush_by_asid) {
        /* The other context's debt waits for its own VMRUN: a full flush
         * would also throw away L0's and the other ASID's good entries. */
        p->pending[ctx] = 0;
        p->flushes_asid++;
        count_reasons(p, why);
        return VMCB_TLB_CONTROL_FLUSH_ASID;
    }
    /* 01h is the only flush there is; it empties every ASID on this CPU,
     * so it pays both contexts' debts. */
    why |= p->pending[TLB_CTX_L1] | p->pending[TLB_CTX_L2];
    p->pending[TLB_CTX_L1] = 0;
    p->pending[TLB_CTX_L2] = 0;
    p->flushes_all++;
    count_reasons(p, why);
    return VMCB_TLB_CONTROL_FLUSH_ALL;
}

uint8_t tlb_control_for_leaving(struct tlb_policy *p, enum tlb_ctx ctx)
{
    uint16_t why = p->pending[ctx];
    if (!why)
        return VMCB_TLB_CONTROL_DO_NOTHING;
    p->pending[ctx] = 0;
    count_reasons(p, why);
    if (p->flush_by_asid) {
        p->flushes_asid++;
        return VMCB_TLB_CONTROL_FLUSH_ASID;
    }
    p->flushes_all++;
    return VMCB_TLB_CONTROL_FLUSH_ALL;
}

void tlb_paid_all(struct tlb_policy *p)
{
    p->pending[TLB_CTX_L1] = 0;
    p->pending[TLB_CTX_L2] = 0;
}
