/* TLB-flush and NPT02-resync policy; the why is in hv/tlb/tlb_policy.h. */
#include "hv/tlb/tlb_policy.h"

#include "arch/x86/vmcb.h"

#define BIT(why) TLB_WHY_BIT(why)

/* Entry e owes its ASID a flush and drops its NPT02 before it runs. */
static void owe_l2(struct tlb_l2_entry *e, uint16_t why)
{
    e->pending |= why;
    e->resync = true;
}

void tlb_policy_init(struct tlb_policy *p, bool flush_by_asid, unsigned n_l2)
{
    /* Field by field: a struct assignment may become a memset call. */
    p->flush_by_asid = flush_by_asid;
    p->n_l2 = (uint8_t)(n_l2 < 1 ? 1 : n_l2 > TLB_L2_MAX ? TLB_L2_MAX : n_l2);
    p->cur = 0;
    p->l1_pending = BIT(TLB_WHY_INIT);
    p->clock = 0;
    for (unsigned i = 0; i < TLB_L2_MAX; i++) {
        p->l2[i].vasid = 0; /* free */
        p->l2[i].ncr3 = TLB_NCR3_NONE;
        p->l2[i].last_used = 0;
        p->l2[i].pending = BIT(TLB_WHY_INIT);
        p->l2[i].resync = false; /* an empty NPT02; taking the entry drops it anyway */
    }
    p->flushes_asid = 0;
    p->flushes_all = 0;
    p->npt02_resyncs = 0;
    p->l2_misses = 0;
    for (int i = 0; i < TLB_WHY_COUNT; i++)
        p->flushes_by_reason[i] = 0;
}

void tlb_on_l1_flush_request(struct tlb_policy *p)
{
    p->l1_pending |= BIT(TLB_WHY_L0);
}

void tlb_on_npt01_change(struct tlb_policy *p)
{
    p->l1_pending |= BIT(TLB_WHY_NPT01);
    /* Every NPT02 embeds NPT01's old answers: drop them all, and what
     * each entry's ASID cached from them. */
    for (unsigned i = 0; i < p->n_l2; i++)
        owe_l2(&p->l2[i], BIT(TLB_WHY_NPT01));
}

void tlb_on_npt02_change(struct tlb_policy *p)
{
    p->l2[p->cur].pending |= BIT(TLB_WHY_NPT02);
}

void tlb_on_npt02_evicted(struct tlb_policy *p, unsigned i)
{
    /* The tree is gone already: nothing left to drop, the flush is owed. */
    p->l2[i].pending |= BIT(TLB_WHY_NPT02_DROP);
    p->l2[i].resync = false;
}

void tlb_request_npt02_resync(struct tlb_policy *p)
{
    /* Dropping frees table pages the page-walk caches may point into. */
    for (unsigned i = 0; i < p->n_l2; i++)
        owe_l2(&p->l2[i], BIT(TLB_WHY_NPT02_DROP));
}

/* Every entry of vASID v (0: every entry) owes why.  L1's flush of v
 * covers all of v's translations, whichever nCR3 they came from, and the
 * guest-physical ones too (15.25): what NPT02 caches of NPT12. */
static void owe_vasid(struct tlb_policy *p, uint32_t v, uint16_t why)
{
    for (unsigned i = 0; i < p->n_l2; i++)
        if (v == 0 || p->l2[i].vasid == v)
            owe_l2(&p->l2[i], why);
}

/* The entry for (vasid, ncr3), or TLB_L2_MAX. */
static unsigned find_entry(const struct tlb_policy *p, uint32_t vasid, uint64_t ncr3)
{
    for (unsigned i = 0; i < p->n_l2; i++)
        if (p->l2[i].vasid == vasid && p->l2[i].ncr3 == ncr3)
            return i;
    return TLB_L2_MAX;
}

/* A free entry, else the least recently used. */
static unsigned victim_entry(const struct tlb_policy *p)
{
    unsigned best = 0;
    for (unsigned i = 0; i < p->n_l2; i++) {
        if (p->l2[i].vasid == 0)
            return i;
        if (p->l2[i].last_used < p->l2[best].last_used)
            best = i;
    }
    return best;
}

/* Gives entry i to (vasid, ncr3): its ASID holds another key's
 * translations (L1 was promised another vASID sees none of them, 15.16)
 * and its NPT02 shadows another NPT12. */
static void take_entry(struct tlb_policy *p, unsigned i, uint32_t vasid, uint64_t ncr3)
{
    struct tlb_l2_entry *e = &p->l2[i];
    owe_l2(e, e->vasid == vasid ? BIT(TLB_WHY_NCR3) : BIT(TLB_WHY_VASID));
    e->vasid = vasid;
    e->ncr3 = ncr3;
    p->l2_misses++;
}

bool tlb_on_vmrun12(struct tlb_policy *p, uint32_t vasid, uint64_t ncr3,
                    uint8_t vmcb12_tlb_control)
{
    const struct tlb_l2_entry *e = &p->l2[p->cur];
    /* The usual VMRUN: the guest that ran last, no flush asked.  Its entry
     * stays the most recently used without a new stamp. */
    if (vmcb12_tlb_control == VMCB_TLB_CONTROL_DO_NOTHING && e->vasid == vasid &&
        e->ncr3 == ncr3)
        return false;
    unsigned before = p->cur;
    switch (vmcb12_tlb_control) {
    case VMCB_TLB_CONTROL_DO_NOTHING:
        break;
    case VMCB_TLB_CONTROL_FLUSH_ASID:
    case VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL:
        /* 07h spares global entries; NPT02 holds no global ones, and the
         * host cannot spare L2's own: flush as 03h. */
        owe_vasid(p, vasid, BIT(TLB_WHY_L1_CONTROL));
        break;
    default:
        /* 01h flushes every ASID in L1's view, L1's own (ASID 0) too, and
         * L1 may count on that after the #VMEXIT.  Reserved values get
         * the strongest meaning. */
        owe_vasid(p, 0, BIT(TLB_WHY_L1_CONTROL));
        p->l1_pending |= BIT(TLB_WHY_L1_CONTROL);
        break;
    }
    unsigned i = find_entry(p, vasid, ncr3);
    if (i == TLB_L2_MAX) {
        i = victim_entry(p);
        take_entry(p, i, vasid, ncr3);
    }
    p->cur = (uint8_t)i;
    p->l2[i].last_used = ++p->clock;
    return i != before;
}

void tlb_on_invlpga(struct tlb_policy *p, uint32_t vasid)
{
    if (vasid == 0) /* ASID 0 is the host's: in L1's world, L1 itself. */
        p->l1_pending |= BIT(TLB_WHY_INVLPGA);
    else /* every cached nCR3 of it; a vASID no entry holds: nothing */
        owe_vasid(p, vasid, BIT(TLB_WHY_INVLPGA));
}

bool tlb_take_npt02_resync(struct tlb_policy *p)
{
    struct tlb_l2_entry *e = &p->l2[p->cur];
    if (!e->resync)
        return false;
    e->resync = false;
    p->npt02_resyncs++;
    return true;
}

static void count_reasons(struct tlb_policy *p, uint16_t why)
{
    for (int i = 0; i < TLB_WHY_COUNT; i++)
        if (why & TLB_WHY_BIT(i))
            p->flushes_by_reason[i]++;
}

static uint16_t *pending_of(struct tlb_policy *p, enum tlb_ctx ctx)
{
    return ctx == TLB_CTX_L1 ? &p->l1_pending : &p->l2[p->cur].pending;
}

/* Every debt on the CPU, cleared: what a 01h pays. */
static uint16_t take_all_debts(struct tlb_policy *p)
{
    uint16_t why = p->l1_pending;
    p->l1_pending = 0;
    for (unsigned i = 0; i < p->n_l2; i++) {
        why |= p->l2[i].pending;
        p->l2[i].pending = 0;
    }
    return why;
}

uint8_t tlb_control_for_vmrun(struct tlb_policy *p, enum tlb_ctx ctx)
{
    uint16_t *pending = pending_of(p, ctx);
    uint16_t why = *pending;

    if (!why)
        return VMCB_TLB_CONTROL_DO_NOTHING;
    if (p->flush_by_asid) {
        /* The other ASIDs' debts wait for their own VMRUNs: a full flush
         * would also throw away L0's and their good entries. */
        *pending = 0;
        p->flushes_asid++;
        count_reasons(p, why);
        return VMCB_TLB_CONTROL_FLUSH_ASID;
    }
    /* 01h is the only flush there is; it empties every ASID on this CPU,
     * so it pays every debt. */
    why |= take_all_debts(p);
    p->flushes_all++;
    count_reasons(p, why);
    return VMCB_TLB_CONTROL_FLUSH_ALL;
}

uint8_t tlb_control_for_leaving(struct tlb_policy *p, enum tlb_ctx ctx)
{
    /* Leaving L2: the entry keeps its debt.  VMCB02 may next run with
     * another entry's ASID, and a 03h written now would flush that one
     * (15.16.1: TLB_CONTROL acts on the ASID of the VMCB it runs with). */
    if (ctx == TLB_CTX_L2)
        return VMCB_TLB_CONTROL_DO_NOTHING;
    uint16_t why = p->l1_pending;
    if (!why)
        return VMCB_TLB_CONTROL_DO_NOTHING;
    p->l1_pending = 0;
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
    (void)take_all_debts(p);
}
