/* Nested SVM (APM Vol. 2, 15.5-15.6 applied to L1 as the "host").
 *
 * L1's state stays in VMCB01 while L2 runs: VMCB01's RIP already points
 * past L1's VMRUN and its RAX is VMCB12's address, exactly what L1 must see
 * after a #VMEXIT, so nothing is copied to L1's VM_HSAVE_PA area (whose
 * format the APM leaves to the implementation). VMCB12 is read once per
 * VMRUN into a private copy; checks and the VMCB02 build use only the copy
 * (a second read would let another L1 CPU change it after the check). */
#include "hv/nested/nested.h"
#include <string.h>
#include "arch/x86/vectors.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"
#include "hv/smp/apic.h"
#include "hv/nested/cut_off_event.h"
#include "hv/core/exception.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/memory/guest_mem.h"
#include "hv/core/host_caps.h"
#include "hv/nested/l1_gif.h"
#include "hv/exit/l1_intercepts.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/nested/nested_gif.h"
#include "hv/nested/nested_maps.h"
#include "hv/nested/nested_route.h"
#include "hv/nested/nested_tsc.h"
#include "hv/console/stats.h"
#include "hv/tlb/tlb.h"
#include "hv/nested/vmcb12_check.h"

#define DR7_RESET 0x400


/* EFER bits this CPU has (CPUID 0x80000001); LMSLE is never offered. */
static uint64_t read_efer_supported(void)
{
    struct cpuid_regs e = cpuid(0x80000001u, 0);
    uint64_t bits = EFER_SCE | EFER_LME | EFER_LMA | EFER_SVME;
    if (e.edx & (1u << 20)) bits |= EFER_NXE;
    if (e.edx & (1u << 25)) bits |= EFER_FFXSR;
    if (e.ecx & (1u << 17)) bits |= EFER_TCE;
    return bits;
}

/* CR4 bits this CPU has (MBZ = the rest, for the VMCB12 checks). */
static uint64_t read_cr4_supported(void)
{
    struct cpuid_regs l1 = cpuid(1, 0), l7 = cpuid(7, 0);
    uint64_t bits = 0x7FF; /* VME..OSXMMEXCPT: every x86-64 CPU */
    if (l7.ecx & (1u << 2)) bits |= 1ULL << 11;  /* UMIP */
    if (l7.ecx & (1u << 16)) bits |= 1ULL << 12; /* LA57 */
    if (l7.ebx & (1u << 0)) bits |= 1ULL << 16;  /* FSGSBASE */
    if (l1.ecx & (1u << 17)) bits |= 1ULL << 17; /* PCIDE */
    if (l1.ecx & (1u << 26)) bits |= 1ULL << 18; /* OSXSAVE */
    if (l7.ebx & (1u << 7)) bits |= 1ULL << 20;  /* SMEP */
    if (l7.ebx & (1u << 20)) bits |= 1ULL << 21; /* SMAP */
    if (l7.ecx & (1u << 3)) bits |= 1ULL << 22;  /* PKE */
    if (l7.ecx & (1u << 7)) bits |= 1ULL << 23;  /* CET */
    return bits;
}
static struct vmcb12_check_env check_env;

bool nested_init(struct vcpu *v)
{
    struct nested *n = &v->nested;
    uint64_t copy_pa;
    n->merged_msrpm12 = n->merged_iopm12 = NESTED_MAPS_NONE;
    n->vmcb12 = hv_alloc_zeroed(1, &copy_pa);
    n->vmcb02.va = hv_alloc_zeroed(1, &n->vmcb02.pa);
    n->msrpm02 = hv_alloc_zeroed(MSRPM_SIZE / 4096, &n->msrpm02_pa);
    n->iopm02 = hv_alloc_zeroed(IOPM_SIZE / 4096, &n->iopm02_pa);
    if (n->vmcb02.va) {
        /* VMCB02's fields that no VMCB12 changes: nested paging always on
         * (NPT02, or NPT01 when L1 uses none), the merged maps. The ASID
         * and NPT02 are the L2 entry's (nested_vmcb02_use_entry()). */
        struct vmcb_control *c = &n->vmcb02.va->control;
        c->guest_asid = L2_ASID_FIRST;
        c->nested_ctl = VMCB_NP_ENABLE;
        c->msrpm_base_pa = n->msrpm02_pa;
        c->iopm_base_pa = n->iopm02_pa;
    }
    check_env = (struct vmcb12_check_env){
        .phys_limit = guest_phys_limit(),
        .nasid = NESTED_ASIDS,
        .efer_supported = read_efer_supported(),
        .cr4_supported = read_cr4_supported(),
        .np_allowed = true,
        .vgif_allowed = host_caps()->vgif, /* offered where the CPU has it (hv/nested/nested_gif.h) */
    };
    if (!n->vmcb12 || !n->vmcb02.va || !n->msrpm02 || !n->iopm02)
        return false;
    /* One NPT02 per L2 entry the CPU's ASIDs allow (hv/tlb/tlb_policy.h). */
    n->npt02_count = tlb_l2_entries_for(host_caps()->nasid);
    for (unsigned i = 0; i < n->npt02_count; i++)
        if (!guest_mem_npt02_init(&n->npt02[i]))
            return false;
    return true;
}


static inline bool svm_insn_allowed(struct vcpu *v);
static void l1_injects(struct vcpu *v);
static void l2_nmi(struct vcpu *v);
static void l2_release_held_nmi(struct vcpu *v);

/* STGI and CLGI of L1, or of L2 when L1 does not intercept them: L2 runs
 * with EFER.SVME set (15.5.1), so they execute there and set or clear the
 * GIF that governs L2 (15.17), which L0 keeps (hv/nested/nested_gif.c). */
void nested_stgi(struct vcpu *v)
{
    if (!svm_insn_allowed(v))
        return;
    if (!v->nested.in_l2) {
        vcpu_skip_insn(v); /* a single-step trap goes before a held NMI */
        l1_gif_set(v, true);
        return;
    }
    /* GIF first: completing the instruction may leave L2 (a single-step
     * #DB that L1 intercepts), and that #VMEXIT must find it set. An
     * interrupt held meanwhile comes at the next VMRUN (the host's IF is
     * set again); a held NMI is routed right after the STGI. */
    nested_gif_set(v, true);
    vcpu_skip_insn(v);
    l2_release_held_nmi(v);
}

void nested_clgi(struct vcpu *v)
{
    if (!svm_insn_allowed(v))
        return;
    if (v->nested.in_l2) {
        nested_gif_set(v, false);
        vcpu_skip_insn(v);
        return;
    }
    vcpu_skip_insn(v);
    l1_gif_set(v, false);
}

/* SVM instructions need EFER.SVME (else #UD) and CPL 0 (else #GP), APM
 * Vol. 3 for each of them; of the guest that runs them, L1 or L2. */
static inline __attribute__((always_inline)) bool svm_insn_allowed(struct vcpu *v)
{
    bool svme = v->nested.in_l2 ? v->nested.l2_svme : v->l1.efer_svme;
    if (!svme) {
        vcpu_inject_exception(v, VEC_UD, false, 0);
        return false;
    }
    if (v->vmcb.va->save.cpl != 0) {
        vcpu_inject_exception(v, VEC_GP, true, 0);
        return false;
    }
    return true;
}

/* A VMCB address in RAX: 4 KiB aligned and in L1's RAM, never the
 * hypervisor's (else #GP, as for an address the CPU cannot use). From L2
 * too it is an address of L1's physical memory: without virtualized
 * VMLOAD/VMSAVE for L2 (15.33.1, not offered to L1 for its guests; L1's own
 * may be virtualized, hv/nested/l1_vmload.h) no nested translation applies,
 * as KVM also reads it (its CVE-2021-3656). */
static struct vmcb *l1_vmcb_at(struct vcpu *v, uint64_t gpa)
{
    if ((gpa & 0xFFF) || !l1_ram_ok(gpa, 4096)) {
        vcpu_inject_exception(v, VEC_GP, true, 0);
        return 0;
    }
    return (struct vmcb *)gpa; /* identity map */
}

/* The state VMLOAD/VMSAVE move (APM 15.5.2): FS, GS, TR, LDTR with their
 * hidden parts, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*. For L1
 * and L2 alike they live in v->guest_cpu, the page the run loop
 * VMLOADs/VMSAVEs. */
static void copy_vmload_state(struct vmcb_save *to, const volatile struct vmcb_save *from)
{
    to->fs = from->fs;
    to->gs = from->gs;
    to->tr = from->tr;
    to->ldtr = from->ldtr;
    to->kernel_gs_base = from->kernel_gs_base;
    to->star = from->star;
    to->lstar = from->lstar;
    to->cstar = from->cstar;
    to->sfmask = from->sfmask;
    to->sysenter_cs = from->sysenter_cs;
    to->sysenter_esp = from->sysenter_esp;
    to->sysenter_eip = from->sysenter_eip;
}

void nested_vmload(struct vcpu *v)
{
    if (!svm_insn_allowed(v))
        return;
    struct vmcb *src = l1_vmcb_at(v, v->vmcb.va->save.rax);
    if (!src)
        return;
    copy_vmload_state(&v->guest_cpu.va->save, &src->save);
    vcpu_skip_insn(v);
}

void nested_vmsave(struct vcpu *v)
{
    if (!svm_insn_allowed(v))
        return;
    struct vmcb *dst = l1_vmcb_at(v, v->vmcb.va->save.rax);
    if (!dst)
        return;
    copy_vmload_state(&dst->save, &v->guest_cpu.va->save);
    nested_maps_l0_wrote(v, (uint64_t)dst); /* a VMSAVE area may be a map's page too */
    vcpu_skip_insn(v);
}

/* INVLPGA (APM 15.16.2): RAX = address, ECX = ASID. ASID 0 is L1's own;
 * from L2 the ASIDs are the same (L1's view of the CPU). */
void nested_invlpga(struct vcpu *v)
{
    if (!svm_insn_allowed(v))
        return;
    tlb_invlpga(v, (uint32_t)v->regs.rcx);
    vcpu_skip_insn(v);
}

/* --- VMRUN ------------------------------------------------------------ */

/* #VMEXIT to L1 with exit code VMEXIT_INVALID: L1 resumes after VMRUN with
 * GIF clear, as after any #VMEXIT. */
static void vmrun_failed(struct vcpu *v, struct vmcb *vmcb12, const char *check)
{
    v->nested.invalid++;
    pr_debug("VMRUN of VMCB12 %#lx: consistency check failed: %s", v->nested.vmcb12_pa, check);
    vmcb12->control.exitcode = VMEXIT_INVALID;
    vmcb12->control.exitinfo1 = 0;
    vmcb12->control.exitinfo2 = 0;
    vmcb12->control.exitintinfo = 0;
    nested_maps_l0_wrote(v, v->nested.vmcb12_pa);
    l1_gif_set(v, false);
}

/* --- Reading VMCB12 -------------------------------------------------------
 * Only the fields VMRUN reads (APM Appendix B) are copied, straight into the
 * private copy. They come in the groups of the VMCB clean bits (APM
 * 15.15.3), which L1 is offered: a group L1 marks clean for the same VMCB12
 * it ran last keeps the copy (already checked) and VMCB02's fields as they
 * are, which is what the hardware may do with a cached VMCB. RIP, RSP, RAX,
 * RFLAGS, EVENTINJ, the ASID/TLB_CONTROL word, the interrupt shadow and
 * virt_ext are read at every VMRUN.
 * The helpers are inlined into load_vmcb12() so that its fully-clean
 * instance folds every clean-bit test away. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

struct range {
    uint16_t from, to;
};
#define RANGES(...) ((const struct range[]){ __VA_ARGS__ })
#define NRANGES(...) (sizeof RANGES(__VA_ARGS__) / sizeof(struct range))

static ALWAYS_INLINE void
copy_ranges(uint64_t *d, const volatile uint64_t *s, const struct range *r, unsigned n)
{
#pragma GCC unroll 8
    for (unsigned k = 0; k < n; k++)
#pragma GCC unroll 16
        for (unsigned i = r[k].from / 8; i < r[k].to / 8; i++)
            d[i] = s[i];
}

#define COPY_GROUP(d, s, ...) copy_ranges(d, s, RANGES(__VA_ARGS__), NRANGES(__VA_ARGS__))

/* Clean bits L0 honours; the others are always reloaded. */
#define CLEAN_HONOURED (VMCB_CLEAN_INTERCEPTS | VMCB_CLEAN_IOPM | VMCB_CLEAN_TPR | \
                        VMCB_CLEAN_NP | VMCB_CLEAN_CRX | VMCB_CLEAN_DRX | VMCB_CLEAN_DT | \
                        VMCB_CLEAN_SEG | VMCB_CLEAN_CR2)

static ALWAYS_INLINE void copy_vmcb12(struct vmcb *copy, const volatile struct vmcb *src, uint32_t clean)
{
    const volatile uint64_t *s = (const volatile uint64_t *)src;
    uint64_t *d = (uint64_t *)copy;
    /* ASID+TLB_CONTROL, int_state, EVENTINJ, virt_ext, RFLAGS+RIP, RSP,
     * S_CET, RAX */
    COPY_GROUP(d, s, { 0x058, 0x060 }, { 0x068, 0x070 }, { 0x0A8, 0x0B0 }, { 0x0B8, 0x0C0 },
               { 0x570, 0x580 }, { 0x5D8, 0x5E8 }, { 0x5F8, 0x600 });
    /* nRIP, with an event to inject only: with NRIPS it is the return
     * address of an injected INTn/INT3/INTO (15.20, l1_injects()). */
    if (__builtin_expect((d[0x0A8 / 8] & VMCB_EVENT_V) != 0, 0))
        d[0x0C8 / 8] = s[0x0C8 / 8];
    if (!(clean & VMCB_CLEAN_INTERCEPTS)) /* intercepts, pause filter, TSC offset */
        COPY_GROUP(d, s, { 0x000, 0x018 }, { 0x038, 0x040 }, { 0x050, 0x058 });
    if (!(clean & VMCB_CLEAN_IOPM))
        COPY_GROUP(d, s, { 0x040, 0x050 });
    if (!(clean & VMCB_CLEAN_TPR))
        COPY_GROUP(d, s, { 0x060, 0x068 });
    if (!(clean & VMCB_CLEAN_NP)) /* nested_ctl, nCR3, G_PAT */
        COPY_GROUP(d, s, { 0x090, 0x098 }, { 0x0B0, 0x0B8 }, { 0x668, 0x670 });
    if (!(clean & VMCB_CLEAN_CRX)) /* EFER, CR4, CR3, CR0 */
        COPY_GROUP(d, s, { 0x4D0, 0x4D8 }, { 0x548, 0x560 });
    if (!(clean & VMCB_CLEAN_DRX))
        COPY_GROUP(d, s, { 0x560, 0x570 });
    if (!(clean & VMCB_CLEAN_DT)) /* GDTR, IDTR */
        COPY_GROUP(d, s, { 0x460, 0x470 }, { 0x480, 0x490 });
    if (!(clean & VMCB_CLEAN_SEG)) /* ES, CS, SS, DS, CPL */
        COPY_GROUP(d, s, { 0x400, 0x440 }, { 0x4C8, 0x4D0 });
    if (!(clean & VMCB_CLEAN_CR2))
        COPY_GROUP(d, s, { 0x640, 0x648 });
}

/* The groups that hold the maps' addresses and their enables. */
#define MAPS_CLEAN (VMCB_CLEAN_INTERCEPTS | VMCB_CLEAN_IOPM)

/* The checks when every group they read but the always-read fields is
 * clean (and was checked): only those over always-read fields remain. */
#define CLEAN_FOR_CHECKS (VMCB_CLEAN_INTERCEPTS | VMCB_CLEAN_IOPM | VMCB_CLEAN_TPR | \
                          VMCB_CLEAN_NP | VMCB_CLEAN_CRX | VMCB_CLEAN_DRX | VMCB_CLEAN_SEG)

static ALWAYS_INLINE const char *check_copy(const struct vmcb *copy, uint32_t clean)
{
    if ((clean & CLEAN_FOR_CHECKS) == CLEAN_FOR_CHECKS)
        return vmcb12_check_reloaded(copy, &check_env);
    return vmcb12_check(copy, &check_env);
}

/* VMCB02's intercepts: L1's, plus what L0 always needs in L2 (docs/design.md, "Nested SVM").
 * Fields no VMCB12 can change (ASID, nested_ctl, the maps' addresses) were
 * set once by nested_init(); the exit fields are the CPU's to write. */
static ALWAYS_INLINE void build_controls(struct vcpu *v, const struct vmcb_control *c12, uint32_t clean)
{
    struct vmcb_control *c = &v->nested.vmcb02.va->control;
    if (!(clean & VMCB_CLEAN_INTERCEPTS)) {
        c->intercept_cr = c12->intercept_cr;
        c->intercept_dr = c12->intercept_dr;
        c->intercept_exceptions = c12->intercept_exceptions | L0_INTERCEPT_EXCEPTIONS;
        c->intercept_misc1 = c12->intercept_misc1 | L2_INTERCEPT_MISC1_L0 |
                             nested_rdtscp_l0_misc1(c12, host_caps()->decode_assists);
        c->intercept_misc3 = c12->intercept_misc3;
        c->pause_filter_thresh = c12->pause_filter_thresh;
        c->pause_filter_count = c12->pause_filter_count;
        c->tsc_offset = nested_tsc_offset(v->vmcb01.va->control.tsc_offset, c12->tsc_offset,
                                          v->l1.tsc_ratio);
    }
    if (!(clean & VMCB_CLEAN_TPR)) {
        /* V_TPR, V_IRQ, priority, V_IGN_TPR, V_INTR_MASKING and the vector
         * as L1 set them, and its vGIF (allowed by the checks only where
         * the CPU has it: L2's STGI/CLGI then run on the CPU's V_GIF,
         * 15.33.2; else L0 emulates L2's GIF, hv/nested/nested_gif.c). V_GIF
         * goes only with its enable: without vGIF, bit 9 is reserved on
         * the CPU and nothing L0 offered. AVIC and vNMI were refused by
         * the checks. */
        uint32_t vgif = (c12->int_ctl & VMCB_INT_CTL_VGIF_ENABLE)
                            ? VMCB_INT_CTL_VGIF_ENABLE | VMCB_INT_CTL_VGIF : 0;
        c->int_ctl = c12->int_ctl & (VMCB_INT_CTL_V_TPR_MASK | VMCB_INT_CTL_V_IRQ |
                                     VMCB_INT_CTL_V_INTR_PRIO_MASK | VMCB_INT_CTL_V_IGN_TPR |
                                     VMCB_INT_CTL_V_INTR_MASKING | vgif);
        c->int_vector = c12->int_vector;
    }
    /* From the intercepts and int_ctl groups: rebuilt when either is dirty. */
    if ((clean & (VMCB_CLEAN_INTERCEPTS | VMCB_CLEAN_TPR)) != (VMCB_CLEAN_INTERCEPTS | VMCB_CLEAN_TPR))
        c->intercept_misc2 = c12->intercept_misc2 | L2_INTERCEPT_MISC2_L0 |
                             ((c12->int_ctl & VMCB_INT_CTL_VGIF_ENABLE) ? 0 : L2_INTERCEPT_GIF_L0);
    c->int_state = c12->int_state & VMCB_INT_STATE_INTERRUPT_SHADOW;
    c->eventinj = c12->eventinj;
    /* Clean bits cover the maps' addresses, not their contents (15.15.3):
     * an L1 write to a merged map dropped the merge, whatever they say. */
    if ((clean & MAPS_CLEAN) != MAPS_CLEAN || nested_maps_dropped(&v->nested))
        nested_maps_merge(v, c12);
    if (!(clean & VMCB_CLEAN_NP)) {
        if (c12->nested_ctl & VMCB_NP_ENABLE) {
            /* Never 0 with NP on: L1 may put its NPT12 at GPA 0, and a
             * root of 0 read as "no NP" sent every #NPF of such an L2 to
             * the hypervisor's fatal stop. */
            v->nested.npt12_root = (c12->n_cr3 & VMCB_PAGE_ADDR_MASK) | NPT12_ON;
            /* The current L2 entry's; switch_vmcb() changes it with the
             * entry (nested_vmcb02_use_entry()). */
            c->n_cr3 = nested_npt02(v)->root;
        } else {
            v->nested.npt12_root = 0;
            c->n_cr3 = guest_mem_npt01_root(); /* L2 lives in L1's physical space */
        }
    }
}

static ALWAYS_INLINE void build_save(struct vcpu *v, const struct vmcb_save *s12, uint32_t clean)
{
    struct vmcb_save *s = &v->nested.vmcb02.va->save;
    if (!(clean & VMCB_CLEAN_SEG)) {
        s->es = s12->es;
        s->cs = s12->cs;
        s->ss = s12->ss;
        s->ds = s12->ds;
        s->cpl = s12->cpl;
    }
    if (!(clean & VMCB_CLEAN_DT)) {
        s->gdtr = s12->gdtr;
        s->idtr = s12->idtr;
    }
    if (!(clean & VMCB_CLEAN_CRX)) {
        s->efer = s12->efer;
        s->cr0 = s12->cr0;
        s->cr3 = s12->cr3;
        s->cr4 = s12->cr4;
    }
    if (!(clean & VMCB_CLEAN_DRX)) {
        s->dr6 = s12->dr6;
        s->dr7 = s12->dr7;
    }
    if (!(clean & VMCB_CLEAN_CR2))
        s->cr2 = s12->cr2;
    if (!(clean & VMCB_CLEAN_NP))
        s->g_pat = s12->g_pat;
    s->rflags = s12->rflags;
    s->rip = s12->rip;
    s->rsp = s12->rsp;
    s->rax = s12->rax;
    /* FS, GS, TR, ...: VMRUN does not load them (VMLOAD's job), L2 starts
     * with what L1's CPU holds: the shared v->guest_cpu page. */
}

/* Reads VMCB12 into the copy, checks the copy, builds VMCB02 from it. NULL,
 * or the name of the failed check. Always inlined: called with the constant
 * CLEAN_HONOURED (the usual VMRUN of a clean-bit-aware L1, e.g. KVM), the
 * compiler drops every group test and copy and what remains is the
 * always-read fields: the fast path is this same code, not a second copy. */
static ALWAYS_INLINE const char *
load_vmcb12(struct vcpu *v, const volatile struct vmcb *vmcb12, uint32_t clean)
{
    struct nested *n = &v->nested;
    copy_vmcb12(n->vmcb12, vmcb12, clean);
    const char *failed = check_copy(n->vmcb12, clean);
    /* The maps' addresses and enables are in these groups: clean, they
     * were validated when loaded. */
    if (!failed && (clean & MAPS_CLEAN) != MAPS_CLEAN && !nested_maps_valid(&n->vmcb12->control))
        failed = "MSRPM or IOPM not in L1's RAM";
    if (failed)
        return failed;
    build_controls(v, &n->vmcb12->control, clean);
    build_save(v, &n->vmcb12->save, clean);
    return NULL;
}

void nested_vmrun(struct vcpu *v)
{
    struct nested *n = &v->nested;
    if (!svm_insn_allowed(v))
        return;
    uint64_t gpa = v->vmcb01.va->save.rax;
    /* The VMCB12 VMCB02 was last built from was checked then (L1's RAM does
     * not change); clean bits count only for it. */
    bool same = n->copy_valid && gpa == n->vmcb12_pa;
    struct vmcb *vmcb12 = same ? (struct vmcb *)gpa : l1_vmcb_at(v, gpa);
    if (!vmcb12)
        return;
    uint32_t clean =
        same ? *(volatile uint32_t *)&vmcb12->control.vmcb_clean & CLEAN_HONOURED : 0;
    n->vmcb12_pa = gpa;
    n->vmruns++;
    /* L1 resumes after VMRUN at the #VMEXIT, with its RAX (= VMCB12). */
    vcpu_skip_insn(v);
    const char *failed = clean == CLEAN_HONOURED ? load_vmcb12(v, vmcb12, CLEAN_HONOURED)
                                                 : load_vmcb12(v, vmcb12, clean);
    n->copy_valid = !failed;
    if (failed) {
        vmrun_failed(v, vmcb12, failed);
        return;
    }
    /* VMRUN sets GIF (15.5.1). VMCB01 need not follow now: it runs again
     * only after a #VMEXIT, which clears GIF and updates it. An NMI held
     * since CLGI stays held until L1's STGI. */
    n->gif = true;
    n->l2_gif = true;
    n->l2_svme = true; /* the checks required it */
    n->l1_if_at_vmrun = (v->vmcb01.va->save.rflags & RFLAGS_IF) != 0;
    nested_tsc_ratio_load(v, v->l1.tsc_ratio);
    if (__builtin_expect((n->vmcb12->control.eventinj & VMCB_EVENT_V) != 0, 0))
        l1_injects(v);
    switch_vmcb(v, TLB_CTX_L2);
}

/* L1 injects an event into L2 (VMCB12's EVENTINJ, 15.20, already in
 * VMCB02). An instruction's event is noted: if an exit L0 handles cuts its
 * delivery off, it is L1's to inject again, not L2's instruction to run
 * again (hv/nested/cut_off_event.h). With NRIPS the CPU pushes nRIP as the
 * return address of an injected INTn/INT3/INTO (15.20; KVM as L1 leaves
 * RIP at the instruction and gives the next one there): VMCB02 takes
 * VMCB12's, from the copy (copy_vmcb12() reads it when an event is
 * injected). */
static void l1_injects(struct vcpu *v)
{
    struct nested *n = &v->nested;
    uint64_t ev = n->vmcb12->control.eventinj;
    if (!cut_off_event_is_instruction(ev)) {
        n->l1_insn_event = 0;
        return;
    }
    n->l1_insn_event = ev;
    n->l1_insn_event_exit = v->stats.total + 1; /* this is L1's VMRUN exit */
    if (host_caps()->nrips) {
        n->l1_insn_event_nrip = n->vmcb12->control.nrip;
        n->vmcb02.va->control.nrip = n->l1_insn_event_nrip;
    }
}

bool nested_cut_off_event_is_l1s(const struct vcpu *v, const struct vmcb *exited, uint64_t intinfo)
{
    const struct nested *n = &v->nested;
    return exited == n->vmcb02.va &&
           cut_off_event_is_l1s(intinfo, n->l1_insn_event, v->stats.total == n->l1_insn_event_exit,
                                exited->save.rip, n->vmcb12->save.rip);
}

void nested_l1_insn_event_reinjected(struct vcpu *v)
{
    struct nested *n = &v->nested;
    /* The next exit may cut its delivery off again: still L1's then. */
    n->l1_insn_event_exit = v->stats.total + 1;
    if (host_caps()->nrips) /* the exit overwrote nRIP (15.7.1) */
        n->vmcb02.va->control.nrip = n->l1_insn_event_nrip;
}

/* --- #VMEXIT from L2 --------------------------------------------------- */

static void reflect(struct vcpu *v, uint64_t code, uint64_t info1, uint64_t info2);

bool nested_l1_takes_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
    if (!((v->nested.vmcb12->control.intercept_exceptions >> vector) & 1))
        return false;
    /* EXITINFO1: the error code, if any; #PF's EXITINFO2 would be CR2
     * (L0 raises no #PF for L2). #DB's DR6 is in VMCB02 already. */
    reflect(v, VMEXIT_EXCP(vector), has_error ? error : 0, 0);
    return true;
}

/* Decode assists (APM 15.33.5): with them the CPU fetched the bytes of
 * L2's instruction at a #NPF or #PF intercept; L1 was offered the feature
 * (hv/exit/exit_cpuid.c) and gets them, when the exit it gets is the CPU's.
 * Every other exit reports none. Without the feature the field is not
 * L1's to read, and stays as L1 left it. */
static void reflect_insn_bytes(struct vmcb_control *c12, const struct vmcb_control *c02,
                               uint64_t code)
{
    if (!host_caps()->decode_assists)
        return;
    bool bytes = code == c02->exitcode && (code == VMEXIT_NPF || code == VMEXIT_EXCP(VEC_PF));
    c12->guest_insn_len = bytes ? c02->guest_insn_len : 0;
    if (bytes)
        memcpy(c12->guest_insn_bytes, c02->guest_insn_bytes, sizeof c12->guest_insn_bytes);
}

/* Writes what a #VMEXIT stores (APM 15.6) into L1's VMCB12 in L1 memory. */
static void write_exit_to_vmcb12(struct vcpu *v, uint64_t code, uint64_t info1, uint64_t info2)
{
    const struct vmcb *v02 = v->nested.vmcb02.va;
    struct vmcb *v12 = (struct vmcb *)v->nested.vmcb12_pa;
    struct vmcb_save *s = &v12->save;
    const struct vmcb_save *g = &v02->save;
    s->es = g->es;
    s->cs = g->cs;
    s->ss = g->ss;
    s->ds = g->ds;
    s->gdtr = g->gdtr;
    s->idtr = g->idtr;
    s->efer = (g->efer & ~EFER_SVME) | (v->nested.l2_svme ? EFER_SVME : 0);
    s->cr0 = g->cr0;
    s->cr2 = g->cr2;
    s->cr3 = g->cr3;
    s->cr4 = g->cr4;
    s->rflags = g->rflags;
    s->rip = g->rip;
    s->rsp = g->rsp;
    s->rax = g->rax;
    s->dr6 = g->dr6;
    s->dr7 = g->dr7;
    s->cpl = g->cpl;
    s->g_pat = g->g_pat;
    struct vmcb_control *c = &v12->control;
    c->int_state = v02->control.int_state;
    /* V_TPR, V_IRQ (one L0 held while L2's GIF was clear included), and
     * V_GIF when L1 gave L2 a vGIF. */
    uint32_t back = VMCB_INT_CTL_V_TPR_MASK | VMCB_INT_CTL_V_IRQ |
                    ((c->int_ctl & VMCB_INT_CTL_VGIF_ENABLE) ? VMCB_INT_CTL_VGIF : 0);
    c->int_ctl = (c->int_ctl & ~back) | (v02->control.int_ctl & back) |
                 (v->nested.l2_virq_held ? VMCB_INT_CTL_V_IRQ : 0);
    c->exitcode = code;
    c->exitinfo1 = info1;
    c->exitinfo2 = info2;
    c->exitintinfo = v02->control.exitintinfo;
    c->eventinj = 0; /* delivered, or now in EXITINTINFO */
    c->nrip = host_caps()->nrips ? v02->control.nrip : 0;
    reflect_insn_bytes(c, &v02->control, code);
    /* The CPU reads a map as it is at each access (15.10, 15.11): L1's
     * VMCB12 sharing a page with a merged map must not leave it stale. */
    nested_maps_l0_wrote(v, v->nested.vmcb12_pa);
}

/* L2 shut down (a triple fault, 15.14.3): L1's to handle, but a user
 * debugging L1's guest wants to see where. Limited: L2 may do it often. */
static __attribute__((noinline, cold)) void l2_shutdown_note(const struct vcpu *v)
{
    const struct vmcb *v02 = v->nested.vmcb02.va;
    const struct vmcb_save *g = &v02->save;
    pr_info_limited("cpu%u: L2 shut down (RIP %#lx RSP %#lx CR0 %#lx CR3 %#lx CR4 %#lx EFER %#lx, "
                    "EXITINTINFO %#lx); the SHUTDOWN #VMEXIT goes to L1",
                    v->id, g->rip, g->rsp, g->cr0, g->cr3, g->cr4, g->efer,
                    v02->control.exitintinfo);
}

static void reflect(struct vcpu *v, uint64_t code, uint64_t info1, uint64_t info2)
{
    struct vmcb_save *l1 = &v->vmcb01.va->save;
    const struct vmcb_save *l2 = &v->nested.vmcb02.va->save;
    struct nested *n = &v->nested;
    stats_mark_reflected(&v->stats); /* the trace and the statistics' L2 split */
    if (__builtin_expect(code == VMEXIT_SHUTDOWN, 0))
        l2_shutdown_note(v);
    /* L0 holding L2's interrupts (L2's GIF clear or a map step) is rare:
     * L0's TF and masking come off L2's state first, held events are
     * settled after. */
    bool held = n->intr_hold, nmi_held = n->l2_nmi_held;
    n->l2_nmi_held = false;
    if (held && n->map_step)
        nested_maps_step_end(v, 0);
    write_exit_to_vmcb12(v, code, info1, info2);
    if (held)
        nested_gif_leave(v);
    /* What #VMEXIT leaves in L1's CPU besides the restored host state: L2's
     * FS, GS, TR, ... (until L1's VMLOAD; they stay in the shared
     * v->guest_cpu page), L2's CR2; DR7 reset (15.6). */
    l1->cr2 = l2->cr2;
    l1->dr7 = DR7_RESET;
    /* An NMI L2's clear GIF held is still pending at the #VMEXIT, which
     * clears L1's GIF: L1 takes it once it sets GIF again (15.17). */
    nested_tsc_ratio_load(v, TSC_RATIO_ONE);
    switch_vmcb(v, TLB_CTX_L1);
    l1_gif_set(v, false);
    if (nmi_held)
        l1_gif_nmi_exit(v);
}

/* L2 is left (a #VMEXIT, or an INIT of the vCPU): what L0 had under way
 * for it ends, so that the next VMRUN starts from VMCB12 alone. */
void nested_l2_leave(struct vcpu *v)
{
    if (v->nested.map_step)
        nested_maps_step_end(v, 0);
    nested_gif_leave(v);
    nested_tsc_ratio_load(v, TSC_RATIO_ONE);
}

/* Does L1 intercept this exit of L2? (Its VMCB12 intercept bits and, for
 * MSR and I/O exits, its own permission maps, read from L1 memory.) */
static bool l1_wants(struct vcpu *v, uint64_t code, uint64_t info1)
{
    const struct vmcb_control *c12 = &v->nested.vmcb12->control;
    bool map_bit = false;
    /* L1's maps are read only when it turned them on. */
    if (code == VMEXIT_MSR && (c12->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT))
        map_bit = nested_maps_l1_msr(v, (uint32_t)v->regs.rcx, info1 != 0);
    else if (code == VMEXIT_IOIO && (c12->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT))
        map_bit = nested_maps_l1_io(v, info1);
    return nested_l1_intercepts(c12, code, map_bit);
}

/* Exits L0 handles itself when L1 does not want them. */
static void l0_handles(struct vcpu *v, uint64_t code)
{
    v->nested.l0_handled++;
    switch (code) {
    case VMEXIT_VMLOAD: case VMEXIT_VMSAVE: case VMEXIT_STGI: case VMEXIT_CLGI:
    case VMEXIT_SKINIT: case VMEXIT_INVLPGA:
        /* L2 has EFER.SVME (15.5.1): they execute in L2 as they would in
         * L1 (SKINIT is #UD for both, hv/exit/exit_svm_insn.c). */
        exit_svm_insn(v);
        return;
    case VMEXIT_VMMCALL:
        /* Unintercepted VMMCALL is #UD (APM Vol. 3, VMMCALL). (VMRUN is
         * always L1's: the checks require its intercept.) */
        vcpu_inject_exception(v, VEC_UD, false, 0);
        return;
    case VMEXIT_CPUID:
        exit_cpuid(v); /* L2 sees the CPU L1 sees */
        return;
    case VMEXIT_EXCP(VEC_DB): /* L2's own (its TF, a breakpoint): L2's */
        exit_db(v);
        return;
    case VMEXIT_EXCP(VEC_AC):
        exit_ac(v);
        return;
    case VMEXIT_MSR:
        /* Only L0's protected MSRs get here; exit_msr() answers for the
         * guest that asked (L2's EFER is its own, the SVM MSRs are L1's). */
        exit_msr(v);
        return;
    }
    vcpu_dump(v, "unexpected exit from L2");
    hv_fatal_stop();
}

/* A physical NMI while L2 runs that was not one of L0's kicks (hv/smp/apic.c):
 * held while L2's GIF is clear (15.17); then L1's #VMEXIT if it intercepts
 * NMIs (the host took the NMI, hv/smp/ap_start.c: L1 gets the NMI itself once
 * its GIF is set, as on a CPU), else L2's. */
static void l2_nmi(struct vcpu *v)
{
    struct nested *n = &v->nested;
    struct vmcb_control *c02 = &n->vmcb02.va->control;
    if (n->intr_hold) { /* L2's GIF clear, or a map step under way */
        n->l2_nmi_held = true;
        return;
    }
    if (n->vmcb12->control.intercept_misc1 & VMCB_INTERCEPT1_NMI) {
        reflect(v, VMEXIT_NMI, 0, 0);
        l1_gif_nmi_exit(v);
        return;
    }
    if ((c02->eventinj | c02->exitintinfo) & VMCB_EVENT_V) {
        /* An event goes first (queued, or cut off by this exit and
         * delivered again): the NMI is raised again on this CPU, and
         * exits right after that delivery (the CPU takes NMIs after
         * the event it injects). */
        apic_self_nmi(v);
        return;
    }
    c02->eventinj = vmcb_event_make(VEC_NMI, VMCB_EVENT_TYPE_NMI, 0, 0);
}

/* An NMI held for L2 gets its turn once nothing holds it any more. */
static void l2_release_held_nmi(struct vcpu *v)
{
    struct nested *n = &v->nested;
    if (n->in_l2 && n->l2_nmi_held && !n->intr_hold) {
        n->l2_nmi_held = false;
        l2_nmi(v);
    }
}

/* The exits no VMCB12 intercept bit decides alone. Out of line, so that
 * the usual case in nested_l2_exit() stays a few instructions. */
static void l2_exit_route(struct vcpu *v, uint64_t code, uint64_t info1, uint64_t info2)
{
    if ((uint32_t)code == 0xFFFFFFFFu) {
        /* The checks passed but the CPU refused VMCB02: give L1 the same
         * answer the hardware gave us. */
        reflect(v, VMEXIT_INVALID, 0, 0);
        return;
    }
    if (code == VMEXIT_NPF) {
        nested_npf(v, info1, info2);
        return;
    }
    if (code == VMEXIT_NMI) {
        l2_nmi(v);
        return;
    }
    if (code == VMEXIT_INTR || code == VMEXIT_SMI || code == VMEXIT_INIT) {
        /* Physical events: L1's if it asked, else they stay pending for L1's
         * own handling once L2 is left; L0 needs none of them itself. */
        reflect(v, code, info1, info2);
        return;
    }
    if (l1_wants(v, code, info1)) {
        reflect(v, code, info1, info2);
        return;
    }
    if (nested_exit_uses_map(code) && nested_maps_dropped(&v->nested)) {
        /* VMCB02's merged map is older than L1's: L1 changed its map
         * since this VMRUN (from another CPU: the write dropped the
         * merge), and as it is now it does not want this exit. Merge
         * again and let L2 run the instruction again, which the CPU
         * then takes as the maps say now (15.10, 15.11). L0 has no
         * handler for an I/O exit of L2, nor for an MSR not its own. */
        nested_maps_merge(v, &v->nested.vmcb12->control);
        return;
    }
    if (code == VMEXIT_SHUTDOWN) {
        vcpu_dump(v, "L2 shut down and L1 does not intercept SHUTDOWN");
        hv_fatal_stop();
    }
    l0_handles(v, code);
}

static __attribute__((noinline)) void l2_exit_other(struct vcpu *v, uint64_t code,
                                                    uint64_t info1, uint64_t info2)
{
    stats_mark_l2(&v->stats); /* the trace and the L2 split */
    /* the single step over a map write (hv/nested/nested_maps.c) */
    if (v->nested.map_step && code == VMEXIT_EXCP(VEC_DB) && nested_maps_step_end(v, code))
        l2_release_held_nmi(v);
    else
        l2_exit_route(v, code, info1, info2);
    stats_l2_settled(&v->stats); /* reflected after all? */
}

void nested_l2_exit(struct vcpu *v)
{
    const struct vmcb_control *c = &v->nested.vmcb02.va->control;
    uint64_t code = c->exitcode;
    /* Without decode assists the code of a CR read may be wrong (QEMU's
     * TCG, hv/nested/nested_cr_read.c); with them the CPU is trusted. */
    if (__builtin_expect(code == VMEXIT_CR0_READ, 0) && !host_caps()->decode_assists &&
        nested_cr_read_fixup(v, &code))
        return;
    /* Likewise RDTSCP coded as RDTSC (hv/nested/nested_rdtscp.c). */
    if (__builtin_expect(code == VMEXIT_RDTSC, 0) && !host_caps()->decode_assists &&
        nested_rdtscp_fixup(v, &code))
        return;
    /* The usual case first: an exit L1 asked for with an intercept bit
     * (not an NMI, which L2's GIF may hold; no map step under way). */
    if (!nested_exit_uses_map(code) && code != VMEXIT_NMI && !v->nested.map_step &&
        nested_l1_intercepts(&v->nested.vmcb12->control, code, false))
        reflect(v, code, c->exitinfo1, c->exitinfo2);
    else
        l2_exit_other(v, code, c->exitinfo1, c->exitinfo2);
}

/* #NPF of L2: with NP in VMCB12, fill NPT02 from NPT12 or reflect; without
 * it, L2 runs on NPT01 and the fault is L0's (the hypervisor's region). */
void nested_npf(struct vcpu *v, uint64_t info1, uint64_t info2)
{
    if (!v->nested.npt12_root) {
        if (apic_mmio_fault(v, info2, info1))
            return; /* L2 wrote L1's APIC page: performed as L1's */
        if ((info1 & 2) && nested_maps_l1_write(v, info2)) {
            /* L2 wrote to a permission map L0 merged: let the write
             * through, merge again right after it */
            nested_maps_step_begin(v);
            return;
        }
        if (guest_mem_hv_access(info2, v->vmcb.va->save.rip, info1 & 2))
            return;
        vcpu_dump(v, "unexpected nested page fault in L2 (no NP in VMCB12)");
        hv_fatal_stop();
    }
    uint64_t reflect_info1 = 0;
    switch (guest_mem_npt02_fault(v, v->nested.npt12_root, info2, info1, &reflect_info1)) {
    case NPT02_FILLED:
        return;
    case NPT02_FILLED_MAP_WRITE:
        nested_maps_step_begin(v);
        return;
    case NPT02_TO_L1:
        reflect(v, VMEXIT_NPF, reflect_info1, info2);
        return;
    case NPT02_APIC_WRITE:
        return;
    case NPT02_TO_L1_NOT_MAPPED:
        break;
    }
    vcpu_dump(v, "cannot map L2's page in NPT02 (out of hypervisor memory)");
    hv_fatal_stop();
}
