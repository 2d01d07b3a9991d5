/* Fuzz target: L1's VMRUN (hv/nested/nested.c with the real checks, maps, GIF,
 * RIP advance and SVM instruction dispatch; tests/fuzz/nested_env.h).
 *
 * Input: the host CPU's features (NRIPS, vGIF, ...) and VMCB01's TSC
 * offset; L1's two VMCB12s, each one of the unit tests' valid VMCB12s
 * (tests/unit/vmcb12_fixture.h: long mode, 32-bit, real mode) with its
 * maps in L1's RAM, or raw bytes; then operations: L1 writes any bytes into
 * a VMCB12 or its permission maps, L1 runs VMRUN (either VMCB12, or a bad
 * address: unaligned, in the hypervisor's region, outside RAM; any clean
 * bits; CPL, EFER.SVME, TF as the input says), L2 runs and exits back to L1
 * (a VMRUN of its own, which L1 always intercepts). So each VMRUN meets the
 * state the previous ones left: the cached copy, clean bits, the cached
 * merge, GIF.
 *
 * Invariants on every VMRUN:
 *   - #UD without EFER.SVME, #GP at CPL > 0 or for a VMCB12 address that
 *     is unaligned or not L1's RAM; then nothing else changes;
 *   - a failed consistency check gives VMEXIT_INVALID (exit code, infos 0)
 *     in L1's VMCB12 and changes nothing else: not the rest of VMCB12, not
 *     L1's state (but RIP past the VMRUN and a clear GIF), not VMCB02 nor
 *     the merged maps nor NPT01's protection; no TLB request;
 *   - on success VMCB02 has every intercept L0 needs and every one L1 asked
 *     for, L2's ASID, nested paging on with NPT02 or NPT01, the merged maps
 *     (L0's OR L1's as they are now in memory, protecting L0's MSRs), no
 *     AVIC, vNMI, SEV, virt_ext, vGIF only where the CPU has it (nothing
 *     L1 asks for that L0 did not offer), a valid EVENTINJ (L1's), the TSC
 *     offset VMCB01's plus VMCB12's; L1's VMCB12 is not written, and not
 *     even read after the copy step (the page is sealed from the check on:
 *     any later access is a crash); the TLB is told L1's ASID, nCR3 and
 *     TLB_CONTROL;
 *   - clean bits never change the outcome when L1 is honest: a reference
 *     vCPU runs every VMRUN from a copy of the same VMCB12 with no clean
 *     bits, and whenever L1 left every group it marked clean as it was,
 *     both succeed or fail alike and their VMCB02s are the same;
 *   - the #VMEXIT back to L1 brings L1's state back intact and gives VMCB12
 *     only what #VMEXIT stores (tests/fuzz/nested_env.h, check_reflected). */
#include <sys/mman.h>
#include "tests/fuzz/nested_env.h"
#include "tests/unit/vmcb12_fixture.h"

#define VMCB12_BYTES 0x700 /* control area and save area up to G_PAT/LBR */

/* --- the checks, wrapped: L1's VMCB12 is sealed once the check passed ---- */
static uint64_t sealing; /* the VMCB12 page of the VMRUN under way, or 0 */
static bool sealed;
const char *__real_vmcb12_check(const struct vmcb *v, const struct vmcb12_check_env *e);
const char *__real_vmcb12_check_reloaded(const struct vmcb *v, const struct vmcb12_check_env *e);

/* L1's maps may lie on its VMCB12 page itself: then the merge reads that
 * page as a map, as the CPU would, and it cannot be sealed. */
static bool maps_on(const struct vmcb_control *c, uint64_t page)
{
    uint64_t m = c->msrpm_base_pa & ~0xFFFULL, i = c->iopm_base_pa & ~0xFFFULL;
    return ((c->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) && page >= m && page - m < MSRPM_SIZE) ||
           ((c->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) && page >= i && page - i < IOPM_SIZE);
}

static const char *after_check(const struct vmcb *copy, const char *r)
{
    FUZZ_CHECK((uint64_t)(uintptr_t)copy < ram_page(0) || (uint64_t)(uintptr_t)copy >= ram_page(FAKE_RAM_PAGES),
               "the checks run on the private copy, not on L1's page");
    /* From here on VMRUN has nothing to read of L1's VMCB12; it writes
     * VMEXIT_INVALID there only if the check or the maps' range failed. */
    if (!r && nested_maps_valid(&copy->control) && sealing && !maps_on(&copy->control, sealing)) {
        TRACE("  VMCB12 at %#lx sealed\n", sealing);
        FUZZ_CHECK(mprotect((void *)(uintptr_t)sealing, 4096, PROT_NONE) == 0, "harness: seal");
        sealed = true;
    }
    return r;
}
const char *__wrap_vmcb12_check(const struct vmcb *v, const struct vmcb12_check_env *e)
{
    return after_check(v, __real_vmcb12_check(v, e));
}
const char *__wrap_vmcb12_check_reloaded(const struct vmcb *v, const struct vmcb12_check_env *e)
{
    return after_check(v, __real_vmcb12_check_reloaded(v, e));
}

static void unseal(void)
{
    if (sealed)
        mprotect((void *)(uintptr_t)sealing, 4096, PROT_READ | PROT_WRITE);
    sealed = false;
    sealing = 0;
}

/* --- L1's VMCB12s ------------------------------------------------------------ */
static void load_vmcb12(struct fuzz_in *in, unsigned slot)
{
    struct vmcb *v = ram_vmcb(slot);
    uint8_t base = in_u8(in);
    switch (base % 4) {
    case 0: make_long_mode(v); break;
    case 1: make_prot32(v); break;
    case 2: make_real(v); break;
    case 3: in_copy(in, v, VMCB12_BYTES); return;
    }
    /* The fixture's maps, moved into L1's RAM. */
    v->control.msrpm_base_pa = ram_page(slot ? PG_MSRPM_B : PG_MSRPM_A);
    v->control.iopm_base_pa = ram_page(slot ? PG_IOPM_B : PG_IOPM_A);
    if (base & 0x10)
        v->control.nested_ctl = VMCB_NP_ENABLE;
    v->control.n_cr3 = 0x7000;
}

/* L1 writes bytes somewhere in a VMCB12 or a map (maps may be protected). */
static void op_l1_write(struct fuzz_in *in)
{
    static const unsigned pages[] = { PG_VMCB12_A, PG_VMCB12_B, PG_MSRPM_A, PG_IOPM_A, PG_MSRPM_B, PG_IOPM_B };
    uint8_t where = in_u8(in);
    uint16_t off = in_u16(in);
    unsigned n = in_u8(in) % 8 + 1;
    uint64_t at = where % 6 < 2 ? ram_page(pages[where % 6]) + off % VMCB12_BYTES
                                : ram_page(pages[where % 6]) + off % (3 * 4096);
    TRACE("L1 writes %u bytes at page %lu + %#lx\n", n, (at - ram_page(0)) / 4096, (at - ram_page(0)) % 4096);
    for (unsigned i = 0; i < n; i++)
        l1_write_byte(&cpus[0], at + i, in_u8(in));
}

/* --- honesty of L1's clean bits (APM 15.15.3, Table 15-?: the groups) ----- */
struct range { uint16_t from, to; };
static const struct { uint32_t bit; struct range r[4]; } groups[] = {
    { VMCB_CLEAN_INTERCEPTS, { { 0x000, 0x018 }, { 0x03C, 0x040 }, { 0x050, 0x058 } } },
    { VMCB_CLEAN_IOPM, { { 0x040, 0x050 } } },
    { VMCB_CLEAN_ASID, { { 0x058, 0x05C } } },
    { VMCB_CLEAN_TPR, { { 0x060, 0x068 } } },
    { VMCB_CLEAN_NP, { { 0x090, 0x098 }, { 0x0B0, 0x0B8 }, { 0x668, 0x670 } } },
    { VMCB_CLEAN_CRX, { { 0x4D0, 0x4D8 }, { 0x548, 0x560 } } },
    { VMCB_CLEAN_DRX, { { 0x560, 0x570 } } },
    { VMCB_CLEAN_DT, { { 0x460, 0x470 }, { 0x480, 0x490 } } },
    { VMCB_CLEAN_SEG, { { 0x400, 0x440 }, { 0x4C8, 0x4D0 } } },
    { VMCB_CLEAN_CR2, { { 0x640, 0x648 } } },
    { VMCB_CLEAN_LBR, { { 0x670, 0x698 } } },
    { VMCB_CLEAN_AVIC, { { 0x098, 0x0A0 }, { 0x0E0, 0x0E8 }, { 0x0F0, 0x100 } } },
    { VMCB_CLEAN_CET, { { 0x5E0, 0x5F8 } } },
};

static struct vmcb last_seen[2]; /* each VMCB12 as the CPU last left it */
static int cached_slot = -1;      /* the VMCB12 main's copy is of, or -1 */
/* A VMRUN of it with clean bits L1 did not honour: the CPU may have kept
 * stale groups, until a VMRUN with no clean bits or of another VMCB. */
static bool tainted;

/* L1 marks clean only groups it left as they were since the CPU last saw
 * this VMCB12 (or the CPU has nothing cached for it: then they count for
 * nothing). */
static bool honest(unsigned slot, uint32_t clean)
{
    if (cached_slot != (int)slot)
        return true;
    if (tainted)
        return clean == 0;
    const uint8_t *now = (const uint8_t *)ram_vmcb(slot), *was = (const uint8_t *)&last_seen[slot];
    for (unsigned g = 0; g < sizeof groups / sizeof *groups; g++) {
        if (!(clean & groups[g].bit))
            continue;
        for (unsigned k = 0; k < 4 && groups[g].r[k].to; k++)
            if (memcmp(now + groups[g].r[k].from, was + groups[g].r[k].from,
                       groups[g].r[k].to - groups[g].r[k].from))
                return false;
    }
    return true;
}

/* --- L2 runs and comes back --------------------------------------------------- */
static struct at_vmrun at[2];

/* L2 runs VMRUN (always L1's intercept): both vCPUs alike. */
static void l2_exits(struct fuzz_in *in)
{
    uint64_t rip = in_u64(in), rax = in_u64(in);
    bool main_exited = cpus[0].nested.in_l2;
    for (unsigned i = 0; i < 2; i++) {
        struct vcpu *v = &cpus[i];
        if (!v->nested.in_l2)
            continue;
        struct vmcb *v02 = v->nested.vmcb02.va;
        v02->save.rip = rip;
        v02->save.rax = rax;
        v02->control.exitcode = VMEXIT_VMRUN;
        v02->control.exitinfo1 = v02->control.exitinfo2 = v02->control.exitintinfo = 0;
        v02->control.nrip = host_caps()->nrips ? rip + 3 : 0;
        struct vmcb l2 = *v02;
        const struct vmcb *page = (const struct vmcb *)(uintptr_t)v->nested.vmcb12_pa;
        static struct vmcb was;
        was = *page;
        exit_dispatch(v);
        check_reflected(v, &at[i], &l2, &was, page, VMEXIT_VMRUN, 0, 0);
    }
    /* What the #VMEXIT stored is what the CPU now knows of VMCB12; what L1
     * wrote there meanwhile is not. */
    if (main_exited && cached_slot >= 0) {
        uint8_t *seen = (uint8_t *)&last_seen[cached_slot];
        const uint8_t *now = (const uint8_t *)ram_vmcb(cached_slot);
        for (unsigned off = 0; off < sizeof last_seen[0]; off++)
            if (vmexit_writes(off))
                seen[off] = now[off];
        struct vmcb_control *c = &last_seen[cached_slot].control;
        uint32_t back = vmexit_int_ctl(c->int_ctl);
        c->int_ctl = (c->int_ctl & ~back) | (ram_vmcb(cached_slot)->control.int_ctl & back);
    }
}

/* --- VMRUN ---------------------------------------------------------------------- */
struct l1_insn {
    uint64_t rax;
    uint8_t cpl;
    bool svme, tf;
    uint64_t nrip;
};

static void set_l1(struct vcpu *v, const struct l1_insn *x)
{
    struct vmcb *v01 = v->vmcb01.va;
    v01->save.rax = x->rax;
    v01->save.cpl = x->cpl;
    v01->save.rflags = (v01->save.rflags & ~RFLAGS_TF) | (x->tf ? RFLAGS_TF : 0);
    v01->control.exitcode = VMEXIT_VMRUN;
    v01->control.nrip = x->nrip;
    v01->control.eventinj = 0;
    v->l1.efer_svme = x->svme;
}

/* #UD or #GP: queued for L1, nothing else done. */
static void check_refused(const struct vcpu *v, const struct vmcb *v01_before,
                          const struct vmcb *page_before, unsigned vector)
{
    struct vmcb want = *v01_before;
    want.control.eventinj = vmcb_event_make(vector, VMCB_EVENT_TYPE_EXCEPTION, vector == VEC_GP, 0);
    FUZZ_CHECK(!memcmp(v->vmcb01.va, &want, sizeof want) && !v->nested.in_l2,
               "a refused VMRUN raises its exception and changes nothing else");
    if (page_before)
        FUZZ_CHECK(!memcmp(ram_vmcb((unsigned)((v->vmcb01.va->save.rax - ram_page(0)) / 4096)),
                           page_before, sizeof *page_before),
                   "a refused VMRUN leaves VMCB12");
}

static void check_failed(const struct vcpu *v, const struct vmcb *v01_before, const struct vmcb *page_before,
                         const struct vmcb *page, const struct vmcb *v02_before, const uint8_t *maps_before,
                         unsigned prot_before, const struct tlb_record *tlb_before)
{
    struct vmcb want = *page_before;
    want.control.exitcode = VMEXIT_INVALID;
    want.control.exitinfo1 = want.control.exitinfo2 = want.control.exitintinfo = 0;
    FUZZ_CHECK(!memcmp(page, &want, sizeof want),
               "a failed check gives VMEXIT_INVALID and changes nothing else of VMCB12");
    FUZZ_CHECK(!v->nested.in_l2 && v->vmcb.va == v->vmcb01.va && !l1_gif(v),
               "after VMEXIT_INVALID L1 runs, with GIF clear");
    const struct vmcb *v01 = v->vmcb01.va;
    FUZZ_CHECK(v01->save.rip == v01_before->save.rip + 3 || v01->save.rip == v01_before->control.nrip,
               "after VMEXIT_INVALID L1 resumes past its VMRUN");
    struct vmcb_save s = v01->save, w = v01_before->save;
    s.rip = w.rip;
    s.rflags &= ~RFLAGS_RF;
    w.rflags &= ~RFLAGS_RF;
    s.dr6 = w.dr6;
    FUZZ_CHECK(!memcmp(&s, &w, sizeof s), "VMEXIT_INVALID changes nothing of L1's state");
    FUZZ_CHECK(!memcmp(v->nested.vmcb02.va, v02_before, sizeof *v02_before),
               "a failed VMRUN leaves VMCB02");
    FUZZ_CHECK(!memcmp(v->nested.msrpm02, maps_before, MSRPM_SIZE) &&
                   !memcmp(v->nested.iopm02, maps_before + MSRPM_SIZE, IOPM_SIZE) && nprot == prot_before,
               "a failed VMRUN leaves the merged maps and NPT01");
    FUZZ_CHECK(tlb_rec[cpu_index(v)].vmrun12s == tlb_before->vmrun12s,
               "a failed VMRUN asks no TLB flush");
}

static void check_succeeded(const struct vcpu *v, const struct vmcb *page_before, const struct vmcb *page)
{
    const struct nested *n = &v->nested;
    const struct vmcb_control *c = &n->vmcb02.va->control, *c12 = &n->vmcb12->control;
    check_vmcb02(v);
    check_merged_maps(v);
    FUZZ_CHECK(!memcmp(page, page_before, sizeof *page), "a VMRUN never writes L1's VMCB12");
    FUZZ_CHECK(c->eventinj == c12->eventinj, "VMCB02 injects L1's event");
    FUZZ_CHECK(c->tsc_offset == v->vmcb01.va->control.tsc_offset + c12->tsc_offset,
               "L2's TSC offset is VMCB01's plus VMCB12's");
    const struct tlb_record *t = &tlb_rec[cpu_index(v)];
    FUZZ_CHECK(t->vasid == c12->guest_asid && t->tlb_control == c12->tlb_control &&
                   t->ncr3 == ((c12->nested_ctl & VMCB_NP_ENABLE) ? c12->n_cr3 : TLB_NCR3_NONE),
               "the TLB is told L1's ASID, nCR3 and TLB_CONTROL");
    FUZZ_CHECK(n->gif && n->l2_gif && !n->intr_hold && !n->map_step && n->l2_svme,
               "VMRUN sets GIF; L2 starts with nothing held");
}

/* Main and reference built the same VMCB02 (but for their own NPT02 and
 * maps' addresses). */
static void exit_fields_out(struct vmcb *x)
{
    /* What the CPU wrote at the last #VMEXIT, and what VMRUN never loads
     * (VMLOAD's state, in v->guest_cpu): not VMRUN's to build. */
    x->control.exitcode = x->control.exitinfo1 = x->control.exitinfo2 = 0;
    x->control.exitintinfo = x->control.nrip = 0;
    x->control.guest_insn_len = 0;
    memset(x->control.guest_insn_bytes, 0, sizeof x->control.guest_insn_bytes);
}

static void check_same(void)
{
    struct vmcb a = *cpus[0].nested.vmcb02.va, b = *cpus[1].nested.vmcb02.va;
    exit_fields_out(&a);
    exit_fields_out(&b);
    FUZZ_CHECK(cpus[0].nested.in_l2 == cpus[1].nested.in_l2,
               "clean bits L1 honours do not change whether VMRUN succeeds");
    if (!cpus[0].nested.in_l2)
        return;
    /* Which L2 entry (host ASID, NPT02) runs depends on each vCPU's own
     * history of VMRUNs, and the main one ran more: each must have its own
     * current entry's (check_vmcb02 checks that of both). */
    if (a.control.guest_asid == L2_ASID_FIRST + cpus[0].tlb.cur &&
        b.control.guest_asid == L2_ASID_FIRST + cpus[1].tlb.cur)
        a.control.guest_asid = b.control.guest_asid;
    if (a.control.n_cr3 == cpus[0].nested.npt02[cpus[0].tlb.cur].root)
        a.control.n_cr3 =
            b.control.n_cr3 == cpus[1].nested.npt02[cpus[1].tlb.cur].root ? b.control.n_cr3 : 1;
    a.control.msrpm_base_pa = b.control.msrpm_base_pa;
    a.control.iopm_base_pa = b.control.iopm_base_pa;
    if (trace)
        for (unsigned off = 0; off < sizeof a; off++)
            if (((uint8_t *)&a)[off] != ((uint8_t *)&b)[off])
                TRACE("VMCB02 byte %#x: main %#x, reference %#x\n", off, ((uint8_t *)&a)[off],
                      ((uint8_t *)&b)[off]);
    FUZZ_CHECK(!memcmp(&a, &b, sizeof a), "clean bits L1 honours do not change VMCB02");
    FUZZ_CHECK(tlb_rec[0].vasid == tlb_rec[1].vasid && tlb_rec[0].tlb_control == tlb_rec[1].tlb_control,
               "clean bits L1 honours do not change the TLB requests");
}

static void op_vmrun(struct fuzz_in *in)
{
    if (cpus[0].nested.in_l2 || cpus[1].nested.in_l2) {
        struct fuzz_in none = { 0 };
        l2_exits(&none);
    }
    uint8_t sel = in_u8(in), fl = in_u8(in);
    uint32_t clean = in_u32(in);
    unsigned slot = sel & 1;
    struct l1_insn x = {
        .rax = ram_page(slot),
        .cpl = fl & 1 ? 3 : 0,
        .svme = !(fl & 2),
        .tf = fl & 4,
        .nrip = host_caps()->nrips && (fl & 8) ? cpus[0].vmcb01.va->save.rip + 3 : 0,
    };
    bool bad_address = sel & 0x80;
    if (bad_address) /* unaligned, the region, outside RAM, a free page */
        x.rax = (sel & 0x40) ? in_u64(in) : ram_page((sel >> 1) % (FAKE_RAM_PAGES + 2)) + (sel & 0x20 ? 8 : 0);
    bool in_ram = l1_ram_ok(x.rax & ~0xFFFULL, 4096);
    unsigned page_no = in_ram ? (unsigned)((x.rax - ram_page(0)) / 4096) : 0;
    struct vcpu *v = &cpus[0];
    /* One of L1's two VMCB12s (a "bad" address may well be one). */
    bool l1_slot = in_ram && !(x.rax & 0xFFF) && page_no <= PG_VMCB12_B;
    slot = page_no;

    /* The reference: the same VMCB12 with no clean bits, from its own page. */
    bool reference = l1_slot && honest(slot, clean);
    if (reference) {
        /* Written as L1 writes (L1's maps may lie there too). */
        struct vmcb want = *ram_vmcb(slot);
        want.control.vmcb_clean = 0;
        const uint8_t *w = (const uint8_t *)&want, *r = (const uint8_t *)ram_vmcb(PG_REF_VMCB12);
        for (unsigned i = 0; i < sizeof want; i++)
            if (r[i] != w[i])
                l1_write_byte(&cpus[1], ram_page(PG_REF_VMCB12) + i, w[i]);
        struct l1_insn rx = x;
        rx.rax = ram_page(PG_REF_VMCB12);
        set_l1(&cpus[1], &rx);
    }

    set_l1(v, &x);
    if (in_ram) /* L1 writes its clean bits: a write like any other */
        for (unsigned i = 0; i < 4; i++)
            l1_write_byte(v, ram_page(page_no) + 0xC0 + i, (uint8_t)(clean >> (8 * i)));
    static struct vmcb v01_before, page_before, v02_before;
    static uint8_t maps_before[MSRPM_SIZE + IOPM_SIZE];
    v01_before = *v->vmcb01.va;
    if (in_ram)
        page_before = *ram_vmcb(page_no);
    v02_before = *v->nested.vmcb02.va;
    memcpy(maps_before, v->nested.msrpm02, MSRPM_SIZE);
    memcpy(maps_before + MSRPM_SIZE, v->nested.iopm02, IOPM_SIZE);
    unsigned prot_before = nprot;
    struct tlb_record tlb_before = tlb_rec[0];
    uint64_t invalid_before = v->nested.invalid;

    sealing = in_ram && !(x.rax & 0xFFF) ? x.rax : 0;
    TRACE("VMRUN %#lx clean %#x cpl %u svme %d%s\n", x.rax, clean, x.cpl, x.svme,
          reference ? " (and the reference)" : "");
    exit_svm_insn(v);
    unseal();
    TRACE("  -> %s\n", v->nested.in_l2 ? "L2 runs" : v->nested.invalid != invalid_before ? "VMEXIT_INVALID"
                                                                                      : "refused");

    if (!x.svme) {
        check_refused(v, &v01_before, in_ram ? &page_before : NULL, VEC_UD);
    } else if (x.cpl) {
        check_refused(v, &v01_before, in_ram ? &page_before : NULL, VEC_GP);
    } else if ((x.rax & 0xFFF) || !in_ram) {
        check_refused(v, &v01_before, in_ram ? &page_before : NULL, VEC_GP);
    } else if (v->nested.invalid != invalid_before) {
        check_failed(v, &v01_before, &page_before, ram_vmcb(page_no), &v02_before, maps_before,
                     prot_before, &tlb_before);
        cached_slot = -1;
        tainted = false;
    } else {
        check_succeeded(v, &page_before, ram_vmcb(page_no));
        note_vmrun(&at[0], v);
        int was = cached_slot;
        cached_slot = page_no <= PG_VMCB12_B ? (int)page_no : -1;
        if (was != cached_slot || clean == 0)
            tainted = false;
        if (l1_slot && !reference)
            tainted = true;
        if (cached_slot >= 0)
            last_seen[cached_slot] = *ram_vmcb(page_no);
    }
    if (reference) {
        sealing = ram_page(PG_REF_VMCB12);
        exit_svm_insn(&cpus[1]);
        unseal();
        if (cpus[1].nested.in_l2)
            note_vmrun(&at[1], &cpus[1]);
        check_same();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    world_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    uint8_t caps = in_u8(&in);
    world_reset(&(struct host_caps){ .nrips = caps & 1, .vgif = caps & 2, .flush_by_asid = caps & 4,
                                     .decode_assists = caps & 8,
                                     .nasid = caps & 16 ? 16 : 3 /* 4 L2 entries, or 1 */ },
                in_u64(&in));
    load_vmcb12(&in, PG_VMCB12_A);
    load_vmcb12(&in, PG_VMCB12_B);
    cached_slot = -1;
    tainted = false;
    for (int ops = 0; ops < 24 && !in_empty(&in); ops++) {
        switch (in_u8(&in) % 6) {
        case 0: case 1: op_l1_write(&in); break;
        case 2: case 3: case 4: op_vmrun(&in); break;
        case 5: l2_exits(&in); break;
        }
    }
    return 0;
}
