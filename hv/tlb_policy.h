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
 * The design: each vCPU has two static host ASIDs, one for L1 (context L1,
 * VMCB01) and one shared by every L2 that L1 runs (context L2, VMCB02).
 * L1 tags its L2 guests with ASIDs of its own (VMCB12 guest_asid: the
 * "virtual ASID", vASID), and the architecture promises L1 that they do
 * not see each other's translations, so whatever the host L2 ASID holds
 * belongs to one vASID: the one L1 ran last (l2_vasid).  L2 runs on NPT02,
 * a shadow of NPT01 o NPT12 that L0 fills on demand; it is a cache of
 * L1's nested tables exactly like the TLB is, so it goes stale exactly
 * when L1 owes L2 a flush, and is then dropped ("resync").
 *
 * Flushes are owed per context (a mask of reasons) and paid at that
 * context's next VMRUN, never on a transition that changed nothing:
 * a nested VMRUN with the same vASID and nCR3 and TLB_CONTROL 0, and the
 * #VMEXIT after it, flush nothing.  What owes what:
 *
 *   event                                   L1 flush  L2 flush  drop NPT02
 *   L0 changed what L1's translations mean     x
 *   L0 changed/removed an NPT01 entry          x         x         x
 *   L0 changed/removed an NPT02 entry                    x
 *   L0 wants NPT02 dropped                               x         x
 *   VMRUN12, another vASID or nCR3                       x         x
 *   VMRUN12, TLB_CONTROL 03h/07h                         x         x
 *   VMRUN12, TLB_CONTROL 01h (or reserved)     x         x         x
 *   INVLPGA, ECX = the current L2's vASID                x         x
 *   INVLPGA, ECX = 0 (L1's own ASID)           x
 *   INVLPGA, ECX = any other vASID          (nothing: the host holds none
 *                                            of its translations)
 *
 * All rows but one are what the architecture makes L1 count on.  The
 * exception is "same vASID, another nCR3": the hardware would keep the
 * translations cached from the old tables (an L1 that wants them gone
 * flushes, and then pays nothing extra here), so a flush is not required;
 * dropping NPT02 is our choice, to keep it a shadow of one NPT12, and the
 * drop then owes the flush.  The model test accepts either.
 *
 * Every NPT02 drop owes an L2 flush because the TLB's page-walk caches may
 * still point into the freed table pages (15.25: they are tagged by ASID
 * and flushed with it); the table above keeps that invariant.  Adding an
 * NPT01 or NPT02 entry where none was owes nothing: not-present
 * translations are never cached.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

enum tlb_ctx {
    TLB_CTX_L1 = 0, /* VMCB01: L1 under its host ASID */
    TLB_CTX_L2 = 1, /* VMCB02: whichever L2 L1 runs, under the L2 host ASID */
    TLB_CTX_COUNT
};

/* Why a flush is owed (bit numbers of tlb_policy.pending[]); the counters
 * by reason tell where the flushes of a workload come from. */
enum tlb_why {
    TLB_WHY_INIT,       /* the ASID may hold entries from before us */
    TLB_WHY_L0,         /* L0 changed what L1's translations mean (EFER.NXE...) */
    TLB_WHY_NPT01,      /* L0 changed or removed an NPT01 entry */
    TLB_WHY_NPT02,      /* L0 changed or removed an NPT02 entry */
    TLB_WHY_NPT02_DROP, /* L0 asked for NPT02 to be dropped */
    TLB_WHY_L1_CONTROL, /* L1's VMCB12 TLB_CONTROL asked for a flush */
    TLB_WHY_VASID,      /* L1 runs another vASID than last time */
    TLB_WHY_NCR3,       /* same vASID, another nCR3 (or NP toggled) */
    TLB_WHY_INVLPGA,    /* L1's INVLPGA named what the context may hold */
    TLB_WHY_COUNT
};
#define TLB_WHY_BIT(w) ((uint16_t)(1u << (w)))

/* tlb_on_vmrun12()'s ncr3 when VMCB12 does not enable nested paging: no
 * real nCR3 (4 KiB aligned) equals it, so toggling NP counts as a change. */
#define TLB_NCR3_NONE UINT64_MAX

struct tlb_policy {
    bool flush_by_asid;           /* CPUID 8000_000A EDX[6] */
    uint16_t pending[TLB_CTX_COUNT]; /* TLB_WHY_BIT mask; 0 = nothing owed */
    bool npt02_resync;            /* NPT02 must be dropped before L2 runs */
    uint32_t l2_vasid;            /* VMCB12 ASID L1 last ran (0 = none yet) */
    uint64_t l2_ncr3;             /* and its nCR3 (or TLB_NCR3_NONE) */
    /* Statistics. */
    uint64_t flushes_asid;        /* TLB_CONTROL 03h written */
    uint64_t flushes_all;         /* TLB_CONTROL 01h written */
    uint64_t npt02_resyncs;
    uint64_t flushes_by_reason[TLB_WHY_COUNT]; /* flushes that served each */
};

/* Both ASIDs start owing a flush (TLB_WHY_INIT): whatever ran before the
 * hypervisor may have used the same ASID numbers. */
void tlb_policy_init(struct tlb_policy *p, bool flush_by_asid);

/* --- Events: what L0 or L1 did.  Cheap; call them where it happens. ---- */

/* L0 changed something that gives L1's cached translations another
 * meaning (e.g. L1 toggled EFER.NXE). */
void tlb_on_l1_flush_request(struct tlb_policy *p);
/* L0 changed or removed an NPT01 entry (not: added one where none was).
 * Both contexts walked NPT01 (L2 through NPT02, which embeds NPT01's
 * answers), so both owe a flush and NPT02 is dropped.  With SMP, every
 * vCPU's policy needs this, and running vCPUs must be made to exit. */
void tlb_on_npt01_change(struct tlb_policy *p);
/* L0 changed or removed an NPT02 entry itself (not: added one where none
 * was), or dropped NPT02 on its own (then the entries are gone already). */
void tlb_on_npt02_change(struct tlb_policy *p);
/* L0 wants NPT02 dropped before L2 runs again, e.g. L1 changed something
 * NPT02's fill read to interpret NPT12 (L1's EFER.NXE makes NPT12's bit 63
 * NX or reserved); tlb_take_npt02_resync() reports it. */
void tlb_request_npt02_resync(struct tlb_policy *p);
/* An emulated VMRUN that passed the consistency checks (so vasid != 0):
 * vasid and ncr3 (or TLB_NCR3_NONE) and tlb_control from the hypervisor's
 * checked copy of VMCB12.  L1 asking for a flush, or running another
 * vASID or nCR3 than last time, owes L2 a flush and drops NPT02; 01h
 * (all ASIDs) and reserved values also flush L1's own translations. */
void tlb_on_vmrun12(struct tlb_policy *p, uint32_t vasid, uint64_t ncr3,
                    uint8_t vmcb12_tlb_control);
/* L1 executed INVLPGA with this ASID (ECX).  rAX is not needed: the host
 * cannot tell which NPT02 entries a guest-virtual page went through, so
 * a hit drops all of NPT02 and flushes the whole L2 ASID. */
void tlb_on_invlpga(struct tlb_policy *p, uint32_t vasid);

/* --- At VMRUN ------------------------------------------------------------ */

/* Before every VMRUN of VMCB02, before tlb_control_for_vmrun(): true once
 * after an event that requires dropping NPT02; the caller then drops it
 * (the L2 flush it owes is already pending). */
bool tlb_take_npt02_resync(struct tlb_policy *p);
/* The TLB_CONTROL to write into ctx's VMCB for the VMRUN about to happen
 * (every VMRUN: hardware does not clear the field, so an old 01h/03h
 * left there would flush again).  Clears what the flush satisfies: with
 * FlushByAsid, ctx's own debt (03h); without it, 01h, which flushes every
 * ASID and so pays the other context's debt too. */
uint8_t tlb_control_for_vmrun(struct tlb_policy *p, enum tlb_ctx ctx);
/* A VMRUN ran with 01h (every ASID of this CPU emptied): nothing is owed
 * by either context any more. */
void tlb_paid_all(struct tlb_policy *p);
/* switch_vmcb(), leaving ctx: the TLB_CONTROL that pays ctx's own debt
 * (03h with FlushByAsid, else 01h), for the VMCB it leaves; clears only
 * that debt, since that VMCB runs again only later. */
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
