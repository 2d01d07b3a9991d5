/*
 * tlb_policy.h - which host ASID to flush, when, and when to drop the
 * shadow NPT02 (docs/design.md, "TLB").  Pure: no hardware access, no libc; the run
 * loop and switch_vmcb() feed it events and write what it answers into
 * the VMCB about to run.  Unit-tested against a model of an ASID-tagged
 * TLB in tests/unit/test_tlb_model.c.
 *
 * The hardware facts it rests on (AMD APM Vol. 2):
 *  - 15.16: TLB entries are tagged with the ASID they were made under, and
 *    nothing is flushed on VMRUN/#VMEXIT or on a change of ASID.  A flush
 *    is asked for in the TLB_CONTROL field of a VMCB and happens at the
 *    next VMRUN *of that VMCB* (15.16.1: 00h nothing, 01h every entry of
 *    every ASID, 03h this VMCB's ASID, 07h its non-global entries; 03h and
 *    07h need FlushByAsid, CPUID 8000_000A EDX[6]).
 *  - 15.25: with nested paging the TLB caches guest-virtual -> system-
 *    physical translations, and those depend on the nested page tables;
 *    they are tagged by ASID too.  Changing a nested table does not flush
 *    anything: whoever changes one owes a flush of the ASIDs that walked it.
 *
 * The design: each vCPU has a static host ASID for L1 (context L1,
 * VMCB01) and a small cache of L2 entries, each with a host ASID of its
 * own and its own NPT02 tree (context L2, VMCB02, which runs with the
 * current entry's ASID and tree).  L1 tags its L2 guests with ASIDs of
 * its own (VMCB12 guest_asid: the "virtual ASID", vASID); an entry holds
 * the translations of one (vASID, nCR3) key, so that L1 alternating
 * between up to TLB_L2_MAX guests finds each one's TLB entries and NPT02
 * still there, and pays no flush and no NPT02 drop (issue 10).  A miss
 * takes a free entry or the least recently used one, which is flushed and
 * its NPT02 dropped first.  With fewer host ASIDs (CPUID 8000_000A EBX;
 * 3, the minimum the loader accepts, gives one entry) it degrades to one
 * entry, which is the old design: every switch of guest flushes.
 *
 * NPT02 is a cache of L1's nested tables exactly like the TLB is, so it
 * goes stale exactly when L1 owes an L2 a flush, and is then dropped
 * ("resync"): flushes and drops are owed per entry.
 *
 * Flushes are owed per host ASID (a mask of reasons) and paid at a VMRUN
 * of the VMCB that runs with that ASID: TLB_CONTROL flushes the ASID of
 * the VMCB it runs with (15.16.1), so an entry's debt can be written into
 * VMCB02 only at a VMRUN of VMCB02 with that entry's ASID.  A transition
 * that changed nothing - a nested VMRUN of a cached (vASID, nCR3) with
 * TLB_CONTROL 0, and the #VMEXIT after it - flushes nothing.  What owes
 * what ("entries of v": every entry whose key has vASID v):
 *
 *   event                                   L1 flush  L2 flush+drop NPT02
 *   L0 changed what L1's translations mean     x
 *   L0 changed/removed an NPT01 entry          x      every entry
 *   L0 changed/removed an NPT02 entry                 that entry (no drop)
 *   L0 wants every NPT02 dropped                      every entry
 *   L0 dropped an entry's NPT02 (budget)              that entry (flush)
 *   VMRUN12 of a key no entry holds                   the entry it takes
 *   VMRUN12, TLB_CONTROL 03h/07h, vASID v             entries of v
 *   VMRUN12, TLB_CONTROL 01h (or reserved)     x      every entry
 *   INVLPGA, ECX = v (not 0)                          entries of v
 *   INVLPGA, ECX = 0 (L1's own ASID)           x
 *
 * All rows but one are what the architecture makes L1 count on.  The
 * exception is "same vASID, another nCR3": the hardware would keep the
 * translations cached from the old tables (an L1 that wants them gone
 * flushes), so a flush is not required; giving the key an entry of its
 * own (and an NPT02 that shadows one NPT12) is our choice.  TLB_CONTROL
 * 03h and INVLPGA of v reach every nCR3 cached under v, since L1 counts
 * on them for all of v's translations.
 *
 * Every NPT02 drop owes that entry's ASID a flush because the TLB's
 * page-walk caches may still point into the freed table pages (15.25:
 * they are tagged by ASID and flushed with it); the table above keeps
 * that invariant.  Adding an NPT01 or NPT02 entry where none was owes
 * nothing: not-present translations are never cached.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

enum tlb_ctx {
    TLB_CTX_L1 = 0, /* VMCB01: L1 under its host ASID */
    TLB_CTX_L2 = 1, /* VMCB02: the current L2 entry's host ASID and NPT02 */
    TLB_CTX_COUNT
};

/* Why a flush is owed (bits of the pending masks); the counters by
 * reason tell where the flushes of a workload come from. */
enum tlb_why {
    TLB_WHY_INIT,       /* the ASID may hold entries from before us */
    TLB_WHY_L0,         /* L0 changed what L1's translations mean (EFER.NXE...) */
    TLB_WHY_NPT01,      /* L0 changed or removed an NPT01 entry */
    TLB_WHY_NPT02,      /* L0 changed or removed an NPT02 entry */
    TLB_WHY_NPT02_DROP, /* L0 dropped (or asked to drop) an NPT02 */
    TLB_WHY_L1_CONTROL, /* L1's VMCB12 TLB_CONTROL asked for a flush */
    TLB_WHY_VASID,      /* an entry taken for another vASID */
    TLB_WHY_NCR3,       /* an entry taken for the same vASID, another nCR3 */
    TLB_WHY_INVLPGA,    /* L1's INVLPGA named what the context may hold */
    TLB_WHY_COUNT
};
#define TLB_WHY_BIT(w) ((uint16_t)(1u << (w)))

/* tlb_on_vmrun12()'s ncr3 when VMCB12 does not enable nested paging: no
 * real nCR3 (4 KiB aligned) equals it, so toggling NP counts as a change. */
#define TLB_NCR3_NONE UINT64_MAX

/* L2 entries per vCPU at most: the host ASIDs it takes are 2 + index. */
#define TLB_L2_MAX 4

/* One (vASID, nCR3) L1 ran, with its host ASID's debt. */
struct tlb_l2_entry {
    uint32_t vasid;     /* VMCB12 ASID (0 = free: never a valid one, 15.5.1) */
    uint64_t ncr3;      /* and its nCR3 (or TLB_NCR3_NONE) */
    uint64_t last_used; /* tlb_policy.clock when it last became current: LRU */
    uint16_t pending;   /* TLB_WHY_BIT mask its host ASID owes; 0 = nothing */
    bool resync;        /* its NPT02 must be dropped before it runs */
};

struct tlb_policy {
    bool flush_by_asid;           /* CPUID 8000_000A EDX[6] */
    uint8_t n_l2;                 /* entries in use: 1..TLB_L2_MAX */
    uint8_t cur;                  /* the entry VMCB02 runs with */
    uint16_t l1_pending;          /* L1's ASID's debt */
    uint64_t clock;               /* changes of the current entry, for LRU */
    struct tlb_l2_entry l2[TLB_L2_MAX];
    /* Statistics. */
    uint64_t flushes_asid;        /* TLB_CONTROL 03h written */
    uint64_t flushes_all;         /* TLB_CONTROL 01h written */
    uint64_t npt02_resyncs;       /* NPT02 drops the policy asked for */
    uint64_t l2_misses;           /* VMRUN12s that took an entry */
    uint64_t flushes_by_reason[TLB_WHY_COUNT]; /* flushes that served each */
};

/* How many L2 entries a CPU with nasid host ASIDs (CPUID 8000_000A EBX)
 * has: ASID 0 is the host's, 1 is L1's, the rest are L2 entries. */
static inline unsigned tlb_l2_entries_for(uint32_t nasid)
{
    if (nasid < 3)
        return 1; /* the loader refuses such a CPU */
    return nasid - 2 < TLB_L2_MAX ? nasid - 2 : TLB_L2_MAX;
}

/* Every ASID starts owing a flush (TLB_WHY_INIT): whatever ran before the
 * hypervisor may have used the same ASID numbers.  n_l2: 1..TLB_L2_MAX. */
void tlb_policy_init(struct tlb_policy *p, bool flush_by_asid, unsigned n_l2);

/* What ctx owes now (for L2: the current entry). */
static inline uint16_t tlb_pending(const struct tlb_policy *p, enum tlb_ctx ctx)
{
    return ctx == TLB_CTX_L1 ? p->l1_pending : p->l2[p->cur].pending;
}

/* --- Events: what L0 or L1 did.  Cheap; call them where it happens. ---- */

/* L0 changed something that gives L1's cached translations another
 * meaning (e.g. L1 toggled EFER.NXE). */
void tlb_on_l1_flush_request(struct tlb_policy *p);
/* L0 changed or removed an NPT01 entry (not: added one where none was).
 * Both contexts walked NPT01 (L2 through NPT02, which embeds NPT01's
 * answers), so both owe a flush and NPT02 is dropped.  With SMP, every
 * vCPU's policy needs this, and running vCPUs must be made to exit. */
void tlb_on_npt01_change(struct tlb_policy *p);
/* L0 changed or removed an entry of the current L2 entry's NPT02 itself
 * (not: added one where none was), or dropped that NPT02 on its own (then
 * the entries are gone already). */
void tlb_on_npt02_change(struct tlb_policy *p);
/* L0 dropped entry i's NPT02 (its share of the page budget went to
 * another entry): its ASID owes a flush before it runs again (page-walk
 * caches into the freed tables); its key stays, the tree refills. */
void tlb_on_npt02_evicted(struct tlb_policy *p, unsigned i);
/* L0 wants every NPT02 dropped before it runs again, e.g. L1 changed
 * something NPT02's fill read to interpret NPT12 (L1's EFER.NXE makes
 * NPT12's bit 63 NX or reserved); tlb_take_npt02_resync() reports it. */
void tlb_request_npt02_resync(struct tlb_policy *p);
/* An emulated VMRUN that passed the consistency checks (so vasid != 0):
 * vasid and ncr3 (or TLB_NCR3_NONE) and tlb_control from the hypervisor's
 * checked copy of VMCB12.  Makes the entry of (vasid, ncr3) current,
 * taking a free or the least recently used one (flushed, NPT02 dropped)
 * if none holds it; L1's flush requests reach every entry they name
 * (03h/07h: those of vasid; 01h and reserved values: all, and L1's own
 * ASID).  The caller then runs VMCB02 with p->cur's ASID and NPT02;
 * true when p->cur changed (VMCB02 must be given the other entry's). */
bool tlb_on_vmrun12(struct tlb_policy *p, uint32_t vasid, uint64_t ncr3,
                    uint8_t vmcb12_tlb_control);
/* L1 executed INVLPGA with this ASID (ECX).  rAX is not needed: the host
 * cannot tell which NPT02 entries a guest-virtual page went through, so
 * every entry of that vASID drops its NPT02 and owes its ASID a flush. */
void tlb_on_invlpga(struct tlb_policy *p, uint32_t vasid);

/* --- At VMRUN ------------------------------------------------------------ */

/* Before every VMRUN of VMCB02, before tlb_control_for_vmrun(): true once
 * after an event that requires dropping the current entry's NPT02; the
 * caller then drops it (the flush it owes is already pending). */
bool tlb_take_npt02_resync(struct tlb_policy *p);
/* The TLB_CONTROL to write into ctx's VMCB for the VMRUN about to happen
 * (every VMRUN: hardware does not clear the field, so an old 01h/03h
 * left there would flush again).  For L2, VMCB02 must run with the
 * current entry's ASID.  Clears what the flush satisfies: with
 * FlushByAsid, that ASID's own debt (03h); without it, 01h, which
 * flushes every ASID and so pays every debt on the CPU. */
uint8_t tlb_control_for_vmrun(struct tlb_policy *p, enum tlb_ctx ctx);
/* A VMRUN ran with 01h (every ASID of this CPU emptied): nothing is owed
 * by L1 or any L2 entry any more (NPT02 drops still are). */
void tlb_paid_all(struct tlb_policy *p);
/* switch_vmcb(), leaving ctx: the TLB_CONTROL that pays ctx's own debt
 * (03h with FlushByAsid, else 01h), for the VMCB it leaves; clears only
 * that debt, since that VMCB runs again only later.  Leaving L2 it is
 * always 00h: VMCB02 may next run with another entry's ASID, and a 03h
 * would then flush that one; the entry keeps its debt until a VMRUN of
 * VMCB02 with its own ASID. */
uint8_t tlb_control_for_leaving(struct tlb_policy *p, enum tlb_ctx ctx);
/* Two requests for the same VMCB in one: 01h covers 03h covers nothing. */
static inline uint8_t tlb_control_merge(uint8_t a, uint8_t b)
{
    if (a == VMCB_TLB_CONTROL_FLUSH_ALL || b == VMCB_TLB_CONTROL_FLUSH_ALL)
        return VMCB_TLB_CONTROL_FLUSH_ALL;
    if (a == VMCB_TLB_CONTROL_FLUSH_ASID || b == VMCB_TLB_CONTROL_FLUSH_ASID)
        return VMCB_TLB_CONTROL_FLUSH_ASID;
    return a ? a : b;
}
