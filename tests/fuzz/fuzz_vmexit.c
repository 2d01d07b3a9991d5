/* Fuzz target: L2's exits (hv/exit/exit_dispatch.c -> hv/nested/nested.c: routing to
 * L0 or L1, #VMEXIT reflection, L2's GIF, NMIs, the step over a write to a
 * merged map), with the same real sources and stand-ins as the VMRUN target
 * (tests/fuzz/nested_env.h).
 *
 * Input: the host CPU's features, one of the unit tests' valid VMCB12s
 * (long, 32-bit or real mode; nested paging or not) and then operations:
 * L1 writes into its VMCB12 or maps (also while L2 runs: another CPU), L1's
 * VMRUN (any clean bits), L2's state as it runs (RIP, RAX, RCX, TF, IF,
 * CR2, CPL, its TPR), and L2's exits: any exit code the CPU could give for
 * VMCB02 as it is (an intercept VMCB02 has, a bit set in the merged maps,
 * #NPF, NMI, VMEXIT_INVALID), with any EXITINFO1/2, a valid EXITINTINFO,
 * nRIP, and the answers of L0's NPT02, APIC and decoy handlers.
 *
 * Invariants after every exit:
 *   - the hypervisor never stops, but for L2's shutdown that L1 does not
 *     intercept (L1's machine shuts down, as on the CPU);
 *   - an exit L1 asked for (its VMCB12's intercepts and its maps as they
 *     are now in memory) goes to L1, but for L0's own events (another CPU's
 *     NMI kick, an NMI held while L2's GIF is clear, the single step over a
 *     map write, #SX); L1 never gets an exit code it did not ask for (but
 *     VMEXIT_INVALID), and an exit it asked for carries the CPU's EXITINFO1,
 *     EXITINFO2 (NPF: NPT12's error code);
 *   - a #VMEXIT to L1 gives VMCB12 only what #VMEXIT stores, from L2's
 *     state as the CPU left it (L0's single-step TF and interrupt masking
 *     undone), and brings L1's state back intact with GIF clear;
 *   - while L2 runs, VMCB02 keeps every intercept L0 needs and L1 asked
 *     for, L2's ASID, nested paging, the merged maps, a valid EVENTINJ;
 *     L1's VMCB12 and state do not change for exits L0 handles;
 *   - L0 holds L2's interrupts exactly while L2's GIF is clear or a map step
 *     runs: V_INTR_MASKING in VMCB02, V_IRQ out of it, the host's IF clear;
 *     a TF in VMCB02 is L2's own or the step's;
 *   - L0 handles an MSR exit only for its own MSRs that L1 does not
 *     intercept, a CPUID only when L1 does not intercept it;
 *   - no merge stays cached over a page L0 wrote for L1 (VMSAVE). */
#include "tests/fuzz/nested_env.h"
#include "tests/fuzz/vmexit_codes.h"
#include "tests/unit/vmcb12_fixture.h"

/* --- L1's VMCB12 and its VMRUN ------------------------------------------------ */
static struct at_vmrun at;
static uint64_t l2_tf; /* L2's own RFLAGS.TF, as L2 set it */

static void load_vmcb12(struct fuzz_in *in)
{
    struct vmcb *v = ram_vmcb(PG_VMCB12_A);
    uint8_t base = in_u8(in);
    switch (base % 3) {
    case 0: make_long_mode(v); break;
    case 1: make_prot32(v); break;
    case 2: make_real(v); break;
    }
    v->control.msrpm_base_pa = ram_page(PG_MSRPM_A);
    v->control.iopm_base_pa = ram_page(PG_IOPM_A);
    if (base & 0x10) {
        v->control.nested_ctl = VMCB_NP_ENABLE;
        v->control.n_cr3 = 0x7000;
    }
    /* What L1 intercepts: the fixture's, plus or minus what the input says. */
    v->control.intercept_exceptions ^= in_u32(in);
    v->control.intercept_misc1 ^= in_u32(in);
    v->control.intercept_misc2 ^= in_u32(in) & ~VMCB_INTERCEPT2_VMRUN;
    v->control.intercept_cr ^= in_u32(in);
    v->control.int_ctl ^= (uint32_t)in_u8(in) << 24; /* V_INTR_MASKING, vGIF, ... */
}

static void op_l1_write(struct fuzz_in *in)
{
    static const unsigned pages[] = { PG_VMCB12_A, PG_MSRPM_A, PG_IOPM_A, PG_FREE };
    uint8_t where = in_u8(in);
    uint16_t off = in_u16(in);
    unsigned n = in_u8(in) % 8 + 1;
    uint64_t at_pa = ram_page(pages[where % 4]) + off % (where % 4 ? 3 * 4096 : 0x700);
    for (unsigned i = 0; i < n; i++)
        l1_write_byte(&cpus[0], at_pa + i, in_u8(in));
}

static void op_vmrun(struct fuzz_in *in)
{
    struct vcpu *v = &cpus[0];
    uint32_t clean = in_u32(in);
    if (v->nested.in_l2)
        return;
    for (unsigned i = 0; i < 4; i++)
        l1_write_byte(v, ram_page(PG_VMCB12_A) + 0xC0 + i, (uint8_t)(clean >> (8 * i)));
    struct vmcb *v01 = v->vmcb01.va;
    v01->save.rax = ram_page(PG_VMCB12_A);
    v01->save.cpl = 0;
    v01->control.exitcode = VMEXIT_VMRUN;
    v01->control.eventinj = 0;
    v->l1.efer_svme = true;
    exit_svm_insn(v);
    if (!v->nested.in_l2)
        return;
    check_vmcb02(v);
    check_merged_maps(v);
    note_vmrun(&at, v);
    l2_tf = v->nested.vmcb02.va->save.rflags & RFLAGS_TF;
    TRACE("VMRUN: L2 runs\n");
}

/* --- L2 runs ------------------------------------------------------------------ */
static void op_l2_state(struct fuzz_in *in)
{
    struct vcpu *v = &cpus[0];
    uint8_t f = in_u8(in);
    uint64_t rip = in_u64(in);
    uint8_t rax_sel = f & 1 ? in_u8(in) : 0;
    uint64_t rax = in_u64(in), rcx = in_u64(in), cr2 = in_u64(in);
    if (!v->nested.in_l2)
        return;
    struct vmcb *v02 = v->nested.vmcb02.va;
    bool code64 = (v02->save.efer & EFER_LMA) && (v02->save.cs.attrib & VMCB_SEG_ATTR_L);
    v02->save.rip = code64 ? rip : (uint32_t)rip; /* EIP outside 64-bit code */
    v02->save.rax = f & 1 ? fake_gpa(rax_sel, rax) : rax;
    v->regs.rcx = rcx;
    /* L2's TF and IF as L2 sets them; not during a map step, in which L2
     * runs the one instruction that wrote the map (a store: its flags stay). */
    if (!v->nested.map_step) {
        l2_tf = f & 2 ? RFLAGS_TF : 0;
        v02->save.rflags = (v02->save.rflags & ~(RFLAGS_IF | RFLAGS_TF)) | (f & 4 ? RFLAGS_IF : 0) | l2_tf;
    }
    v02->save.cr2 = cr2;
    v02->save.cpl = f & 8 ? 3 : 0;
    /* L2's CR8 writes go to V_TPR under V_INTR_MASKING (APM 15.21.1). */
    if (f & 0x10)
        v02->control.int_ctl = (v02->control.int_ctl & ~VMCB_INT_CTL_V_TPR_MASK) | (f >> 5);
    v02->control.int_state = f & 0x80 ? VMCB_INT_STATE_INTERRUPT_SHADOW : 0;
}

/* An intercept vector bit for a code (APM Appendix C: CR 00h-1Fh, DR
 * 20h-3Fh, exceptions 40h-5Fh, then the three misc vectors). */
static bool vector_bit(const struct vmcb_control *c, uint64_t code)
{
    uint32_t vec[] = { c->intercept_cr, c->intercept_dr, c->intercept_exceptions, c->intercept_misc1,
                       c->intercept_misc2, c->intercept_misc3 };
    return code < 0xC0 && ((vec[code / 32] >> (code % 32)) & 1);
}

static uint8_t raw_get(const void *map, uint32_t off) { return ((const uint8_t *)map)[off]; }

/* Any of an I/O access's ports' bits set in an IOPM (read by get). */
static bool io_bits(uint8_t (*get)(const void *, uint32_t), const void *map, uint64_t info1)
{
    unsigned size = (info1 & SVM_IOIO_SZ32) ? 4 : (info1 & SVM_IOIO_SZ16) ? 2 : 1;
    uint32_t port = (uint16_t)(info1 >> SVM_IOIO_PORT_SHIFT);
    for (uint32_t p = port; p < port + size; p++)
        if ((get(map, p / 8) >> (p % 8)) & 1)
            return true;
    return false;
}

/* Would the CPU give this exit with VMCB02 as it is? */
static bool vmcb02_takes(const struct vcpu *v, uint64_t code, uint64_t info1)
{
    const struct nested *n = &v->nested;
    const struct vmcb_control *c = &n->vmcb02.va->control;
    if (code == VMEXIT_NPF || code == VMEXIT_INVALID)
        return true;
    if (code == VMEXIT_MSR)
        return (c->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) &&
               msrpm_says(raw_get, n->msrpm02, (uint32_t)v->regs.rcx, info1 & 1);
    if (code == VMEXIT_IOIO)
        return (c->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) && io_bits(raw_get, n->iopm02, info1);
    return vector_bit(c, code);
}

/* Did L1 ask for this exit: its VMCB12's intercepts (the copy VMRUN
 * checked) and, for MSR and I/O exits, its own maps as they are now. */
static bool l1_asked(const struct vcpu *v, uint64_t code, uint64_t info1)
{
    const struct vmcb_control *c12 = &v->nested.vmcb12->control;
    if (code == VMEXIT_MSR)
        return (c12->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) &&
               msrpm_says(l1_map_get, (const void *)(uintptr_t)(c12->msrpm_base_pa & ~0xFFFULL),
                          (uint32_t)v->regs.rcx, info1 & 1);
    if (code == VMEXIT_IOIO)
        return (c12->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) &&
               io_bits(l1_map_get, (const void *)(uintptr_t)(c12->iopm_base_pa & ~0xFFFULL), info1);
    if (code == VMEXIT_NPF) /* L1's when NPT12 refuses L2 (NPT02's answer) */
        return (c12->nested_ctl & VMCB_NP_ENABLE) && l0.npf == NPT02_TO_L1;
    return vector_bit(c12, code);
}

/* A valid EXITINTINFO: nothing, or an event the CPU was delivering. */
static uint64_t exit_event(uint8_t sel, uint32_t error)
{
    static const uint8_t vectors[] = { 0, 1, 3, 6, 8, 13, 14, 17, 32, 0x80 };
    uint8_t vec = vectors[(sel >> 3) % 10];
    switch (sel & 7) {
    case 1: return vmcb_event_make(vec < 32 ? 0x40 : vec, VMCB_EVENT_TYPE_INTR, 0, 0);
    case 2: return vmcb_event_make(2, VMCB_EVENT_TYPE_NMI, 0, 0);
    case 3: return vmcb_event_make(vec < 32 ? vec : 13, VMCB_EVENT_TYPE_EXCEPTION, vec == 8 || vec == 13 || vec == 14 || vec == 17, error);
    case 4: return vmcb_event_make(vec, VMCB_EVENT_TYPE_SOFT_INT, 0, 0);
    }
    return 0;
}

/* The NPF of a non-NP L2 happens only where NPT01 refuses L1: the
 * hypervisor's region (decoy), a merged map's page (write), the APIC. */
static void npf_answers(struct vcpu *v, uint8_t sel, uint64_t *info1, uint64_t *info2)
{
    static const enum npt02_fill fills[] = { NPT02_FILLED, NPT02_FILLED_MAP_WRITE, NPT02_TO_L1,
                                             NPT02_APIC_WRITE };
    l0.npf = fills[sel % 4];
    l0.npf_info1 = SVM_NPF_US | SVM_NPF_FINAL_ADDR | (sel & 0x10 ? SVM_NPF_RW : 0) | (sel & 0x20 ? SVM_NPF_P : 0);
    l0.apic_write = sel & 0x40;
    l0.hv_access = false;
    if (!(v->nested.vmcb12->control.nested_ctl & VMCB_NP_ENABLE) && !l0.apic_write) {
        uint64_t page = *info2 & ~0xFFFULL;
        bool map_write = (*info1 & SVM_NPF_RW) && prot_index(page) >= 0;
        l0.hv_access = !map_write;
    }
}

/* L0's holding of L2's interrupts is consistent. */
static void check_hold(const struct vcpu *v)
{
    const struct nested *n = &v->nested;
    const struct vmcb *v02 = n->vmcb02.va;
    bool hold = !n->l2_gif || n->map_step;
    FUZZ_CHECK(n->intr_hold == hold, "L0 holds L2's interrupts exactly while its GIF is clear or a map step runs");
    if (hold)
        FUZZ_CHECK((v02->control.int_ctl & VMCB_INT_CTL_V_INTR_MASKING) &&
                       !(v02->control.int_ctl & VMCB_INT_CTL_V_IRQ) && !l1_gif_host_if(v),
                   "held: V_INTR_MASKING in VMCB02, no V_IRQ, the host's IF clear");
    FUZZ_CHECK(!(v02->save.rflags & RFLAGS_TF) || l2_tf || n->map_step,
               "a TF in VMCB02 is L2's own or the map step's");
    if (n->map_step)
        FUZZ_CHECK((v02->save.rflags & RFLAGS_TF) && (v02->control.intercept_exceptions & (1u << VEC_DB)),
                   "a map step runs with TF and #DB intercepted");
}


/* What VMSAVE stores (APM Vol. 3, VMSAVE): FS, GS, TR, LDTR with their
 * hidden state, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_CS,
 * _ESP and _EIP. */
static void vmsave_fields_copy(struct vmcb *to, const struct vmcb *from)
{
    to->save.fs = from->save.fs;
    to->save.gs = from->save.gs;
    to->save.tr = from->save.tr;
    to->save.ldtr = from->save.ldtr;
    to->save.kernel_gs_base = from->save.kernel_gs_base;
    to->save.star = from->save.star;
    to->save.lstar = from->save.lstar;
    to->save.cstar = from->save.cstar;
    to->save.sfmask = from->save.sfmask;
    to->save.sysenter_cs = from->save.sysenter_cs;
    to->save.sysenter_esp = from->save.sysenter_esp;
    to->save.sysenter_eip = from->save.sysenter_eip;
}

static void op_exit(struct fuzz_in *in)
{
    /* The whole record first: an exit that does not happen still takes
     * its bytes, so the operations after it read what they were given. */
    uint8_t sel = in_u8(in), f = in_u8(in);
    uint64_t code = sel < 0xF0 ? vmexit_codes[sel % VMEXIT_CODES_N] : in_u64(in);
    if (code == VMEXIT_EXCP_BP && (sel & 0x40)) /* any exception vector */
        code = VMEXIT_EXCP(in_u8(in) % 32);
    uint64_t info1 = in_u64(in), info2 = in_u64(in);
    uint8_t intinfo_sel = in_u8(in);
    uint32_t intinfo_error = in_u32(in);
    uint8_t nrip_len = in_u8(in) % 16;
    struct vcpu *v = &cpus[0];
    if (!v->nested.in_l2)
        return;
    struct nested *n = &v->nested;
    struct vmcb *v02 = n->vmcb02.va;
    if (code == VMEXIT_NMI || code == VMEXIT_INTR || code == VMEXIT_SMI || code == VMEXIT_INIT)
        info1 = info2 = 0; /* physical events carry no exit information */
    if (code == VMEXIT_MSR) {
        info1 &= 1;
        v->regs.rcx = f & 1 ? l0_msrs_rw[f % L0_MSRS_RW_N] : f & 2 ? l0_msrs_w[f % L0_MSRS_W_N]
                                                                  : (uint32_t)v->regs.rcx;
    }
    if (code == VMEXIT_NPF && !(info2 & 1))
        info2 = fake_gpa(info2 >> 56, info2);
    if (!vmcb02_takes(v, code, info1))
        return; /* the CPU would not exit for that */
    if (code == VMEXIT_NPF)
        npf_answers(v, f, &info1, &info2);
    l0.nmi_is_kick = f & 0x80;
    v02->control.exitcode = code;
    v02->control.exitinfo1 = info1;
    v02->control.exitinfo2 = info2;
    v02->control.exitintinfo = exit_event(intinfo_sel, intinfo_error);
    v02->control.nrip = host_caps()->nrips && (f & 4) ? v02->save.rip + nrip_len : 0;
    if (code == VMEXIT_EXCP_DB && (f & 8))
        v02->save.dr6 |= DR6_BS; /* a single-step trap */

    /* Before: what L1 asked, L2's state as the CPU left it. */
    /* A CR0-read exit that was another CR's read (QEMU's TCG; no decode
     * assists): L1 asked for what the instruction was, or L0 does it. */
    /* Likewise an RDTSC exit that was RDTSCP, or an RDTSC that exited
     * only for L1's RDTSCP intercept (hv/nested/nested_rdtscp.c). */
    uint64_t asked_code = code;
    bool cr_read_by_l0 = env_cr_read_fixed(v, &asked_code);
    bool rdtsc_by_l0 = env_rdtscp_fixed(v, &asked_code);
    bool asked = !cr_read_by_l0 && !rdtsc_by_l0 && l1_asked(v, asked_code, info1);
    bool step_db = n->map_step && code == VMEXIT_EXCP_DB;
    bool held_nmi = code == VMEXIT_NMI && (n->intr_hold || l0.nmi_is_kick);
    struct vmcb l2 = *v02;
    l2.save.rflags = (l2.save.rflags & ~RFLAGS_TF) | l2_tf;
    const struct vmcb *page = (const struct vmcb *)(uintptr_t)n->vmcb12_pa;
    static struct vmcb page_before, v01_before;
    page_before = *page;
    v01_before = *v->vmcb01.va;
    unsigned cpuid = l0.cpuid, msr = l0.msr;
    uint64_t rax = v02->save.rax, rip = v02->save.rip;
    TRACE("exit %#lx info1 %#lx info2 %#lx (L1 asked: %d)\n", code, info1, info2, asked);

    fatal_armed = true;
    if (setjmp(fatal_jmp)) {
        FUZZ_CHECK(code == VMEXIT_SHUTDOWN && !(n->vmcb12->control.intercept_misc1 & VMCB_INTERCEPT1_SHUTDOWN),
                   "the hypervisor stops only for L2's shutdown that L1 does not intercept");
        fatal_armed = false;
        return;
    }
    exit_dispatch(v);
    fatal_armed = false;

    if (!n->in_l2) { /* a #VMEXIT to L1 */
        uint64_t got = page->control.exitcode;
        TRACE("  -> L1 gets %#lx\n", got);
        FUZZ_CHECK(got == VMEXIT_INVALID || l1_asked(v, got, info1) ||
                       (got == VMEXIT_NMI && (n->vmcb12->control.intercept_misc1 & VMCB_INTERCEPT1_NMI)),
                   "L1 never gets an exit it did not ask for");
        uint64_t want1 = got == code ? (code == VMEXIT_NPF ? l0.npf_info1 : info1) : page->control.exitinfo1;
        uint64_t want2 = got == code ? info2 : page->control.exitinfo2;
        if (got == VMEXIT_INVALID)
            want1 = want2 = 0;
        if (got != code) {
            /* L0 ran L2's instruction, then raised an exception L1
             * intercepts: L2's state is the one after that instruction. */
            l2 = *v02;
            l2.save.rflags = (l2.save.rflags & ~RFLAGS_TF) | (l2_tf ? RFLAGS_TF : 0);
            /* That instruction was a VMSAVE into VMCB12's own page: its
             * stores are L2's, before the #VMEXIT's (found by the 10M run). */
            if (code == VMEXIT_VMSAVE && (rax & ~0xFFFULL) == n->vmcb12_pa)
                vmsave_fields_copy(&page_before, page);
        }
        check_reflected(v, &at, &l2, &page_before, page, got, want1, want2);
        return;
    }
    /* Still in L2: L0 handled it. */
    TRACE("  -> L0 handled it\n");
    FUZZ_CHECK(!asked || step_db || held_nmi || code == VMEXIT_EXCP_SX,
               "an exit L1 asked for goes to L1 (but L0's own events)");
    FUZZ_CHECK(code != VMEXIT_INVALID, "VMEXIT_INVALID always goes to L1");
    bool vmsave_there = code == VMEXIT_VMSAVE && (rax & ~0xFFFULL) == n->vmcb12_pa; /* L2's own write */
    FUZZ_CHECK(vmsave_there || !memcmp(page, &page_before, sizeof *page), "L0's own exits leave L1's VMCB12");
    FUZZ_CHECK(!memcmp(&v->vmcb01.va->save, &v01_before.save, sizeof v01_before.save),
               "L0's own exits leave L1's state");
    if (l0.msr != msr) {
        long bit = msrpm_bit_index((uint32_t)v->regs.rcx, info1 & 1);
        FUZZ_CHECK(bit < 0 || ((l0_msrpm[bit / 8] >> (bit % 8)) & 1),
                   "L0 handles an MSR exit only for its own MSRs");
    }
    FUZZ_CHECK(l0.cpuid == cpuid || !asked, "L0 answers CPUID only when L1 does not intercept it");
    if (code == VMEXIT_VMSAVE && v02->save.rip != rip) /* done, not refused */
        l0_wrote_check(rax);
    check_vmcb02(v);
    check_hold(v);
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
    load_vmcb12(&in);
    l2_tf = 0;
    for (int ops = 0; ops < 32 && !in_empty(&in); ops++) {
        switch (in_u8(&in) % 8) {
        case 0: op_l1_write(&in); break;
        case 1: op_vmrun(&in); break;
        case 2: op_l2_state(&in); break;
        default: op_exit(&in); break;
        }
    }
    return 0;
}
