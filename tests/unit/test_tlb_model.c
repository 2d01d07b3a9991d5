/*
 * Tests for hv/tlb/tlb_policy.c (docs/design.md "TLB"; AMD APM Vol. 2 15.16 TLB control,
 * 15.25 nested paging).
 *
 * QEMU's TCG flushes its whole TLB at every VMRUN, so no boot test can
 * show a missing flush.  Here instead: a model of a CPU with an
 * ASID-tagged TLB that caches translations and honours TLB_CONTROL
 * exactly, an L0 that keeps NPT01 and fills the shadow NPT02 on demand the
 * way the hypervisor does, and an L1 that does random things to its L2
 * guests.  Alongside, the model keeps what the ARCHITECTURE lets each
 * context still see:
 *  - L2 under vASID v may use, for a page, the translation its current
 *    NPT12 gives, or any translation it used under v since L1 last
 *    flushed v (stale entries are legal until L1 flushes them);
 *  - L1 may use its current page table's translation or one it used since
 *    it last flushed that page;
 *  - in both, an L1-physical page means what NPT01 says *now* (L1 did not
 *    make NPT01 changes and cannot flush them), and L1's translations are
 *    only good under the meaning L0 gave them (l1_gen).
 * The test fails when a context is about to run with a TLB entry (or, for
 * L2, an NPT02 entry) outside that set, or a TLB entry that outlived the
 * NPT02 entry it came from (its page-walk caches could point into freed
 * tables): a missing flush or resync.  It also fails on a flush or resync
 * that no event since the last one could have needed: the design's point
 * is that a nested VMRUN/#VMEXIT that changed nothing flushes nothing.
 *
 * The L2 entry cache (issue 10): the model's CPU has one TLB per host
 * ASID, L1's and one per L2 entry, and L0 one NPT02 per entry; VMCB02
 * runs with the ASID and NPT02 of the entry the policy chose.  L1 runs up
 * to five guests on four vASIDs, so entries are reused (LRU) as well as
 * found again, and L0 sometimes runs out of NPT02 budget and takes the
 * least recently used other entry's tables.  It runs with 1 entry (a CPU
 * with 3 ASIDs: the old design), 2 and 4, with and without FlushByAsid
 * (QEMU's TCG has none: every flush there is 01h, which pays every debt).
 *
 * Simplifications: L2's own paging is the identity (the L2 TLB is indexed
 * by guest-physical page) and all pages are 4 KiB, so TLB_CONTROL 07h
 * (non-global entries of the ASID) acts as 03h.
 *
 * The model is checked too: mutants of the policy (a wrapper that drops or
 * distorts one event) must each be caught.  Not among them: ignoring a new
 * nCR3 under the same vASID.  The architecture lets L2 keep what it
 * cached from the old tables until L1 flushes, and NPT02 only holds what
 * L2 used, so that is legal; the policy's drop there is a design choice
 * (hv/tlb/tlb_policy.h), which the model allows as a flush some event needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/vmcb.h"
#include "hv/tlb/tlb_policy.h"
#include "tests/unit/xorshift.h"

#define CTL_NONE VMCB_TLB_CONTROL_DO_NOTHING
#define CTL_ALL  VMCB_TLB_CONTROL_FLUSH_ALL
#define CTL_ASID VMCB_TLB_CONTROL_FLUSH_ASID
#define CTL_LOCAL VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL
#define L1 TLB_CTX_L1
#define L2 TLB_CTX_L2
#define BIT(w) TLB_WHY_BIT(w)

/* ======================================================================== */
/* Plain unit tests of each event                                           */
/* ======================================================================== */

/* A policy past its initial flushes, with L2 vASID 5 on nCR3 0x5000 run
 * once: from here on, nothing is owed. */
static void settled_n(struct tlb_policy *p, bool by_asid, unsigned n_l2)
{
    tlb_policy_init(p, by_asid, n_l2);
    assert_int_not_equal(tlb_control_for_vmrun(p, L1), CTL_NONE);
    tlb_on_vmrun12(p, 5, 0x5000, CTL_NONE);
    assert_true(tlb_take_npt02_resync(p));
    assert_int_not_equal(tlb_control_for_vmrun(p, L2), CTL_NONE);
    assert_int_equal(p->l1_pending, 0);
    assert_int_equal(tlb_pending(p, L2), 0);
    assert_false(p->l2[p->cur].resync);
}

/* The old design, one L2 entry (a CPU with 3 ASIDs), unless n_l2 says. */
static void settled(struct tlb_policy *p, bool by_asid)
{
    settled_n(p, by_asid, 1);
}

static void expect_quiet(struct tlb_policy *p)
{
    assert_false(tlb_take_npt02_resync(p));
    assert_int_equal(tlb_control_for_vmrun(p, L2), CTL_NONE);
    assert_int_equal(tlb_control_for_vmrun(p, L1), CTL_NONE);
}

static void test_init_flushes_both(void **state)
{
    struct tlb_policy p;

    tlb_policy_init(&p, true, 1);
    assert_int_equal(p.l1_pending, BIT(TLB_WHY_INIT));
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_INIT));
    assert_int_equal(p.l2[p.cur].vasid, 0);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ASID);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_NONE);
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_INIT)); /* still owed */
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    assert_int_equal(p.flushes_asid, 2);
    assert_int_equal(p.flushes_all, 0);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_INIT], 2);

    /* Without FlushByAsid one 01h pays both. */
    tlb_policy_init(&p, false, 1);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ALL);
    assert_int_equal(tlb_pending(&p, L2), 0);
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_NONE);
    assert_int_equal(p.flushes_all, 1);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_INIT], 1);
}

static void test_quiet_round_trips_flush_nothing(void **state)
{
    for (int by_asid = 0; by_asid < 2; by_asid++) {
        struct tlb_policy p;

        settled(&p, by_asid);
        uint64_t before = p.flushes_asid + p.flushes_all;
        for (int i = 0; i < 1000; i++) {
            tlb_on_vmrun12(&p, 5, 0x5000, CTL_NONE);
            expect_quiet(&p);
            tlb_on_invlpga(&p, 6); /* another L2 guest's page */
            expect_quiet(&p);
        }
        assert_int_equal(p.flushes_asid + p.flushes_all, before);
        assert_int_equal(p.npt02_resyncs, 1);
    }
}

static void test_first_vmrun12_flushes_l2_and_resyncs(void **state)
{
    struct tlb_policy p;

    tlb_policy_init(&p, true, 1);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ASID);
    tlb_on_vmrun12(&p, 1, 0x1000, CTL_NONE);
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_INIT) | BIT(TLB_WHY_VASID));
    assert_int_equal(p.l1_pending, 0);
    assert_true(tlb_take_npt02_resync(&p));
    assert_false(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    assert_int_equal(p.l2[p.cur].vasid, 1);
    assert_int_equal(p.l2[p.cur].ncr3, 0x1000);
}

static void test_l1_flush_request_is_l1_only(void **state)
{
    struct tlb_policy p;

    settled(&p, true);
    tlb_on_l1_flush_request(&p);
    assert_int_equal(p.l1_pending, BIT(TLB_WHY_L0));
    assert_int_equal(tlb_pending(&p, L2), 0);
    assert_false(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_NONE);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ASID);
    expect_quiet(&p);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_L0], 1);
}

static void test_npt01_change_flushes_both_and_resyncs(void **state)
{
    struct tlb_policy p;

    settled(&p, true);
    tlb_on_npt01_change(&p);
    assert_int_equal(p.l1_pending, BIT(TLB_WHY_NPT01));
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_NPT01));
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ASID);
    expect_quiet(&p);

    /* Without FlushByAsid: one 01h, whichever context runs first. */
    settled(&p, false);
    tlb_on_npt01_change(&p);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ALL);
    assert_int_equal(tlb_pending(&p, L2), 0);
    assert_true(tlb_take_npt02_resync(&p)); /* a flush does not drop NPT02 */
    expect_quiet(&p);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_NPT01], 1);
}

static void test_npt02_change_flushes_l2_without_resync(void **state)
{
    struct tlb_policy p;

    settled(&p, true);
    tlb_on_npt02_change(&p);
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_NPT02));
    assert_int_equal(p.l1_pending, 0);
    assert_false(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_NONE);
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    expect_quiet(&p);
}

static void test_npt02_resync_request_owes_flush(void **state)
{
    struct tlb_policy p;

    settled(&p, true);
    tlb_request_npt02_resync(&p);
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_NPT02_DROP));
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    expect_quiet(&p);
    assert_int_equal(p.npt02_resyncs, 2);
}

static void test_vmrun12_l1_tlb_control(void **state)
{
    static const uint8_t asid_only[] = { CTL_ASID, CTL_LOCAL };
    static const uint8_t everything[] = { CTL_ALL, 0x02, 0x05, 0x0f, 0xff };
    struct tlb_policy p;

    for (size_t i = 0; i < sizeof(asid_only); i++) {
        settled(&p, true);
        tlb_on_vmrun12(&p, 5, 0x5000, asid_only[i]);
        assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_L1_CONTROL));
        assert_int_equal(p.l1_pending, 0);
        assert_true(tlb_take_npt02_resync(&p));
        assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
        assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_NONE);
        expect_quiet(&p);
    }
    /* 01h flushes L1's own ASID in L1's view; reserved values are read
     * as the strongest request. */
    for (size_t i = 0; i < sizeof(everything); i++) {
        settled(&p, true);
        tlb_on_vmrun12(&p, 5, 0x5000, everything[i]);
        assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_L1_CONTROL));
        assert_int_equal(p.l1_pending, BIT(TLB_WHY_L1_CONTROL));
        assert_true(tlb_take_npt02_resync(&p));
        assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
        assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ASID);
        expect_quiet(&p);
    }
    settled(&p, false);
    tlb_on_vmrun12(&p, 5, 0x5000, CTL_ALL);
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ALL);
    expect_quiet(&p); /* the 01h at L2's VMRUN paid L1's debt too */
}

static void test_vmrun12_vasid_and_ncr3_changes(void **state)
{
    struct tlb_policy p;

    settled(&p, true);
    tlb_on_vmrun12(&p, 6, 0x5000, CTL_NONE); /* another vASID */
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_VASID));
    assert_int_equal(p.l1_pending, 0);
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    assert_int_equal(p.l2[p.cur].vasid, 6);
    expect_quiet(&p);

    tlb_on_vmrun12(&p, 6, 0x7000, CTL_NONE); /* same vASID, other nCR3 */
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_NCR3));
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    expect_quiet(&p);

    tlb_on_vmrun12(&p, 6, TLB_NCR3_NONE, CTL_NONE); /* L1 turned NP off */
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_NCR3));
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    tlb_on_vmrun12(&p, 6, TLB_NCR3_NONE, CTL_NONE);
    expect_quiet(&p);

    /* Switching back and forth flushes each time with one L2 entry (the
     * cache is test_cache_*). */
    tlb_on_vmrun12(&p, 5, 0x5000, CTL_NONE);
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_VASID], 2 + 1); /* + settled() */
    assert_int_equal(p.flushes_by_reason[TLB_WHY_NCR3], 2);
}

static void test_invlpga(void **state)
{
    struct tlb_policy p;

    settled(&p, true);
    tlb_on_invlpga(&p, 7); /* not the L2 the host holds: nothing */
    expect_quiet(&p);

    tlb_on_invlpga(&p, 5); /* the current L2 */
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_INVLPGA));
    assert_int_equal(p.l1_pending, 0);
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_NONE);
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    expect_quiet(&p);

    tlb_on_invlpga(&p, 0); /* L1's own ASID */
    assert_int_equal(p.l1_pending, BIT(TLB_WHY_INVLPGA));
    assert_int_equal(tlb_pending(&p, L2), 0);
    assert_false(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ASID);
    expect_quiet(&p);

    /* Before any VMRUN12, INVLPGA of an L2 ASID hits nothing. */
    tlb_policy_init(&p, false, 1);
    (void)tlb_control_for_vmrun(&p, L1);
    tlb_on_invlpga(&p, 1);
    expect_quiet(&p);
}

static void test_flush_all_pays_other_context(void **state)
{
    struct tlb_policy p;

    settled(&p, false);
    tlb_on_l1_flush_request(&p);
    tlb_on_npt02_change(&p);
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ALL);
    assert_int_equal(p.l1_pending, 0);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_L0], 1);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_NPT02], 1);
    expect_quiet(&p);

    /* With FlushByAsid the other context keeps its debt. */
    settled(&p, true);
    tlb_on_l1_flush_request(&p);
    tlb_on_npt02_change(&p);
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    assert_int_equal(p.l1_pending, BIT(TLB_WHY_L0));
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ASID);
    expect_quiet(&p);
}

static void test_debts_accumulate_until_paid(void **state)
{
    struct tlb_policy p;

    settled(&p, true);
    tlb_on_invlpga(&p, 5);
    tlb_on_npt02_change(&p);
    tlb_on_vmrun12(&p, 5, 0x5000, CTL_ASID);
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_INVLPGA) | BIT(TLB_WHY_NPT02) |
                                        BIT(TLB_WHY_L1_CONTROL));
    /* Several VMRUNs of VMCB01 in between do not pay L2's debt. */
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_NONE);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_NONE);
    assert_true(tlb_take_npt02_resync(&p));
    uint64_t n = p.flushes_asid;
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    assert_int_equal(p.flushes_asid, n + 1); /* one flush for three reasons */
    assert_int_equal(p.flushes_by_reason[TLB_WHY_INVLPGA], 1);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_NPT02], 1);
    assert_int_equal(p.flushes_by_reason[TLB_WHY_L1_CONTROL], 1);
    expect_quiet(&p);
}

/* ------------------------------------------------------------------------ */
/* The L2 entry cache (issue 10): several (vASID, nCR3) on one vCPU           */
/* ------------------------------------------------------------------------ */

/* What a nested round trip costs the policy: VMRUN12 of (vasid, ncr3), the
 * run loop's VMRUN of VMCB02 (maybe dropping NPT02), the #VMEXIT's
 * switch_vmcb() back and the VMRUN of VMCB01. */
static void round_trip(struct tlb_policy *p, uint32_t vasid, uint64_t ncr3, uint8_t ctl)
{
    (void)tlb_control_for_leaving(p, L1);
    tlb_on_vmrun12(p, vasid, ncr3, ctl);
    (void)tlb_take_npt02_resync(p);
    (void)tlb_control_for_vmrun(p, L2);
    assert_int_equal(tlb_control_for_leaving(p, L2), CTL_NONE);
    (void)tlb_control_for_vmrun(p, L1);
}

static uint64_t flushes(const struct tlb_policy *p)
{
    return p->flushes_asid + p->flushes_all;
}

static void test_cache_entries_for_nasid(void **state)
{
    (void)state;
    assert_int_equal(tlb_l2_entries_for(3), 1); /* the minimum: today's behaviour */
    assert_int_equal(tlb_l2_entries_for(4), 2);
    assert_int_equal(tlb_l2_entries_for(5), 3);
    assert_int_equal(tlb_l2_entries_for(16), TLB_L2_MAX); /* TCG */
    assert_int_equal(tlb_l2_entries_for(32768), TLB_L2_MAX);
    assert_int_equal(tlb_l2_entries_for(0), 1);
}

/* The design goal: L1 alternating between up to TLB_L2_MAX guests (other
 * vASIDs, or one vASID on other nCR3s) with TLB_CONTROL 0 costs no flush
 * and no NPT02 drop once each has run; with one entry every switch costs
 * both (the old design, a CPU with 3 ASIDs). */
static void test_cache_alternating_costs_nothing(void **state)
{
    (void)state;
    for (int by_asid = 0; by_asid < 2; by_asid++) {
        for (unsigned keys = 2; keys <= TLB_L2_MAX; keys++) {
            for (int same_vasid = 0; same_vasid < 2; same_vasid++) {
                struct tlb_policy p;
                settled_n(&p, by_asid, TLB_L2_MAX);
                for (unsigned k = 0; k < keys; k++) /* the first round */
                    round_trip(&p, same_vasid ? 5 : 5 + k, 0x100000 + k * 0x1000, CTL_NONE);
                uint64_t f = flushes(&p), r = p.npt02_resyncs, miss = p.l2_misses;
                for (int round = 0; round < 100; round++)
                    for (unsigned k = 0; k < keys; k++)
                        round_trip(&p, same_vasid ? 5 : 5 + k, 0x100000 + k * 0x1000, CTL_NONE);
                assert_int_equal(flushes(&p), f);
                assert_int_equal(p.npt02_resyncs, r);
                assert_int_equal(p.l2_misses, miss);
            }
        }
        /* One entry: each switch flushes and drops. */
        struct tlb_policy p;
        settled_n(&p, by_asid, 1);
        uint64_t f = flushes(&p), r = p.npt02_resyncs;
        for (int round = 0; round < 10; round++)
            for (unsigned k = 0; k < 2; k++)
                round_trip(&p, 5 + k, 0x100000 + k * 0x1000, CTL_NONE);
        assert_int_equal(flushes(&p), f + 20);
        assert_int_equal(p.npt02_resyncs, r + 20);
    }
}

/* One guest more than entries: the least recently used entry is taken,
 * flushed and dropped; the others stay. */
static void test_cache_lru_replacement(void **state)
{
    (void)state;
    struct tlb_policy p;
    settled_n(&p, true, TLB_L2_MAX); /* vASID 5 on 0x5000 in entry 0 */
    for (unsigned k = 1; k < TLB_L2_MAX; k++)
        round_trip(&p, 10 + k, 0x5000, CTL_NONE);
    round_trip(&p, 5, 0x5000, CTL_NONE); /* entry 0 is the most recent again */
    assert_int_equal(p.cur, 0);
    assert_false(tlb_on_vmrun12(&p, 5, 0x5000, CTL_NONE)); /* same entry */
    assert_false(tlb_on_vmrun12(&p, 5, 0x5000, CTL_ASID)); /* same entry, flushed */
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    assert_true(tlb_on_vmrun12(&p, 99, 0x9000, CTL_NONE)); /* a new guest takes the LRU: entry 1 */
    assert_int_equal(p.cur, 1);
    assert_int_equal(tlb_pending(&p, L2), BIT(TLB_WHY_VASID));
    assert_true(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    /* The others kept their translations. */
    uint64_t f = flushes(&p);
    round_trip(&p, 5, 0x5000, CTL_NONE);
    for (unsigned k = 2; k < TLB_L2_MAX; k++)
        round_trip(&p, 10 + k, 0x5000, CTL_NONE);
    assert_int_equal(flushes(&p), f);
    /* Same vASID, another nCR3: an entry of its own, taken as NCR3. */
    tlb_on_vmrun12(&p, 5, 0x6000, CTL_NONE);
    assert_int_not_equal(p.cur, 0);
    assert_true(tlb_pending(&p, L2) & (BIT(TLB_WHY_NCR3) | BIT(TLB_WHY_VASID)));
}

/* Four entries: (5, A) (5, B) (6, A) (7, A), all paid up, (7, A) current. */
static void four_guests(struct tlb_policy *p, bool by_asid)
{
    settled_n(p, by_asid, 4);
    round_trip(p, 5, 0xB000, CTL_NONE);
    round_trip(p, 6, 0x5000, CTL_NONE);
    round_trip(p, 7, 0x5000, CTL_NONE);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(p->l2[i].pending, 0);
        assert_false(p->l2[i].resync);
    }
}

static unsigned entry_of(const struct tlb_policy *p, uint32_t vasid, uint64_t ncr3)
{
    for (unsigned i = 0; i < p->n_l2; i++)
        if (p->l2[i].vasid == vasid && p->l2[i].ncr3 == ncr3)
            return i;
    fail_msg("no entry for vASID %u nCR3 %#llx", vasid, (unsigned long long)ncr3);
    return 0;
}

/* TLB_CONTROL 03h/07h with vASID 5 flushes all of vASID 5, on every nCR3
 * (APM 15.16.1); 01h every entry and L1. */
static void test_cache_l1_control_reaches_every_entry_of_vasid(void **state)
{
    (void)state;
    struct tlb_policy p;
    four_guests(&p, true);
    tlb_on_vmrun12(&p, 5, 0x5000, CTL_ASID);
    unsigned a = entry_of(&p, 5, 0x5000), b = entry_of(&p, 5, 0xB000);
    assert_int_equal(p.cur, a);
    assert_true(p.l2[a].pending && p.l2[a].resync);
    assert_true(p.l2[b].pending && p.l2[b].resync);
    assert_int_equal(p.l2[entry_of(&p, 6, 0x5000)].pending, 0);
    assert_int_equal(p.l2[entry_of(&p, 7, 0x5000)].pending, 0);
    assert_int_equal(p.l1_pending, 0);

    four_guests(&p, true);
    tlb_on_vmrun12(&p, 6, 0x5000, CTL_ALL);
    for (unsigned i = 0; i < 4; i++)
        assert_true(p.l2[i].pending == BIT(TLB_WHY_L1_CONTROL) && p.l2[i].resync);
    assert_int_equal(p.l1_pending, BIT(TLB_WHY_L1_CONTROL));
}

/* INVLPGA of a vASID reaches its entries that are not running too. */
static void test_cache_invlpga_reaches_cached_entries(void **state)
{
    (void)state;
    struct tlb_policy p;
    four_guests(&p, true);
    tlb_on_invlpga(&p, 5);
    assert_true(p.l2[entry_of(&p, 5, 0x5000)].resync);
    assert_true(p.l2[entry_of(&p, 5, 0xB000)].resync);
    assert_int_equal(p.l2[entry_of(&p, 5, 0xB000)].pending, BIT(TLB_WHY_INVLPGA));
    assert_int_equal(p.l2[entry_of(&p, 7, 0x5000)].pending, 0);
    assert_int_equal(p.l1_pending, 0);
    tlb_on_invlpga(&p, 8); /* no entry holds it */
    assert_int_equal(p.l2[entry_of(&p, 6, 0x5000)].pending, 0);
    assert_int_equal(p.l2[entry_of(&p, 7, 0x5000)].pending, 0);
}

/* An entry's debt is paid only at a VMRUN with its own ASID: leaving L2
 * writes nothing into VMCB02, another entry's VMRUN does not pay it
 * (with FlushByAsid); a 01h pays every debt. */
static void test_cache_debt_stays_with_entry(void **state)
{
    (void)state;
    struct tlb_policy p;
    four_guests(&p, true);
    unsigned e7 = p.cur;
    tlb_on_npt02_change(&p); /* L0 changed an NPT02 entry of (7, A) */
    assert_int_equal(tlb_control_for_leaving(&p, L2), CTL_NONE);
    assert_int_equal(p.l2[e7].pending, BIT(TLB_WHY_NPT02));
    tlb_on_vmrun12(&p, 6, 0x5000, CTL_NONE);
    assert_false(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_NONE);
    assert_int_equal(p.l2[e7].pending, BIT(TLB_WHY_NPT02));
    tlb_on_vmrun12(&p, 7, 0x5000, CTL_NONE);
    assert_false(tlb_take_npt02_resync(&p)); /* a changed entry, not a drop */
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);

    four_guests(&p, false);
    tlb_on_npt02_evicted(&p, entry_of(&p, 5, 0x5000)); /* budget: tree given away */
    tlb_on_l1_flush_request(&p);
    assert_int_equal(tlb_control_for_vmrun(&p, L1), CTL_ALL);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(p.l2[i].pending, 0);
}

/* An entry whose NPT02 L0 gave away owes its ASID a flush, not a drop. */
static void test_cache_evicted_entry_owes_flush(void **state)
{
    (void)state;
    struct tlb_policy p;
    four_guests(&p, true);
    unsigned e = entry_of(&p, 6, 0x5000);
    tlb_on_npt02_evicted(&p, e);
    assert_int_equal(p.l2[e].pending, BIT(TLB_WHY_NPT02_DROP));
    assert_false(p.l2[e].resync);
    tlb_on_vmrun12(&p, 6, 0x5000, CTL_NONE);
    assert_int_equal(p.cur, e);
    assert_false(tlb_take_npt02_resync(&p));
    assert_int_equal(tlb_control_for_vmrun(&p, L2), CTL_ASID);
    /* NPT01 changes reach every entry. */
    tlb_on_npt01_change(&p);
    for (unsigned i = 0; i < 4; i++)
        assert_true(p.l2[i].pending == BIT(TLB_WHY_NPT01) && p.l2[i].resync);
}

/* ======================================================================== */
/* The model                                                                */
/* ======================================================================== */

#define N_PAGES 8   /* L2 guest-physical pages; also L1 virtual pages */
#define N_GPA1 24   /* L1-physical pages (a set of them fits a uint32_t) */
#define N_ROOTS 5   /* NPT12 tables: L1's L2 guests (more than 4 entries) */
#define N_VASID 4   /* vASIDs 1..N_VASID */
#define N_ENT TLB_L2_MAX
#define N_SLOTS (1 + N_ENT) /* host ASIDs: slot 0 L1, slot 1 + i L2 entry i */
#define TRACE 24    /* last actions printed on a failure */

enum mutant {
    MUT_NONE,
    MUT_IGNORE_VASID,       /* VMRUN12 seen with the old vASID */
    MUT_IGNORE_L1_CONTROL,  /* VMCB12 TLB_CONTROL seen as 00h */
    MUT_CONTROL_01_AS_03,   /* forgets that 01h flushes L1's own ASID */
    MUT_IGNORE_INVLPGA,     /* INVLPGA of an L2 vASID ignored */
    MUT_IGNORE_INVLPGA_0,   /* INVLPGA of L1's ASID ignored */
    MUT_INVLPGA_NO_RESYNC,  /* INVLPGA flushes but keeps NPT02 */
    MUT_IGNORE_NPT01,       /* NPT01 changes ignored */
    MUT_NPT01_NO_RESYNC,    /* NPT01 changes flush but keep NPT02 */
    MUT_IGNORE_NPT02,       /* NPT02 changes by L0 ignored */
    MUT_DROP_NO_FLUSH,      /* dropping NPT02 owes no flush */
    MUT_IGNORE_L0_REQUEST,  /* L0's L1 flush requests ignored */
    MUT_NEVER_RESYNC,       /* NPT02 never dropped */
    MUT_NO_INIT_FLUSH,      /* trusts the ASIDs to be empty at start */
    MUT_WRONG_KIND,         /* 03h without FlushByAsid */
    MUT_FLUSH_ALWAYS,       /* every VMRUN flushes */
    MUT_FLUSH_ON_NESTED,    /* every VMRUN12 flushes L2 (the cost we avoid) */
    MUT_RESYNC_ALWAYS,      /* NPT02 dropped at every VMRUN of VMCB02 */
    MUT_INVLPGA_ANY,        /* INVLPGA of any vASID flushes L2 */
    MUT_LEAVING_LOST,       /* switch_vmcb() takes the leaving requests, writes none */
    MUT_NO_REMOTE_FLUSH,    /* an NPT01 change flushes only the CPU that made it */
    MUT_NO_KICK,            /* the other CPU is asked, but not made to exit */
    /* The L2 entry cache (issue 10). */
    MUT_CTL03_ONE_ENTRY,    /* 03h flushes the running entry, not the vASID's others */
    MUT_INVLPGA_MISSES_CACHED, /* INVLPGA reaches the running entry only */
    MUT_EVICT_NO_FLUSH,     /* an entry whose NPT02 was given away reused without flush */
    MUT_REKEY_NO_FLUSH,     /* an entry taken for another (vASID, nCR3) without flush/drop */
    MUT_NPT01_ONE_ENTRY,    /* an NPT01 change reaches the running entry only */
    MUT_LEAVING_INTO_VMCB02, /* leaving L2 writes the entry's debt into VMCB02 */
    MUT_ONE_ASID,           /* every entry's NPT02 run on one host ASID */
    MUT_VMCB02_KEPT,        /* VMCB02 keeps the old entry's ASID and NPT02 */
    MUT_COUNT
};

static const char *const mutant_names[MUT_COUNT] = {
    [MUT_NONE] = "none",
    [MUT_IGNORE_VASID] = "ignore vASID change",
    [MUT_IGNORE_L1_CONTROL] = "ignore VMCB12 TLB_CONTROL",
    [MUT_CONTROL_01_AS_03] = "01h as 03h",
    [MUT_IGNORE_INVLPGA] = "ignore INVLPGA",
    [MUT_IGNORE_INVLPGA_0] = "ignore INVLPGA of ASID 0",
    [MUT_INVLPGA_NO_RESYNC] = "INVLPGA without resync",
    [MUT_IGNORE_NPT01] = "ignore NPT01 change",
    [MUT_NPT01_NO_RESYNC] = "NPT01 change without resync",
    [MUT_IGNORE_NPT02] = "ignore NPT02 change",
    [MUT_DROP_NO_FLUSH] = "NPT02 drop without flush",
    [MUT_IGNORE_L0_REQUEST] = "ignore L0's L1 flush request",
    [MUT_NEVER_RESYNC] = "never resync",
    [MUT_NO_INIT_FLUSH] = "no initial flush",
    [MUT_WRONG_KIND] = "03h without FlushByAsid",
    [MUT_FLUSH_ALWAYS] = "flush at every VMRUN",
    [MUT_LEAVING_LOST] = "leaving context's requests lost in switch_vmcb",
    [MUT_NO_REMOTE_FLUSH] = "NPT01 change not sent to the other CPUs",
    [MUT_NO_KICK] = "other CPU asked to flush but not kicked out of its guest",
    [MUT_FLUSH_ON_NESTED] = "flush at every VMRUN12",
    [MUT_RESYNC_ALWAYS] = "resync at every VMRUN of VMCB02",
    [MUT_INVLPGA_ANY] = "INVLPGA of any vASID flushes",
    [MUT_CTL03_ONE_ENTRY] = "no flush of the other entries of a vASID on TLB_CONTROL 03h",
    [MUT_INVLPGA_MISSES_CACHED] = "INVLPGA misses a cached entry",
    [MUT_EVICT_NO_FLUSH] = "an evicted entry reused without flush",
    [MUT_REKEY_NO_FLUSH] = "an entry taken for another vASID/nCR3 without flush",
    [MUT_NPT01_ONE_ENTRY] = "NPT01 change reaches the running entry only",
    [MUT_LEAVING_INTO_VMCB02] = "leaving L2 writes the entry's debt into VMCB02",
    [MUT_ONE_ASID] = "every L2 entry on one host ASID",
    [MUT_VMCB02_KEPT] = "VMCB02 keeps the previous entry's ASID and NPT02",
};

struct tlbe {
    bool valid;
    uint64_t hpa;
    uint64_t tag; /* L1: the l1_gen it was made under; L2: NPT02 serial */
};

struct npt02e {
    bool present;
    uint8_t gpa1;
    uint64_t hpa;
    uint64_t serial; /* unique over all trees */
};

struct model {
    bool by_asid;
    unsigned n_ent;  /* L2 entries of the policy: 1..N_ENT */
    enum mutant mut;
    uint64_t rng;
    struct tlb_policy pol;

    /* L0's tables. NPT01 is the machine's, shared by every vCPU: n01 points
     * at own_n01, or at another model's when two vCPUs run (peer). */
    struct npt01_shared {
        struct { bool present; uint64_t hpa; } e[N_GPA1];
        uint64_t next_hpa;
    } own_n01, *n01;
    struct model *peer;
    uint64_t l1_gen;
    struct npt02e npt02[N_ENT][N_PAGES]; /* one tree per L2 entry */
    uint64_t next_serial;

    /* L1's tables, and what the architecture lets each context still see. */
    uint8_t pt1[N_PAGES];                     /* L1 VA page -> L1-physical */
    uint32_t cached1[N_PAGES];                /* L1-physical pages, by VA */
    uint8_t npt12[N_ROOTS][N_PAGES];          /* L2-physical -> L1-physical */
    uint32_t cached12[N_VASID + 1][N_PAGES];  /* by vASID and L2 page */
    uint32_t root_vasid[N_ROOTS];             /* the vASID L1 gives each guest */
    uint32_t vasid;                           /* what L1 last ran (0 = none) */
    int root;
    int edit_root, edit_page;                 /* L1's last NPT12 edit */

    /* The CPU: one TLB per host ASID (indexed by page), who runs, and the
     * ASID and NPT02 VMCB02 was given (hv/tlb/switch_vmcb.c). */
    struct tlbe tlb[N_SLOTS][N_PAGES];
    enum tlb_ctx running;
    bool launched;                        /* the first switch_to() happened */
    uint8_t vmcb_ctl[TLB_CTX_COUNT];      /* TLB_CONTROL left in each VMCB */
    unsigned vmcb02_slot, vmcb02_tree;
    /* Which key (vASID, NPT12) each L2 slot last ran with: the model's own
     * record of whose translations each host ASID may hold. */
    uint32_t slot_vasid[N_SLOTS];
    int slot_root[N_SLOTS];
    uint32_t tree_vasid[N_ENT];               /* and each NPT02 was filled for */
    int tree_root[N_ENT];

    /* Which flushes and drops some event since the last one allows. */
    bool may_flush[N_SLOTS];
    bool may_resync[N_ENT];

    /* Outcome. */
    bool failed;
    char msg[2048];
    uint64_t step;
    char trace[TRACE][64];
    unsigned ntrace;

    /* Statistics. */
    uint64_t vmruns[TLB_CTX_COUNT], flushes[TLB_CTX_COUNT], resyncs, evictions;
    uint64_t nested, quiet_nested, l2_accesses, stale_hits;
};

static uint32_t rnd(struct model *m, uint32_t n)
{
    return (uint32_t)(xorshift64s(&m->rng) >> 33) % n;
}

static void note(struct model *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m->trace[m->ntrace++ % TRACE], sizeof(m->trace[0]), fmt, ap);
    va_end(ap);
}

static void violation(struct model *m, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (m->failed)
        return;
    m->failed = true;
    n = snprintf(m->msg, sizeof(m->msg), "step %llu: ", (unsigned long long)m->step);
    va_start(ap, fmt);
    n += vsnprintf(m->msg + n, sizeof(m->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    n += snprintf(m->msg + n, sizeof(m->msg) - (size_t)n, "\n  last actions:");
    for (unsigned i = m->ntrace > TRACE ? m->ntrace - TRACE : 0; i < m->ntrace; i++) {
        if ((size_t)n >= sizeof(m->msg))
            break;
        n += snprintf(m->msg + n, sizeof(m->msg) - (size_t)n, "\n    %s",
                      m->trace[i % TRACE]);
    }
}

static uint64_t ncr3_of(int root)
{
    return 0x100000u + (uint64_t)root * 0x1000u;
}

/* --- The policy as the model calls it, maybe with one mutation ---------- */

/* The entries' state, to undo part of what a call did (the mutants). */
struct snap {
    struct tlb_l2_entry e[N_ENT];
};
static void take_snap(const struct model *m, struct snap *s)
{
    memcpy(s->e, m->pol.l2, sizeof(s->e));
}
/* Undoes the call for every entry but the running one. */
static void undo_others(struct model *m, const struct snap *s)
{
    for (unsigned i = 0; i < m->n_ent; i++)
        if (i != m->pol.cur) {
            m->pol.l2[i].pending = s->e[i].pending;
            m->pol.l2[i].resync = s->e[i].resync;
        }
}

static void pol_l1_flush_request(struct model *m)
{
    if (m->mut != MUT_IGNORE_L0_REQUEST)
        tlb_on_l1_flush_request(&m->pol);
}

static void pol_npt01_change(struct model *m)
{
    struct snap s;

    if (m->mut == MUT_IGNORE_NPT01)
        return;
    take_snap(m, &s);
    tlb_on_npt01_change(&m->pol);
    if (m->mut == MUT_NPT01_NO_RESYNC)
        for (unsigned i = 0; i < m->n_ent; i++)
            m->pol.l2[i].resync = s.e[i].resync;
    if (m->mut == MUT_NPT01_ONE_ENTRY)
        undo_others(m, &s);
}

static void pol_npt02_change(struct model *m)
{
    if (m->mut != MUT_IGNORE_NPT02)
        tlb_on_npt02_change(&m->pol);
}

static void pol_npt02_evicted(struct model *m, unsigned i)
{
    uint16_t owed = m->pol.l2[i].pending;

    tlb_on_npt02_evicted(&m->pol, i);
    if (m->mut == MUT_EVICT_NO_FLUSH)
        m->pol.l2[i].pending = owed;
}

static void pol_request_resync(struct model *m)
{
    struct snap s;

    take_snap(m, &s);
    tlb_request_npt02_resync(&m->pol);
    if (m->mut == MUT_DROP_NO_FLUSH)
        for (unsigned i = 0; i < m->n_ent; i++)
            m->pol.l2[i].pending = s.e[i].pending;
}

static bool pol_vmrun12(struct model *m, uint32_t vasid, uint64_t ncr3, uint8_t ctl)
{
    struct tlb_policy *p = &m->pol;
    uint32_t last = p->l2[p->cur].vasid;
    struct snap s;

    if (m->mut == MUT_IGNORE_VASID && last)
        vasid = last;
    if (m->mut == MUT_IGNORE_L1_CONTROL)
        ctl = CTL_NONE;
    if (m->mut == MUT_CONTROL_01_AS_03 && ctl != CTL_NONE && ctl != CTL_LOCAL)
        ctl = CTL_ASID;
    if (m->mut == MUT_FLUSH_ON_NESTED)
        ctl = CTL_ASID;
    take_snap(m, &s);
    uint64_t misses = p->l2_misses;
    bool switched = tlb_on_vmrun12(p, vasid, ncr3, ctl);
    if (m->mut == MUT_CTL03_ONE_ENTRY && (ctl == CTL_ASID || ctl == CTL_LOCAL))
        undo_others(m, &s);
    if (m->mut == MUT_REKEY_NO_FLUSH && p->l2_misses != misses && ctl == CTL_NONE) {
        p->l2[p->cur].pending = s.e[p->cur].pending;
        p->l2[p->cur].resync = s.e[p->cur].resync;
    }
    return switched && m->mut != MUT_VMCB02_KEPT;
}

static void pol_invlpga(struct model *m, uint32_t vasid)
{
    struct snap s;

    if (m->mut == MUT_IGNORE_INVLPGA && vasid != 0)
        return;
    if (m->mut == MUT_IGNORE_INVLPGA_0 && vasid == 0)
        return;
    if (m->mut == MUT_INVLPGA_ANY && vasid != 0)
        vasid = m->pol.l2[m->pol.cur].vasid;
    take_snap(m, &s);
    tlb_on_invlpga(&m->pol, vasid);
    if (m->mut == MUT_INVLPGA_NO_RESYNC)
        for (unsigned i = 0; i < m->n_ent; i++)
            m->pol.l2[i].resync = s.e[i].resync;
    if (m->mut == MUT_INVLPGA_MISSES_CACHED && vasid != 0)
        undo_others(m, &s);
}

static bool pol_take_resync(struct model *m)
{
    bool r = tlb_take_npt02_resync(&m->pol);

    if (m->mut == MUT_NEVER_RESYNC)
        return false;
    return r || m->mut == MUT_RESYNC_ALWAYS;
}

static uint8_t pol_control(struct model *m, enum tlb_ctx ctx)
{
    uint8_t c = tlb_control_for_vmrun(&m->pol, ctx);

    if (m->mut == MUT_WRONG_KIND && c == CTL_ALL)
        return CTL_ASID;
    if (m->mut == MUT_FLUSH_ALWAYS && c == CTL_NONE)
        return m->by_asid ? CTL_ASID : CTL_ALL;
    return c;
}

/* --- What the architecture allows --------------------------------------- */

/* The L1-physical page in `set` that NPT01 now backs with hpa, or -1. */
static int backed_by(const struct model *m, uint32_t set, uint64_t hpa)
{
    for (int g = 0; g < N_GPA1; g++)
        if ((set & (1u << g)) && m->n01->e[g].present && m->n01->e[g].hpa == hpa)
            return g;
    return -1;
}

static int l1_allowed(const struct model *m, int va, const struct tlbe *e)
{
    if (e->tag != m->l1_gen)
        return -1;
    return backed_by(m, m->cached1[va] | (1u << m->pt1[va]), e->hpa);
}

static int l2_allowed(const struct model *m, int x, uint64_t hpa)
{
    return backed_by(m, m->cached12[m->vasid][x] | (1u << m->npt12[m->root][x]), hpa);
}

static unsigned slot_of(enum tlb_ctx ctx, const struct model *m)
{
    return ctx == L1 ? 0 : m->vmcb02_slot;
}

/* Everything ctx could use once it runs: its host ASID's TLB entries and,
 * for L2, the NPT02 VMCB02 points at, which the CPU walks on a miss. */
static void check_context(struct model *m, enum tlb_ctx ctx)
{
    unsigned s = slot_of(ctx, m), t = m->vmcb02_tree;

    for (int i = 0; i < N_PAGES; i++) {
        const struct tlbe *e = &m->tlb[s][i];

        if (!e->valid)
            continue;
        if (ctx == L1) {
            if (l1_allowed(m, i, e) < 0)
                violation(m, "L1 may use a translation of VA page %d (hpa %#llx, gen %llu) "
                        "the architecture says is gone (missing L1 flush)",
                     i, (unsigned long long)e->hpa, (unsigned long long)e->tag);
            continue;
        }
        if (!m->npt02[t][i].present || m->npt02[t][i].serial != e->tag)
            violation(m, "L2 TLB entry (ASID slot %u) for page %d is not from the NPT02 it "
                      "runs on, or outlived it (missing L2 flush)", s, i);
        else if (l2_allowed(m, i, e->hpa) < 0)
            violation(m, "L2 (vASID %u) may use a translation of page %d the architecture "
                    "says is gone (missing L2 flush)", m->vasid, i);
    }
    if (ctx == L2)
        for (int x = 0; x < N_PAGES; x++)
            if (m->npt02[t][x].present && l2_allowed(m, x, m->npt02[t][x].hpa) < 0)
                violation(m, "NPT02 %u maps page %d to a translation vASID %u may no longer "
                        "use (missing resync)", t, x, m->vasid);
}

/* --- The CPU and L0 ------------------------------------------------------ */

static void hw_flush(struct model *m, unsigned slot)
{
    for (int i = 0; i < N_PAGES; i++)
        m->tlb[slot][i].valid = false;
}

static void drop_tree(struct model *m, unsigned t)
{
    for (int x = 0; x < N_PAGES; x++)
        m->npt02[t][x].present = false;
}

/* hv/tlb/tlb.c: the current entry's NPT02, if owed. */
static void drop_npt02_if_owed(struct model *m)
{
    unsigned t = m->pol.cur;

    if (!pol_take_resync(m))
        return;
    if (!m->may_resync[t])
        violation(m, "NPT02 %u dropped though nothing since the last drop needs it", t);
    m->may_resync[t] = false;
    drop_tree(m, t);
    m->resyncs++;
}

/* What switch_vmcb() does (hv/tlb/switch_vmcb.c, hv/tlb/tlb.c): the leaving
 * context's requests go into the VMCB it leaves, then the switch. Every
 * change of context, the launch included, goes through here. */
static void switch_to(struct model *m, enum tlb_ctx to)
{
    if (m->launched && m->running == to)
        return;
    if (m->launched) {
        enum tlb_ctx from = m->running;
        if (from == L2)
            drop_npt02_if_owed(m);
        uint8_t c = m->mut == MUT_LEAVING_LOST ? CTL_NONE
                                                : tlb_control_for_leaving(&m->pol, from);
        if (m->mut == MUT_LEAVING_LOST)
            (void)tlb_control_for_leaving(&m->pol, from); /* taken, then lost */
        if (m->mut == MUT_LEAVING_INTO_VMCB02 && from == L2 && tlb_pending(&m->pol, L2)) {
            /* the old design's step 1 for L2: blind to the ASID VMCB02 runs next */
            m->pol.l2[m->pol.cur].pending = 0;
            c = m->by_asid ? CTL_ASID : CTL_ALL;
        }
        m->vmcb_ctl[from] = tlb_control_merge(m->vmcb_ctl[from], c);
        note(m, "  switch_vmcb: %s leaves TLB_CONTROL %#x", from == L1 ? "VMCB01" : "VMCB02",
             m->vmcb_ctl[from]);
    }
    m->launched = true;
    m->running = to;
}

/* switch_vmcb() into L2 after the policy chose the entry: VMCB02 gets its
 * ASID and NPT02 (nested_vmcb02_use_entry()). */
static void use_entry(struct model *m)
{
    m->vmcb02_tree = m->pol.cur;
    m->vmcb02_slot = m->mut == MUT_ONE_ASID ? 1 : 1 + m->pol.cur;
}

/* What the run loop does: maybe drop NPT02, write TLB_CONTROL (merged
 * with what switch_vmcb() left in this VMCB), VMRUN, clear it. */
static void vmrun(struct model *m, enum tlb_ctx ctx)
{
    uint8_t c;
    unsigned s;

    if (m->running != ctx)
        violation(m, "VMRUN of %s without switch_vmcb()", ctx == L1 ? "VMCB01" : "VMCB02");
    if (ctx == L2)
        drop_npt02_if_owed(m);
    c = tlb_control_merge(m->vmcb_ctl[ctx], pol_control(m, ctx));
    m->vmcb_ctl[ctx] = CTL_NONE;
    if (c == CTL_ALL) { /* every ASID: the other VMCB's flush and all debts are paid */
        m->vmcb_ctl[ctx == L1 ? L2 : L1] = CTL_NONE;
        tlb_paid_all(&m->pol);
    }
    s = slot_of(ctx, m);
    note(m, "  VMRUN %s (ASID slot %u), TLB_CONTROL %#x", ctx == L1 ? "VMCB01" : "VMCB02", s, c);
    m->vmruns[ctx]++;
    if (c != CTL_NONE) {
        if (!m->may_flush[s])
            violation(m, "ASID slot %u flushed (%#x) though nothing since its last flush "
                      "needs it", s, c);
        m->flushes[ctx]++;
    }
    switch (c) {
    case CTL_NONE:
        break;
    case CTL_ALL: /* every ASID (APM 15.16.1) */
        if (m->by_asid)
            violation(m, "TLB_CONTROL 01h although FlushByAsid is there");
        for (unsigned i = 0; i < N_SLOTS; i++) {
            hw_flush(m, i);
            m->may_flush[i] = false;
        }
        break;
    case CTL_ASID: /* this VMCB's ASID */
        if (!m->by_asid)
            violation(m, "TLB_CONTROL 03h without FlushByAsid");
        hw_flush(m, s);
        m->may_flush[s] = false;
        break;
    default:
        violation(m, "TLB_CONTROL %#x is not one the policy may write", c);
    }
    m->running = ctx;
    check_context(m, ctx);
}

/* L0 backs an L1-physical page on first touch: adding where there was
 * nothing owes no flush (not-present translations are not cached). */
static uint64_t npt01_walk(struct model *m, int g)
{
    if (!m->n01->e[g].present) {
        m->n01->e[g].present = true;
        m->n01->e[g].hpa = m->n01->next_hpa++ << 12;
    }
    return m->n01->e[g].hpa;
}

static void allow_all_l2(struct model *m)
{
    for (unsigned i = 0; i < N_ENT; i++) {
        m->may_flush[1 + i] = true;
        m->may_resync[i] = true;
    }
}

static bool tree_used(const struct model *m, unsigned t)
{
    for (int x = 0; x < N_PAGES; x++)
        if (m->npt02[t][x].present)
            return true;
    return false;
}

/* hv/memory/guest_mem.c out of NPT02 budget: the least recently used other entry
 * with tables gives them up (its ASID owes a flush), else the current
 * one is recycled (a change of its NPT02). */
static void l0_budget_runs_out(struct model *m)
{
    unsigned victim = N_ENT, cur = m->pol.cur;

    for (unsigned i = 0; i < m->n_ent; i++)
        if (i != cur && tree_used(m, i) &&
            (victim == N_ENT || m->pol.l2[i].last_used < m->pol.l2[victim].last_used))
            victim = i;
    if (victim == N_ENT) {
        note(m, "L0: out of NPT02 budget, recycles NPT02 %u", cur);
        drop_tree(m, cur);
        m->may_flush[1 + cur] = true;
        pol_npt02_change(m);
        return;
    }
    note(m, "L0: out of NPT02 budget, takes NPT02 %u's tables", victim);
    drop_tree(m, victim);
    m->may_flush[1 + victim] = true;
    m->evictions++;
    pol_npt02_evicted(m, victim);
}

/* Something L0 does on its own at an exit (rarely). */
static void l0_maybe_acts(struct model *m)
{
    uint32_t r = rnd(m, 1000);
    int g = (int)rnd(m, N_GPA1), x = (int)rnd(m, N_PAGES);
    unsigned cur = m->pol.cur;

    if (r < 30) { /* move an L1 page elsewhere, or take it away */
        if (!m->n01->e[g].present)
            return;
        if (r < 20)
            m->n01->e[g].hpa = m->n01->next_hpa++ << 12;
        else
            m->n01->e[g].present = false;
        note(m, "L0: NPT01 %s gpa1 %d", r < 20 ? "remaps" : "unmaps", g);
        m->may_flush[0] = true;
        allow_all_l2(m);
        pol_npt01_change(m);
        /* hv/smp/vcpu_request.c: the other CPU records it before its next
         * VMRUN, and this one waits for that before going on. */
        if (m->peer && m->mut != MUT_NO_REMOTE_FLUSH) {
            struct model *o = m->peer;
            note(o, "L0 on the other CPU changed NPT01: NMI, flush requested");
            o->may_flush[0] = true;
            allow_all_l2(o);
            pol_npt01_change(o);
            /* The kick made it exit; its run loop goes back in, paying. */
            if (m->mut != MUT_NO_KICK)
                vmrun(o, o->running);
        }
    } else if (r < 40) { /* e.g. L1 toggled EFER.NXE */
        note(m, "L0: L1's translations change meaning");
        m->l1_gen++;
        m->may_flush[0] = true;
        pol_l1_flush_request(m);
    } else if (r < 60) { /* e.g. write-protect a page L2 reached */
        if (!m->npt02[cur][x].present)
            return;
        note(m, "L0: zaps entry %d of NPT02 %u", x, cur);
        m->npt02[cur][x].present = false;
        m->may_flush[1 + cur] = true;
        pol_npt02_change(m);
    } else if (r < 70) {
        note(m, "L0: asks for every NPT02 to be dropped");
        allow_all_l2(m);
        pol_request_resync(m);
    } else if (r < 85) {
        l0_budget_runs_out(m);
    }
}

/* --- What the guests do -------------------------------------------------- */

static void l1_access(struct model *m, int va)
{
    struct tlbe *e = &m->tlb[0][va];
    int g;

    if (e->valid) {
        g = l1_allowed(m, va, e);
        if (g < 0) {
            violation(m, "L1 used a stale translation of VA page %d", va);
            return;
        }
    } else { /* TLB miss: walk L1's table, then NPT01 */
        g = m->pt1[va];
        e->valid = true;
        e->hpa = npt01_walk(m, g);
        e->tag = m->l1_gen;
    }
    m->cached1[va] |= 1u << g;
}

static void l2_access(struct model *m, int x)
{
    struct tlbe *e = &m->tlb[m->vmcb02_slot][x];
    struct npt02e *n = &m->npt02[m->vmcb02_tree][x];
    int g;

    m->l2_accesses++;
    if (e->valid) {
        if (!n->present || n->serial != e->tag) {
            violation(m, "L2 used a TLB entry for page %d not from the NPT02 it runs on", x);
            return;
        }
    } else {
        if (!n->present) { /* #NPF: L0 fills NPT02 from NPT12 o NPT01 */
            g = m->npt12[m->root][x];
            n->present = true;
            n->gpa1 = (uint8_t)g;
            n->hpa = npt01_walk(m, g);
            n->serial = ++m->next_serial;
        }
        e->valid = true;
        e->hpa = n->hpa;
        e->tag = n->serial;
    }
    g = l2_allowed(m, x, e->hpa);
    if (g < 0) {
        violation(m, "L2 (vASID %u) used a translation of page %d the architecture says is gone",
             m->vasid, x);
        return;
    }
    if (g != m->npt12[m->root][x])
        m->stale_hits++; /* legal: L1 has not flushed it */
    m->cached12[m->vasid][x] |= 1u << g;
}

static uint8_t random_l1_tlb_control(struct model *m)
{
    static const uint8_t reserved[] = { 0x02, 0x04, 0x05, 0x10, 0xff };
    uint32_t r = rnd(m, 100);

    if (r < 80)
        return CTL_NONE;
    if (r < 88)
        return CTL_ASID;
    if (r < 92)
        return CTL_LOCAL;
    if (r < 97)
        return CTL_ALL;
    return reserved[rnd(m, sizeof(reserved))];
}

/* L1 flushed vASID v (0: all): which slots' flushes and drops that allows,
 * by what the model saw each slot run. */
static void allow_vasid(struct model *m, uint32_t v)
{
    for (unsigned i = 0; i < N_ENT; i++) {
        if (v == 0 || m->slot_vasid[1 + i] == v)
            m->may_flush[1 + i] = true;
        if (v == 0 || m->tree_vasid[i] == v)
            m->may_resync[i] = true;
    }
}

/* switch_vmcb() into L2 (hv/tlb/switch_vmcb.c): L1's requests left in
 * VMCB01, then VMCB12's events and the entry they choose. */
static void enter_l2(struct model *m, uint32_t vasid, int root, uint8_t ctl)
{
    switch_to(m, L2);
    /* hv/tlb/switch_vmcb.c: VMCB02 changes ASID and NPT02 only when the
     * policy says the entry changed. */
    if (pol_vmrun12(m, vasid, ncr3_of(root), ctl))
        use_entry(m);
    /* An entry given to another key may be flushed and dropped. */
    unsigned s = m->vmcb02_slot, t = m->vmcb02_tree;
    if (m->slot_vasid[s] != vasid || m->slot_root[s] != root) {
        m->may_flush[s] = true;
        m->slot_vasid[s] = vasid;
        m->slot_root[s] = root;
    }
    if (m->tree_vasid[t] != vasid || m->tree_root[t] != root) {
        m->may_resync[t] = true;
        m->tree_vasid[t] = vasid;
        m->tree_root[t] = root;
    }
}

static void l1_vmrun(struct model *m)
{
    int root = m->root < 0 ? 0 : m->root;
    uint32_t r = rnd(m, 100), vasid;
    uint8_t ctl;

    if (r >= 70 && r < 85) { /* another L2 guest */
        root = (root + 1 + (int)rnd(m, N_ROOTS - 1)) % N_ROOTS;
    } else if (r >= 85 && r < 93) { /* same guest, new vASID (flush by ASID change) */
        m->root_vasid[root] = 1 + rnd(m, N_VASID);
    }
    vasid = m->root_vasid[root];
    if (r >= 93) /* same vASID, other nested tables */
        root = (root + 1 + (int)rnd(m, N_ROOTS - 1)) % N_ROOTS;
    ctl = random_l1_tlb_control(m);
    note(m, "L1: VMRUN vASID %u root %d TLB_CONTROL %#x", vasid, root, ctl);

    /* What the architecture does at this VMRUN (APM 15.16.1), and which
     * flushes that allows. */
    if (ctl == CTL_ASID || ctl == CTL_LOCAL) {
        memset(m->cached12[vasid], 0, sizeof(m->cached12[vasid]));
        allow_vasid(m, vasid);
    } else if (ctl != CTL_NONE) { /* 01h, and reserved values as 01h */
        memset(m->cached12, 0, sizeof(m->cached12));
        memset(m->cached1, 0, sizeof(m->cached1));
        allow_vasid(m, 0);
        m->may_flush[0] = true;
    }
    m->nested++;
    if (vasid == m->vasid && root == m->root && ctl == CTL_NONE)
        m->quiet_nested++;
    m->vasid = vasid;
    m->root = root;

    /* L0 may act while emulating the VMRUN, before the switch (e.g. the
     * merged maps' write protection changes NPT01): L1's requests then
     * wait in VMCB01. */
    l0_maybe_acts(m);
    enter_l2(m, vasid, root, ctl);
    l0_maybe_acts(m);
    vmrun(m, L2);
}

static void l1_invlpga(struct model *m)
{
    uint32_t r = rnd(m, 100), vasid;
    int page = (int)rnd(m, N_PAGES);

    if (r < 25) {
        vasid = 0;
    } else if (r < 50 && m->vasid) {
        vasid = m->vasid;
    } else if (r < 80 && m->edit_root >= 0) {
        /* what a guest hypervisor does after editing an NPT12 entry,
         * often for a guest that is not running (so a cached entry) */
        vasid = m->root_vasid[m->edit_root];
        page = m->edit_page;
    } else {
        vasid = 1 + rnd(m, N_VASID);
    }
    note(m, "L1: INVLPGA page %d ASID %u", page, vasid);
    if (vasid == 0) {
        m->cached1[page] = 0;
        m->may_flush[0] = true;
    } else {
        m->cached12[vasid][page] = 0;
        allow_vasid(m, vasid);
    }
    pol_invlpga(m, vasid);
    l0_maybe_acts(m);
    vmrun(m, L1);
}

static void l1_step(struct model *m)
{
    uint32_t r = rnd(m, 1000);
    int page = (int)rnd(m, N_PAGES);

    if (r < 300) {
        l1_access(m, page);
    } else if (r < 350) { /* L1 edits its own page table, no flush yet */
        m->pt1[page] = (uint8_t)rnd(m, N_GPA1);
        note(m, "L1: PTE of VA page %d -> gpa1 %u", page, m->pt1[page]);
    } else if (r < 370) { /* INVLPG: not intercepted, the CPU does it */
        note(m, "L1: INVLPG VA page %d", page);
        m->tlb[0][page].valid = false;
        m->cached1[page] = 0;
    } else if (r < 375) { /* MOV CR3: the CPU flushes L1's ASID */
        note(m, "L1: MOV CR3");
        hw_flush(m, 0);
        memset(m->cached1, 0, sizeof(m->cached1));
    } else if (r < 475) { /* L1 edits an NPT12, no flush yet */
        int root = rnd(m, 3) && m->root >= 0 ? m->root : (int)rnd(m, N_ROOTS);

        m->npt12[root][page] = (uint8_t)rnd(m, N_GPA1);
        m->edit_root = root;
        m->edit_page = page;
        note(m, "L1: NPT12[%d] page %d -> gpa1 %u", root, page, m->npt12[root][page]);
    } else if (r < 505) {
        l1_invlpga(m);
    } else if (r < 750) {
        l1_vmrun(m);
    } else if (r < 850) { /* an exit L0 handles (CPUID, MSR, ...) */
        note(m, "L1: exit handled by L0");
        l0_maybe_acts(m);
        vmrun(m, L1);
    }
    /* else: L1 computes */
}

static void l2_step(struct model *m)
{
    uint32_t r = rnd(m, 1000);
    int page = (int)rnd(m, N_PAGES);

    if (r < 600) {
        l2_access(m, page);
    } else if (r < 630) { /* L2's INVLPG: the CPU drops its entry */
        note(m, "L2: INVLPG page %d", page);
        m->tlb[m->vmcb02_slot][page].valid = false;
    } else if (r < 780) { /* an exit L0 handles and resumes L2 */
        note(m, "L2: exit handled by L0");
        l0_maybe_acts(m);
        vmrun(m, L2);
    } else if (r < 1000) { /* an exit reflected to L1 */
        note(m, "L2: #VMEXIT to L1");
        l0_maybe_acts(m); /* before the reflection (an #NPF L0 filled, ...) */
        switch_to(m, L1);
        l0_maybe_acts(m);
        vmrun(m, L1);
    }
}

static void model_init(struct model *m, uint64_t seed, bool by_asid, unsigned n_ent,
                       enum mutant mut)
{
    memset(m, 0, sizeof(*m));
    m->by_asid = by_asid;
    m->n_ent = n_ent;
    m->mut = mut;
    m->rng = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    m->n01 = &m->own_n01;
    m->n01->next_hpa = 0x100;
    tlb_policy_init(&m->pol, by_asid, n_ent);
    if (mut == MUT_NO_INIT_FLUSH) {
        m->pol.l1_pending = 0;
        for (unsigned i = 0; i < N_ENT; i++)
            m->pol.l2[i].pending = 0;
    }
    for (int i = 0; i < N_PAGES; i++) {
        m->pt1[i] = (uint8_t)rnd(m, N_GPA1);
        for (int r = 0; r < N_ROOTS; r++)
            m->npt12[r][i] = (uint8_t)rnd(m, N_GPA1);
        /* Whatever ran before us left entries under our ASIDs. */
        for (unsigned s = 0; s < N_SLOTS; s++)
            m->tlb[s][i] = (struct tlbe){ true, UINT64_C(0xdead000) + ((uint64_t)s << 20) +
                                                    ((uint64_t)i << 12), 0 };
    }
    for (int r = 0; r < N_ROOTS; r++)
        m->root_vasid[r] = (uint32_t)(r % N_VASID) + 1;
    for (unsigned s = 0; s < N_SLOTS; s++) {
        m->slot_root[s] = -1;
        m->may_flush[s] = true;
    }
    for (unsigned t = 0; t < N_ENT; t++)
        m->tree_root[t] = -1;
    m->root = -1;
    m->edit_root = -1;
    m->vmcb02_slot = 1;
    /* Launch: L1 runs first, through switch_vmcb() like every switch. */
    switch_to(m, L1);
    vmrun(m, L1);
}

static void one_step(struct model *m)
{
    if (rnd(m, 50) == 0) { /* the TLB is small: entries get evicted */
        unsigned s = rnd(m, 2) ? 0 : 1 + rnd(m, m->n_ent);

        m->tlb[s][rnd(m, N_PAGES)].valid = false;
    }
    if (m->running == L1)
        l1_step(m);
    else
        l2_step(m);
}

static bool run_model(struct model *m, uint64_t seed, bool by_asid, unsigned n_ent,
                      enum mutant mut, uint64_t steps)
{
    model_init(m, seed, by_asid, n_ent, mut);
    for (m->step = 1; m->step <= steps && !m->failed; m->step++)
        one_step(m);
    return !m->failed;
}

/* Two vCPUs of one L1 on one NPT01 (docs/design.md, "Several CPUs"): each
 * has its own TLB, VMCBs, NPT02s and L1 tables; they take turns at random.
 * An NPT01 change by one's L0 reaches the other as a remote request. */
static bool run_two_cpus(struct model *a, struct model *b, uint64_t seed, bool by_asid,
                         unsigned n_ent, enum mutant mut, uint64_t steps)
{
    model_init(a, seed, by_asid, n_ent, mut);
    model_init(b, seed * 7 + 1, by_asid, n_ent, mut);
    b->n01 = a->n01; /* one machine, one NPT01 (b has touched none of its own) */
    a->peer = b;
    b->peer = a;
    for (uint64_t i = 1; i <= steps && !a->failed && !b->failed; i++) {
        struct model *m = rnd(a, 2) ? a : b;
        m->step = i;
        one_step(m);
    }
    return !a->failed && !b->failed;
}

static const uint64_t seeds[] = { 1, 2, 3, 42, 0xdeadbeef, 20240601 };
#define N_SEEDS (sizeof(seeds) / sizeof(seeds[0]))
#define STEPS 200000
/* Entry counts the model runs with: 1 (a CPU with 3 ASIDs), 2, and the
 * most (TCG's 16 ASIDs, real CPUs). */
static const unsigned entry_counts[] = { 1, 2, N_ENT };
#define N_COUNTS (sizeof(entry_counts) / sizeof(entry_counts[0]))

static void model_runs(bool by_asid)
{
    static struct model m;

    for (size_t c = 0; c < N_COUNTS; c++) {
        for (size_t s = 0; s < N_SEEDS; s++) {
            unsigned n = entry_counts[c];
            if (!run_model(&m, seeds[s], by_asid, n, MUT_NONE, STEPS))
                fail_msg("FlushByAsid=%d, %u L2 entries, seed %llu: %s", by_asid, n,
                         (unsigned long long)seeds[s], m.msg);
            print_message("FlushByAsid=%d %u entries seed %-9llu: %llu nested VMRUNs (%llu same "
                          "guest, no flush asked), %llu/%llu L1/L2 VMRUNs, %llu/%llu flushes, "
                          "%llu resyncs, %llu evictions, %llu of %llu L2 accesses legally "
                          "stale\n",
                          by_asid, n, (unsigned long long)seeds[s],
                          (unsigned long long)m.nested, (unsigned long long)m.quiet_nested,
                          (unsigned long long)m.vmruns[L1], (unsigned long long)m.vmruns[L2],
                          (unsigned long long)m.flushes[L1], (unsigned long long)m.flushes[L2],
                          (unsigned long long)m.resyncs, (unsigned long long)m.evictions,
                          (unsigned long long)m.stale_hits, (unsigned long long)m.l2_accesses);
            /* The sequences must reach the interesting cases. */
            assert_true(m.quiet_nested > m.nested / 3);
            assert_true(m.stale_hits > 0);
            assert_true(m.resyncs > 0);
            assert_true(n == 1 || m.evictions > 0);
            assert_true(n == 1 || m.pol.l2_misses > 0);
            assert_true(m.flushes[L1] + m.flushes[L2] < m.vmruns[L1] + m.vmruns[L2]);
        }
    }
}

static void two_cpu_runs(bool by_asid)
{
    static struct model a, b;

    for (size_t s = 0; s < N_SEEDS; s++) {
        if (!run_two_cpus(&a, &b, seeds[s], by_asid, N_ENT, MUT_NONE, STEPS))
            fail_msg("two CPUs, FlushByAsid=%d seed %llu: %s", by_asid,
                     (unsigned long long)seeds[s], a.failed ? a.msg : b.msg);
        assert_true(a.resyncs > 0 && b.resyncs > 0);
        assert_true(a.vmruns[L2] > 0 && b.vmruns[L2] > 0);
    }
    print_message("two CPUs on one NPT01, FlushByAsid=%d: %zu seeds, no stale use\n", by_asid,
                  N_SEEDS);
}

static void test_model_two_cpus(void **state)
{
    (void)state;
    two_cpu_runs(true);
    two_cpu_runs(false);
}

/* Without the remote request, or without the kick that makes the other
 * CPU leave its guest, it keeps using what NPT01 took away. */
static void test_model_two_cpus_catches_missing_remote_flush(void **state)
{
    (void)state;
    static struct model a, b;
    static const enum mutant muts[] = { MUT_NO_REMOTE_FLUSH, MUT_NO_KICK };

    for (size_t i = 0; i < sizeof muts / sizeof *muts; i++) {
        for (int by_asid = 0; by_asid < 2; by_asid++)
            for (size_t s = 0; s < N_SEEDS; s++)
                if (run_two_cpus(&a, &b, seeds[s], by_asid, N_ENT, muts[i], STEPS))
                    fail_msg("mutant \"%s\" (FlushByAsid=%d) not caught with seed %llu",
                             mutant_names[muts[i]], by_asid, (unsigned long long)seeds[s]);
        const char *msg = a.failed ? a.msg : b.msg;
        print_message("mutant \"%s\": caught by every seed, e.g. %.*s\n",
                      mutant_names[muts[i]], (int)strcspn(msg, "\n"), msg);
    }
}

static void test_model_flush_by_asid(void **state)
{
    model_runs(true);
}

/* Without FlushByAsid, as under QEMU's TCG: every flush is 01h. */
static void test_model_flush_all(void **state)
{
    model_runs(false);
}

/* Mutants that are no bug in one mode: without FlushByAsid, 01h pays L1's
 * debt, so forgetting that 01h concerns L1 is harmless; 03h is only wrong
 * without FlushByAsid; a debt switch_vmcb() loses (or writes into VMCB02
 * for whichever ASID runs next) is mostly paid by the next 01h without
 * it, and every flush is 01h there. */
static bool mutant_harmless(int mut, int by_asid)
{
    switch (mut) {
    case MUT_CONTROL_01_AS_03:
    case MUT_LEAVING_LOST:
    case MUT_LEAVING_INTO_VMCB02:
    case MUT_EVICT_NO_FLUSH: /* without it: test_model_evicted_entry_flushed */
        return !by_asid;
    case MUT_WRONG_KIND:
        return by_asid;
    default:
        return false;
    }
}

/* Every mutant must be caught by every seed, with the cache's most
 * entries, in each mode where it is a bug. */
static void test_model_catches_mutants(void **state)
{
    static struct model m;

    for (int mut = MUT_NONE + 1; mut < MUT_COUNT; mut++) {
        for (int by_asid = 0; by_asid < 2; by_asid++) {
            if (mutant_harmless(mut, by_asid))
                continue;
            if (mut == MUT_NO_REMOTE_FLUSH || mut == MUT_NO_KICK) /* two CPUs: own test */
                continue;
            uint64_t worst = 0;
            char first[200] = "";
            for (size_t s = 0; s < N_SEEDS; s++) {
                if (run_model(&m, seeds[s], by_asid, N_ENT, (enum mutant)mut, STEPS))
                    fail_msg("mutant \"%s\" (FlushByAsid=%d) not caught with seed %llu",
                             mutant_names[mut], by_asid, (unsigned long long)seeds[s]);
                if (m.step > worst)
                    worst = m.step;
                if (s == 0)
                    snprintf(first, sizeof(first), "%.*s", (int)strcspn(m.msg, "\n"), m.msg);
            }
            print_message("mutant \"%s\", FlushByAsid=%d: caught by every seed (latest "
                          "at step %llu), e.g. %s\n",
                          mutant_names[mut], by_asid, (unsigned long long)worst, first);
        }
    }
}

/* One round of L1 running guests 1..keys (vASID k + 1 on NPT12 k) with
 * TLB_CONTROL 0, each touching every page, back to L1 after each. */
static void alternate(struct model *m, unsigned keys)
{
    for (unsigned k = 0; k < keys; k++) {
        m->vasid = 1 + k;
        m->root = (int)k;
        enter_l2(m, 1 + k, (int)k, CTL_NONE);
        vmrun(m, L2);
        for (int x = 0; x < N_PAGES; x++)
            l2_access(m, x);
        switch_to(m, L1);
        vmrun(m, L1);
    }
}

/* L0 out of NPT02 budget while guest 2 runs takes guest 1's tables: guest
 * 1's ASID must be flushed before it runs again, in both modes (the random
 * runs without FlushByAsid mostly pay it with some other 01h first). */
static void test_model_evicted_entry_flushed(void **state)
{
    (void)state;
    static struct model m;

    for (int by_asid = 0; by_asid < 2; by_asid++) {
        for (int mut = 0; mut < 2; mut++) {
            model_init(&m, 7, by_asid, N_ENT, mut ? MUT_EVICT_NO_FLUSH : MUT_NONE);
            alternate(&m, 2); /* flushes (01h without FlushByAsid: all ASIDs) */
            alternate(&m, 2); /* fills both ASIDs' TLBs, no flush */
            enter_l2(&m, 2, 1, CTL_NONE);
            m.vasid = 2;
            m.root = 1;
            vmrun(&m, L2);
            l0_budget_runs_out(&m); /* guest 2's #NPF: takes guest 1's tables */
            assert_int_equal(m.evictions, 1);
            switch_to(&m, L1);
            vmrun(&m, L1);
            alternate(&m, 2);
            if (mut && !m.failed)
                fail_msg("mutant \"%s\" (FlushByAsid=%d) not caught",
                         mutant_names[MUT_EVICT_NO_FLUSH], by_asid);
            if (!mut && m.failed)
                fail_msg("%s", m.msg);
            if (mut)
                print_message("mutant \"%s\", FlushByAsid=%d: caught, %.*s\n",
                              mutant_names[MUT_EVICT_NO_FLUSH], by_asid,
                              (int)strcspn(m.msg, "\n"), m.msg);
        }
    }
}

/* The design goal in the model too: L1 alternating between guests that
 * all fit the cache, with TLB_CONTROL 0, gets no flush and no drop once
 * each guest has run (L0 doing nothing on its own). */
static void test_model_alternating_guests_flush_nothing(void **state)
{
    (void)state;
    static struct model m;

    for (int by_asid = 0; by_asid < 2; by_asid++) {
        for (unsigned keys = 2; keys <= N_ENT; keys++) {
            model_init(&m, 7, by_asid, N_ENT, MUT_NONE);
            uint64_t f = 0, r = 0;
            for (int round = 0; round < 50; round++) {
                if (round == 1) {
                    f = m.flushes[L1] + m.flushes[L2];
                    r = m.resyncs;
                }
                alternate(&m, keys);
            }
            if (m.failed)
                fail_msg("%s", m.msg);
            assert_int_equal(m.flushes[L1] + m.flushes[L2], f);
            assert_int_equal(m.resyncs, r);
            print_message("FlushByAsid=%d, %u guests alternating: %llu flushes and %llu NPT02 "
                          "drops in the first round, none in the 49 after\n", by_asid, keys,
                          (unsigned long long)f, (unsigned long long)r);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_flushes_both),
        cmocka_unit_test(test_quiet_round_trips_flush_nothing),
        cmocka_unit_test(test_first_vmrun12_flushes_l2_and_resyncs),
        cmocka_unit_test(test_l1_flush_request_is_l1_only),
        cmocka_unit_test(test_npt01_change_flushes_both_and_resyncs),
        cmocka_unit_test(test_npt02_change_flushes_l2_without_resync),
        cmocka_unit_test(test_npt02_resync_request_owes_flush),
        cmocka_unit_test(test_vmrun12_l1_tlb_control),
        cmocka_unit_test(test_vmrun12_vasid_and_ncr3_changes),
        cmocka_unit_test(test_invlpga),
        cmocka_unit_test(test_flush_all_pays_other_context),
        cmocka_unit_test(test_debts_accumulate_until_paid),
        cmocka_unit_test(test_cache_entries_for_nasid),
        cmocka_unit_test(test_cache_alternating_costs_nothing),
        cmocka_unit_test(test_cache_lru_replacement),
        cmocka_unit_test(test_cache_l1_control_reaches_every_entry_of_vasid),
        cmocka_unit_test(test_cache_invlpga_reaches_cached_entries),
        cmocka_unit_test(test_cache_debt_stays_with_entry),
        cmocka_unit_test(test_cache_evicted_entry_owes_flush),
        cmocka_unit_test(test_model_flush_by_asid),
        cmocka_unit_test(test_model_flush_all),
        cmocka_unit_test(test_model_alternating_guests_flush_nothing),
        cmocka_unit_test(test_model_evicted_entry_flushed),
        cmocka_unit_test(test_model_catches_mutants),
        cmocka_unit_test(test_model_two_cpus),
        cmocka_unit_test(test_model_two_cpus_catches_missing_remote_flush),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
