/* The world around hv/nested/nested.c for the VMRUN and #VMEXIT fuzz targets:
 * stand-ins for the rest of the hypervisor, L1's memory, the vCPUs, and
 * the invariants both targets check on VMCB02. Include once per target.
 *
 * Sources under test (tests/fuzz/fuzz.mk): hv/nested/nested.c, nested_gif.c,
 * l1_gif.c, nested_maps.c, vmcb12_check.c, switch_vmcb.c, vcpu.c,
 * insn_len.c, exit_svm_insn.c, exit_dispatch.c, host_caps.c and
 * arch/x86/svm_bitmaps.c, as the hypervisor links them.
 *
 * L1's RAM (tests/fuzz/fake_l1_ram.h, identity-mapped host pages, the
 * hypervisor's region poisoned for ASan) holds two VMCB12s, two pairs of
 * permission maps, a third VMCB12 for the reference vCPU of the VMRUN
 * target, and free pages (VMLOAD/VMSAVE targets). NPT01's write protection
 * is modelled page by page (tests/fuzz/fake_npt01_protect.h); an L1 write to
 * a protected page is an #NPF that reaches nested_maps_l1_write() first. */
#pragma once
#include "hv/decode/cr_read_decode.h"
#include "hv/decode/rdtscp_decode.h"
#include <setjmp.h>
#include <stdarg.h>

#define FAKE_RAM_PAGES 24u
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/smp/ap_start.h"
#include "hv/core/exception.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/memory/guest_mem.h"
#include "hv/core/host_caps.h"
#include "hv/nested/nested_tsc.h"
#include "hv/nested/l1_gif.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/nested/nested.h"
#include "hv/nested/nested_maps.h"
#include "hv/core/percpu.h"
#include "hv/tlb/tlb.h"
#include "hv/smp/vcpu_request.h"
#include "hv/nested/vmcb12_check.h"
#include "tests/fuzz/fake_l1_ram.h"
#include "tests/fuzz/fake_npt01_protect.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/host_cr8.h"
#include "tests/fuzz/l0_msrpm.h"
#include "tests/fuzz/maps_check.h"

/* --- L1's RAM, page by page ------------------------------------------------ */
enum {
    PG_VMCB12_A = 0, PG_VMCB12_B = 1, /* L1's two VMCB12s */
    PG_MSRPM_A = 2, PG_IOPM_A = 4,    /* 2 + 3 pages */
    PG_MSRPM_B = 7, PG_IOPM_B = 9,    /* 9..11; 12-13: the region */
    PG_REF_VMCB12 = 14,               /* the reference vCPU's VMCB12 */
    PG_FREE = 15,                     /* 15..23 */
};
static inline uint64_t ram_page(unsigned pg) { return fake_ram_base() + pg * 4096ull; }
static inline struct vmcb *ram_vmcb(unsigned pg) { return (struct vmcb *)(uintptr_t)ram_page(pg); }

static bool merge_covers(uint64_t page);
/* The merged maps each vCPU had when last compared in full. */
static struct {
    uint64_t merges, msrpm, iopm;
    bool valid;
} maps_seen[2];

/* An L1 write of one byte: a write-protected page faults first. */
static inline void l1_write_byte(struct vcpu *v, uint64_t pa, uint8_t b)
{
    if (!l1_ram_ok(pa, 1))
        return; /* not L1's RAM: goes nowhere here */
    if (prot_index(pa & ~0xFFFULL) >= 0) {
        FUZZ_CHECK(nested_maps_l1_write(v, pa), "a write-protected page is a merged map's");
        FUZZ_CHECK(prot_index(pa & ~0xFFFULL) < 0, "a page L1 writes is writable after its fault");
    }
    FUZZ_CHECK(!merge_covers(pa & ~0xFFFULL), "no merge stays cached over a page L1 writes");
    *(uint8_t *)(uintptr_t)pa = b;
}

/* --- the hypervisor's memory: a bump allocator over a static arena ------ */
#define HV_ARENA_PAGES 32
static uint8_t hv_arena[HV_ARENA_PAGES * 4096] __attribute__((aligned(4096)));
static unsigned hv_used;

void *hv_alloc_zeroed(uint64_t pages, uint64_t *pa)
{
    FUZZ_CHECK(hv_used + pages <= HV_ARENA_PAGES, "harness: hypervisor arena");
    void *p = hv_arena + hv_used * 4096ull;
    memset(p, 0, pages * 4096);
    hv_used += pages;
    if (pa)
        *pa = (uint64_t)(uintptr_t)p;
    return p;
}

/* --- stand-ins ------------------------------------------------------------ */
#define PHYS_LIMIT (1ULL << 48)
#define NPT01_ROOT 0x5000ULL
uint64_t guest_phys_limit(void) { return PHYS_LIMIT; }
uint64_t guest_mem_npt01_root(void) { return NPT01_ROOT; }

static unsigned npt02_inits;
bool guest_mem_npt02_init(struct npt02 *npt02)
{
    npt02->root = 0x10000ULL * ++npt02_inits; /* one per vCPU */
    return true;
}

/* FUZZ_TRACE=1 in the environment: the core's log lines and the targets'
 * trace on stderr, to read a reproducer. */
static bool trace;
#define TRACE(...) do { if (trace) fprintf(stderr, __VA_ARGS__); } while (0)

/* The first error line since the input began (vcpu_dump's reason). */
static char first_error[128];
void log_printf(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    if (trace) {
        va_start(ap, fmt);
        fprintf(stderr, "  hv: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
    if (level != LOG_ERROR || first_error[0])
        return;
    va_start(ap, fmt);
    vsnprintf(first_error, sizeof first_error, fmt, ap);
    va_end(ap);
}
void stats_print_last_exits(const struct vcpu_stats *s) {}

/* hv_fatal_stop: a broken invariant, unless a target armed it for a stop
 * the design allows (L2's shutdown that L1 does not intercept). */
static jmp_buf fatal_jmp;
static bool fatal_armed;
void hv_fatal_stop(void)
{
    if (fatal_armed)
        longjmp(fatal_jmp, 1);
    fprintf(stderr, "hv_fatal_stop after: %s\n", first_error);
    fuzz_broken("the hypervisor never stops for what L1 or L2 do", __FILE__, __LINE__);
}

/* TLB: what was asked, per vCPU. */
struct tlb_record {
    unsigned vmrun12s, invlpgas, npt01_changes;
    uint32_t vasid;
    uint64_t ncr3;
    uint8_t tlb_control;
};
static struct tlb_record tlb_rec[2];
static struct vcpu cpus[2];
static unsigned cpu_index(const struct vcpu *v) { return v == &cpus[1]; }
bool tlb_vmrun12(struct vcpu *v, uint32_t vasid, uint64_t ncr3, uint8_t tlb_control12)
{
    struct tlb_record *r = &tlb_rec[cpu_index(v)];
    r->vmrun12s++;
    r->vasid = vasid;
    r->ncr3 = ncr3;
    r->tlb_control = tlb_control12;
    /* The real policy picks the L2 entry (host ASID, NPT02) VMCB02 runs
     * with: switch_vmcb() puts it into VMCB02 (check_vmcb02). */
    return tlb_on_vmrun12(&v->tlb, vasid, ncr3, tlb_control12);
}
void tlb_invlpga(struct vcpu *v, uint32_t asid) { tlb_rec[cpu_index(v)].invlpgas++; }
void tlb_npt01_changed(struct vcpu *v) { tlb_rec[cpu_index(v)].npt01_changes++; }
void tlb_service_leaving_slow(struct vcpu *v) {}
static unsigned remote_flushes;
void vcpu_request_all(struct vcpu *self, uint32_t request)
{
    FUZZ_CHECK(request == VCPU_REQ_NPT01_FLUSH, "the maps ask other CPUs only for a flush");
    remote_flushes++;
}
unsigned vcpu_count(void) { return 2; }
struct vcpu *vcpu_by_index(unsigned i) { return i < 2 ? &cpus[i] : NULL; }

/* What L0's own handlers saw (they are stand-ins: each moves RIP on as
 * the real one does for an instruction it completes). */
static struct {
    unsigned cpuid, msr, self_nmis, init_sx;
    bool nmi_is_kick;     /* vcpu_nmi_was_kick's answer */
    bool apic_write;      /* apic_mmio_fault's answer */
    bool hv_access;       /* guest_mem_hv_access's answer */
    enum npt02_fill npf;  /* guest_mem_npt02_fault's answer */
    uint64_t npf_info1;
    unsigned npfs;
} l0;
void exit_cpuid(struct vcpu *v) { l0.cpuid++; vcpu_skip_insn(v); }
void exit_msr(struct vcpu *v) { l0.msr++; vcpu_skip_insn(v); }
void apic_self_nmi(struct vcpu *v) { l0.self_nmis++; }
bool vcpu_nmi_was_kick(struct vcpu *v) { return l0.nmi_is_kick; }
void exit_init_sx(struct vcpu *v) { l0.init_sx++; }
bool apic_mmio_fault(struct vcpu *v, uint64_t gpa, uint64_t exitinfo1) { return l0.apic_write; }
bool guest_mem_hv_access(uint64_t gpa, uint64_t rip, bool write) { return l0.hv_access; }
/* L2's instruction bytes (hv/nested/nested_cr_read.c reads them at a CR0-read
 * exit, hv/nested/nested_rdtscp.c at an RDTSC exit): chosen by L2's RIP, which
 * the input sets, among MOV from CR0, 2, 3, 4, 8 (REX.R) with register and
 * prefixes, SMSW, bytes that are no MOV CRn, RDTSCP (plain, prefixed) and
 * RDTSC; sometimes fewer bytes than the instruction has. */
unsigned guest_fetch_insn(const struct vcpu *v, uint8_t *buf, unsigned max)
{
    static const struct { uint8_t n, b[6]; } insns[] = {
        { 3, { 0x0F, 0x20, 0xC0 } },             /* mov rax, cr0 */
        { 3, { 0x0F, 0x20, 0xD3 } },             /* mov rbx, cr2 */
        { 3, { 0x0F, 0x20, 0xDF } },             /* mov rdi, cr3 */
        { 3, { 0x0F, 0x20, 0xE1 } },             /* mov rcx, cr4 */
        { 4, { 0x44, 0x0F, 0x20, 0xC2 } },       /* mov rdx, cr8 */
        { 4, { 0x41, 0x0F, 0x20, 0xD7 } },       /* mov r15, cr2 */
        { 4, { 0x66, 0x0F, 0x20, 0xD8 } },       /* prefix, mov rax, cr3 */
        { 3, { 0x0F, 0x01, 0xE0 } },             /* smsw eax */
        { 2, { 0x0F, 0x20 } },                   /* cut short */
        { 3, { 0x0F, 0x22, 0xD8 } },             /* mov cr3, rax: a write */
        { 3, { 0x0F, 0x01, 0xF9 } },             /* rdtscp (hv/nested/nested_rdtscp.c) */
        { 2, { 0x0F, 0x31 } },                   /* rdtsc */
        { 5, { 0x66, 0x48, 0x0F, 0x01, 0xF9 } }, /* prefixes, rdtscp */
    };
    unsigned i = (unsigned)(v->vmcb.va->save.rip % (sizeof insns / sizeof insns[0]));
    unsigned n = insns[i].n < max ? insns[i].n : max;
    memcpy(buf, insns[i].b, n);
    return n;
}

/* What hv/nested/nested_cr_read.c makes of a CR0-read exit of L2 without decode
 * assists, for the harness's expectations: the exit code L1 should see
 * (*code changed), or true when L0 performs the read itself. */
static inline bool env_cr_read_fixed(struct vcpu *v, uint64_t *code)
{
    const struct vmcb *v02 = v->vmcb.va;
    if (*code != VMEXIT_CR0_READ || host_caps()->decode_assists)
        return false;
    uint8_t b[15];
    struct cr_read_insn d;
    bool code64 = (v02->save.efer & EFER_LMA) && (v02->save.cs.attrib & VMCB_SEG_ATTR_L);
    if (!cr_read_decode(b, guest_fetch_insn(v, b, sizeof b), code64, &d) || d.cr == 0)
        return false;
    if ((v->nested.vmcb12->control.intercept_cr >> d.cr) & 1) {
        *code = VMEXIT_CR_READ(d.cr);
        return false;
    }
    return d.cr == 2 || d.cr == 3 || d.cr == 4 ||
           (d.cr == 8 && (v02->control.int_ctl & VMCB_INT_CTL_V_INTR_MASKING));
}
/* The host's TSC and TSC_AUX (hv/core/host_tsc.h): any values do. */
uint64_t host_tsc_read(void) { return 0x123456789ULL; }
uint32_t host_tsc_aux_read(void) { return 7; }
/* What hv/nested/nested_rdtscp.c makes of an RDTSC exit of L2 without decode
 * assists, for the harness's expectations: the exit code L1 should see
 * (*code changed: RDTSCP, the instruction that ran), or true when L1 did
 * not ask for the instruction that ran and L0 performs it (an instruction
 * that cannot be read is what the code says, an RDTSC). */
static inline bool env_rdtscp_fixed(struct vcpu *v, uint64_t *code)
{
    const struct vmcb *v02 = v->vmcb.va;
    const struct vmcb_control *c12 = &v->nested.vmcb12->control;
    if (*code != VMEXIT_RDTSC || host_caps()->decode_assists)
        return false;
    uint8_t b[15];
    struct rdtscp_insn d = { .rdtscp = false };
    bool code64 = (v02->save.efer & EFER_LMA) && (v02->save.cs.attrib & VMCB_SEG_ATTR_L);
    if (!rdtscp_decode(b, guest_fetch_insn(v, b, sizeof b), code64, &d))
        d.rdtscp = false;
    if (!d.rdtscp)
        return !(c12->intercept_misc1 & VMCB_INTERCEPT1_RDTSC);
    if (c12->intercept_misc2 & VMCB_INTERCEPT2_RDTSCP) {
        *code = VMEXIT_RDTSCP;
        return false;
    }
    return true;
}
enum npt02_fill guest_mem_npt02_fault(struct vcpu *v, uint64_t npt12_root, uint64_t l2_gpa,
                                      uint64_t info1, uint64_t *reflect_info1)
{
    FUZZ_CHECK(v->nested.in_l2 && npt12_root, "NPT02 is filled only for L2 with nested paging");
    l0.npfs++;
    *reflect_info1 = l0.npf_info1;
    return l0.npf;
}

/* L1's own exit handlers: never while L2 runs (hv/exit/exit_dispatch.c sends
 * every L2 exit to hv/nested/nested.c). */
#define L1_ONLY(name)                                                                  \
    void name(struct vcpu *v)                                                          \
    {                                                                                  \
        FUZZ_CHECK(!v->nested.in_l2, "an L2 exit never reaches L1's handler " #name); \
    }
L1_ONLY(exit_ioio)
L1_ONLY(exit_vmmcall)
L1_ONLY(exit_shutdown)
L1_ONLY(exit_nmi)
L1_ONLY(exit_intr)
L1_ONLY(exit_iret)
L1_ONLY(exit_npf)
L1_ONLY(exit_unexpected)

/* --- the vCPUs ------------------------------------------------------------ */
static uint8_t l0_msrpm[MSRPM_SIZE];
static struct vmcb vmcb01s[2] __attribute__((aligned(4096)));
static struct vmcb guest_cpus[2] __attribute__((aligned(4096)));

/* L1 about to run VMRUN (RIP, RFLAGS, TSC offset from the input). */
static void cpu_reset(struct vcpu *v, unsigned i, uint64_t tsc_offset01)
{
    memset(v, 0, sizeof *v);
    memset(&vmcb01s[i], 0, sizeof vmcb01s[i]);
    memset(&guest_cpus[i], 0, sizeof guest_cpus[i]);
    v->id = i;
    v->vmcb01 = (struct vmcb_ref){ &vmcb01s[i], (uint64_t)(uintptr_t)&vmcb01s[i] };
    v->guest_cpu = (struct vmcb_ref){ &guest_cpus[i], (uint64_t)(uintptr_t)&guest_cpus[i] };
    switch_vmcb(v, TLB_CTX_L1); /* the first launch */
    struct vmcb *vmcb01 = v->vmcb01.va;
    vmcb01->save.efer = EFER_SVME | EFER_LME | EFER_LMA;
    vmcb01->save.cs.attrib = VMCB_SEG_ATTR_L;
    vmcb01->save.cr0 = CR0_PE | CR0_PG;
    vmcb01->save.rip = 0x401000;
    vmcb01->save.rflags = 2 | RFLAGS_IF;
    vmcb01->control.tsc_offset = tsc_offset01;
    v->l1.efer_svme = true;
    v->l1.tsc_ratio = v->tsc_ratio_hw = TSC_RATIO_ONE; /* as launch leaves them */
    l1_gif_init(v);
    FUZZ_CHECK(nested_init(v), "harness: nested_init");
    tlb_policy_init(&v->tlb, host_caps()->flush_by_asid, tlb_l2_entries_for(host_caps()->nasid));
}

/* Per input: the host's CPU, L1's RAM, both vCPUs. */
static void world_reset(const struct host_caps *caps, uint64_t tsc_offset01)
{
    fake_ram_clear();
    nprot = 0;
    hv_used = 0;
    npt02_inits = 0;
    remote_flushes = 0;
    memset(tlb_rec, 0, sizeof tlb_rec);
    memset(&l0, 0, sizeof l0);
    memset(maps_seen, 0, sizeof maps_seen);
    first_error[0] = 0;
    fatal_armed = false;
    host_cr8 = 0;
    host_caps_init(caps);
    nested_maps_init(l0_msrpm);
    cpu_reset(&cpus[0], 0, tsc_offset01);
    cpu_reset(&cpus[1], 1, tsc_offset01);
}

static void vmexit_bytes_init(void);
static void world_init(void)
{
    trace = getenv("FUZZ_TRACE") != NULL;
    vmexit_bytes_init();
    fake_ram_init();
    l0_msrpm_build(l0_msrpm);
    host_cr8_install();
}

/* --- invariants of VMCB02 while L2 runs ------------------------------------ */

/* What L0 needs in L2 whatever L1 asks, spelled out (docs/design.md,
 * "Nested SVM"): VMRUN (the APM requires it; L1's anyway), VMLOAD/VMSAVE
 * (their addresses are L1's memory), SKINIT, the MSR map (L0's MSRs),
 * INVLPGA (L1's ASIDs), SHUTDOWN (L2's triple fault must not reset the
 * machine), NMI (other CPUs' kicks), CPUID (L2 sees L1's CPU), #SX (a
 * physical INIT); STGI/CLGI unless L1 gave L2 a vGIF. */
#define NEED_MISC1 (VMCB_INTERCEPT1_MSR_PROT | VMCB_INTERCEPT1_INVLPGA | \
                    VMCB_INTERCEPT1_SHUTDOWN | VMCB_INTERCEPT1_NMI | VMCB_INTERCEPT1_CPUID)
#define NEED_MISC2 (VMCB_INTERCEPT2_VMRUN | VMCB_INTERCEPT2_VMLOAD | \
                    VMCB_INTERCEPT2_VMSAVE | VMCB_INTERCEPT2_SKINIT)
#define NEED_GIF (VMCB_INTERCEPT2_STGI | VMCB_INTERCEPT2_CLGI)
#define NEED_EXCP (1u << 30) /* #SX */
/* int_ctl bits L1 may hand to L2: V_TPR, V_IRQ, priority, V_IGN_TPR,
 * V_INTR_MASKING; V_GIF and its enable only where the CPU has vGIF. No
 * AVIC, x2AVIC, vNMI. */
#define INT_CTL_L1 (0xFFu | (1u << 8) | (0xFu << 16) | (1u << 20) | (1u << 24))
#define INT_CTL_VGIF ((1u << 9) | (1u << 25))

/* An EVENTINJ the CPU accepts (APM 15.20): V clear, or a defined type
 * (0 INTR, 2 NMI, 3 exception, 4 INTn) and an exception vector for type 3. */
static bool eventinj_valid(uint64_t ev)
{
    static const uint32_t exceptions = (1u << 0) | (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5) |
                                       (1u << 6) | (1u << 7) | (1u << 8) | (1u << 10) | (1u << 11) |
                                       (1u << 12) | (1u << 13) | (1u << 14) | (1u << 16) |
                                       (1u << 17) | (1u << 18) | (1u << 19) | (1u << 21) |
                                       (1u << 28) | (1u << 29) | (1u << 30);
    if (!(ev & VMCB_EVENT_V))
        return true;
    unsigned type = (ev >> 8) & 7, vec = ev & 0xFF;
    if (type == 1 || type > 4)
        return false;
    return type != 3 || (vec < 32 && ((exceptions >> vec) & 1));
}

/* What always holds of VMCB02 while L2 runs: L0's intercepts and L1's
 * (the private copy's), L2's ASID, nested paging on with NPT02 or NPT01,
 * our merged maps (protecting L0's MSRs), nothing of int_ctl, nested_ctl or
 * virt_ext that L0 did not offer, a valid EVENTINJ. */
static void check_vmcb02(const struct vcpu *v)
{
    const struct nested *n = &v->nested;
    const struct vmcb_control *c = &n->vmcb02.va->control, *c12 = &n->vmcb12->control;
    bool vgif12 = (c12->int_ctl & VMCB_INT_CTL_VGIF_ENABLE) != 0;
    FUZZ_CHECK(n->in_l2 && v->vmcb.va == n->vmcb02.va, "L2 runs on VMCB02");
    FUZZ_CHECK((c->intercept_misc1 & NEED_MISC1) == NEED_MISC1 &&
                   (c->intercept_misc2 & NEED_MISC2) == NEED_MISC2 &&
                   (vgif12 || (c->intercept_misc2 & NEED_GIF) == NEED_GIF) &&
                   (c->intercept_exceptions & NEED_EXCP) == NEED_EXCP,
               "VMCB02 has every intercept L0 needs");
    FUZZ_CHECK((c->intercept_cr & c12->intercept_cr) == c12->intercept_cr &&
                   (c->intercept_dr & c12->intercept_dr) == c12->intercept_dr &&
                   (c->intercept_exceptions & c12->intercept_exceptions) == c12->intercept_exceptions &&
                   (c->intercept_misc1 & c12->intercept_misc1) == c12->intercept_misc1 &&
                   (c->intercept_misc2 & c12->intercept_misc2) == c12->intercept_misc2 &&
                   (c->intercept_misc3 & c12->intercept_misc3) == c12->intercept_misc3,
               "VMCB02 has every intercept L1 asked for");
    /* The L2 entry cache (hv/tlb/tlb_policy.h): VMCB02 runs with the host
     * ASID and NPT02 of the entry that holds VMCB12's (ASID, nCR3), never
     * L1's ASID (1) or the host's (0), never another entry's. */
    const struct tlb_policy *p = &v->tlb;
    bool np12 = (c12->nested_ctl & VMCB_NP_ENABLE) != 0;
    FUZZ_CHECK(p->cur < n->npt02_count && p->n_l2 == n->npt02_count &&
                   n->npt02_count == tlb_l2_entries_for(host_caps()->nasid),
               "one NPT02 per L2 entry the CPU's ASIDs allow");
    FUZZ_CHECK(p->l2[p->cur].vasid == c12->guest_asid &&
                   p->l2[p->cur].ncr3 == (np12 ? c12->n_cr3 : TLB_NCR3_NONE),
               "VMCB02 runs the L2 entry of VMCB12's ASID and nCR3");
    FUZZ_CHECK(c->guest_asid == L2_ASID_FIRST + p->cur, "VMCB02 runs on its L2 entry's own ASID");
    FUZZ_CHECK(c->nested_ctl == VMCB_NP_ENABLE, "VMCB02: nested paging on, no SEV or other nested_ctl bit");
    FUZZ_CHECK(c->n_cr3 == (np12 ? n->npt02[p->cur].root : NPT01_ROOT),
               "VMCB02's nCR3 is its L2 entry's NPT02 with L1's nested paging, else NPT01");
    FUZZ_CHECK(c->msrpm_base_pa == n->msrpm02_pa && c->iopm_base_pa == n->iopm02_pa,
               "VMCB02 uses the merged maps");
    FUZZ_CHECK(msrpm_protects_l0(n->msrpm02), "the merged MSRPM protects L0's MSRs");
    FUZZ_CHECK((c->int_ctl & ~(INT_CTL_L1 | (host_caps()->vgif ? INT_CTL_VGIF : 0))) == 0 &&
                   (!(c->int_ctl & VMCB_INT_CTL_VGIF) || (c->int_ctl & VMCB_INT_CTL_VGIF_ENABLE)),
               "VMCB02's int_ctl holds nothing L0 did not offer (no AVIC, vNMI; vGIF only with the CPU's)");
    FUZZ_CHECK(c->virt_ext == 0, "VMCB02: no LBR virtualization, no virtual VMLOAD/VMSAVE");
    FUZZ_CHECK(c->avic_apic_bar == 0 && c->avic_backing_page == 0 && c->avic_logical_table == 0 &&
                   c->avic_physical_table == 0 && c->vmsa_pa == 0 && c->ghcb_pa == 0,
               "VMCB02: no AVIC or SEV-ES pointers");
    FUZZ_CHECK(eventinj_valid(c->eventinj), "VMCB02's EVENTINJ is one the CPU accepts");
    FUZZ_CHECK(n->vmcb02.va->save.efer & EFER_SVME, "VMCB02: EFER.SVME set (VMRUN's check)");
}

/* The merged maps are L0's OR L1's maps as they are now in L1's memory.
 * Compared in full when a merge may have changed them (a merge ran, or
 * VMCB12's maps are not the ones last compared); in between, they stay
 * right as long as no write lands on a page a cached merge read, which
 * l1_write_byte() and l0_wrote_check() check at each write. */

static void check_merged_maps(const struct vcpu *v)
{
    const struct nested *n = &v->nested;
    const struct vmcb_control *c12 = &n->vmcb12->control;
    uint64_t msrpm = (c12->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) ? c12->msrpm_base_pa & ~0xFFFULL : 0;
    uint64_t iopm = (c12->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) ? c12->iopm_base_pa & ~0xFFFULL : 0;
    unsigned i = v == &cpus[1];
    if (maps_seen[i].valid && maps_seen[i].merges == n->merges && maps_seen[i].msrpm == msrpm &&
        maps_seen[i].iopm == iopm)
        return;
    TRACE("maps: MSRPM %#lx (merged %#lx) IOPM %#lx (merged %#lx), %u pages protected\n", msrpm,
          n->merged_msrpm12, iopm, n->merged_iopm12, nprot);
    FUZZ_CHECK(map_is(n->msrpm02, l0_msrpm, msrpm, MSRPM_SIZE) && map_is(n->iopm02, NULL, iopm, IOPM_SIZE),
               "VMCB02's maps are L0's OR L1's maps as they are now");
    maps_seen[i].merges = n->merges;
    maps_seen[i].msrpm = msrpm;
    maps_seen[i].iopm = iopm;
    maps_seen[i].valid = true;
}

/* Does a cached merge (of either vCPU) cover this page? */
static bool merge_covers(uint64_t page)
{
    for (int c = 0; c < 2; c++) {
        const struct nested *n = &cpus[c].nested;
        if (n->merged_msrpm12 == NESTED_MAPS_NONE)
            continue;
        if ((n->merged_msrpm12 && page - n->merged_msrpm12 < MSRPM_SIZE) ||
            (n->merged_iopm12 && page - n->merged_iopm12 < IOPM_SIZE))
            return true;
    }
    return false;
}

/* After L0 wrote L1's page for L1 (VMCB12 at a #VMEXIT, VMSAVE): no
 * merge stays cached over it. */
static inline void l0_wrote_check(uint64_t gpa)
{
    FUZZ_CHECK(!l1_ram_ok(gpa & ~0xFFFULL, 4096) || !merge_covers(gpa & ~0xFFFULL),
               "no merge stays cached over a page L0 wrote for L1");
}

/* Exactly the bytes the APM's #VMEXIT stores into VMCB12 (15.6): every
 * other byte of L1's VMCB12 stays as L1 wrote it. int_ctl is apart: only
 * its bits VMEXIT_INT_CTL. */
#define VMCB12_INT_CTL 0x060
static bool vmexit_writes_slow(unsigned off)
{
    static const struct { uint16_t from, to; } ranges[] = {
        { 0x068, 0x070 }, /* int_state */
        { 0x070, 0x090 }, /* exitcode, exitinfo1, exitinfo2, exitintinfo */
        { 0x0A8, 0x0B0 }, /* eventinj (cleared) */
        { 0x0C8, 0x0D0 }, /* nRIP */
        { 0x400, 0x440 }, /* ES, CS, SS, DS */
        { 0x460, 0x470 }, /* GDTR */
        { 0x480, 0x490 }, /* IDTR */
        { 0x4CB, 0x4CC }, /* CPL */
        { 0x4D0, 0x4D8 }, /* EFER */
        { 0x548, 0x580 }, /* CR4, CR3, CR0, DR7, DR6, RFLAGS, RIP */
        { 0x5D8, 0x5E0 }, /* RSP */
        { 0x5F8, 0x600 }, /* RAX */
        { 0x640, 0x648 }, /* CR2 */
        { 0x668, 0x670 }, /* G_PAT */
    };
    for (unsigned i = 0; i < sizeof ranges / sizeof *ranges; i++)
        if (off >= ranges[i].from && off < ranges[i].to)
            return true;
    return false;
}

static bool vmexit_bytes[sizeof(struct vmcb)];
/* With decode assists the CPU also writes the fetched instruction bytes
 * (0D0h-0DFh, APM 15.33.5): L0 offers them to L1 where the CPU has them. */
static inline bool vmexit_writes(unsigned off)
{
    return vmexit_bytes[off] || (host_caps()->decode_assists && off >= 0x0D0 && off < 0x0E0);
}

static void vmexit_bytes_init(void)
{
    for (unsigned off = 0; off < sizeof vmexit_bytes; off++)
        vmexit_bytes[off] = vmexit_writes_slow(off);
}

/* --- a #VMEXIT reflected to L1 --------------------------------------------- */

/* What a successful VMRUN left, to judge the #VMEXIT that ends it: L1's
 * state right after its VMRUN. */
struct at_vmrun {
    struct vmcb vmcb01;
};

static inline void note_vmrun(struct at_vmrun *a, const struct vcpu *v)
{
    a->vmcb01 = *v->vmcb01.va;
}

/* The int_ctl bits a #VMEXIT gives back to VMCB12 whose int_ctl is i. */
static inline uint32_t vmexit_int_ctl(uint32_t i)
{
    return VMCB_INT_CTL_V_TPR_MASK | VMCB_INT_CTL_V_IRQ |
           ((i & VMCB_INT_CTL_VGIF_ENABLE) ? VMCB_INT_CTL_VGIF : 0);
}

/* VMCB01 bits L1's GIF changes at a #VMEXIT (hv/nested/l1_gif.c): masking, V_GIF,
 * and with vGIF the INTR and STGI intercepts. */
#define GIF_INT_CTL (VMCB_INT_CTL_V_INTR_MASKING | VMCB_INT_CTL_VGIF)

/* L1 got a #VMEXIT with code, info1, info2: L1's state is back as it was
 * after its VMRUN but for CR2 (L2's) and DR7 (reset) and a clear GIF; its
 * VMCB12 got exactly what #VMEXIT stores (APM 15.6), taken from l2, L2's
 * state as the CPU left it in VMCB02; the rest of VMCB12 (was: just before
 * the exit) is as L1 wrote it. */
static void check_reflected(const struct vcpu *v, const struct at_vmrun *a, const struct vmcb *l2,
                            const struct vmcb *was_page, const struct vmcb *page, uint64_t code,
                            uint64_t info1, uint64_t info2)
{
    const struct vmcb *v01 = v->vmcb01.va;
    FUZZ_CHECK(!v->nested.in_l2 && v->vmcb.va == v01, "after a #VMEXIT L1 runs on VMCB01");
    FUZZ_CHECK(!l1_gif(v), "a #VMEXIT clears L1's GIF");

    struct vmcb want01 = a->vmcb01;
    want01.save.cr2 = l2->save.cr2;
    want01.save.dr7 = 0x400;
    FUZZ_CHECK(!memcmp(&v01->save, &want01.save, sizeof want01.save),
               "L1's state comes back intact (but CR2 and DR7)");
    struct vmcb_control c = v01->control, w = want01.control;
    c.int_ctl &= ~GIF_INT_CTL;
    w.int_ctl &= ~GIF_INT_CTL;
    c.intercept_misc1 &= ~VMCB_INTERCEPT1_INTR;
    w.intercept_misc1 &= ~VMCB_INTERCEPT1_INTR;
    /* L1's GIF: V_GIF, V_INTR_MASKING and the INTR, STGI and CLGI
     * intercepts (hv/nested/l1_gif.h), which must hold interrupts now. */
    c.intercept_misc2 &= ~(VMCB_INTERCEPT2_STGI | VMCB_INTERCEPT2_CLGI);
    w.intercept_misc2 &= ~(VMCB_INTERCEPT2_STGI | VMCB_INTERCEPT2_CLGI);
    FUZZ_CHECK(!memcmp(&c, &w, sizeof c), "L1's VMCB01 controls come back intact (but its GIF)");
    FUZZ_CHECK((v01->control.intercept_misc1 & VMCB_INTERCEPT1_INTR) ||
                   ((v01->control.int_ctl & VMCB_INT_CTL_V_INTR_MASKING) && !l1_gif_host_if(v)),
               "after a #VMEXIT no interrupt reaches L1 (its GIF is clear)");

    const uint8_t *now = (const uint8_t *)page, *was = (const uint8_t *)was_page;
    l0_wrote_check((uint64_t)(uintptr_t)page);
    for (unsigned off = 0; off < sizeof *page; off++)
        if (!vmexit_writes(off) && (off < VMCB12_INT_CTL || off >= VMCB12_INT_CTL + 4) &&
            now[off] != was[off]) {
            TRACE("VMCB12 byte %#x: %#x, was %#x\n", off, now[off], was[off]);
            FUZZ_CHECK(0, "#VMEXIT writes only its own fields of VMCB12");
        }
    const struct vmcb_control *c12 = &page->control;
    uint32_t back = vmexit_int_ctl(was_page->control.int_ctl);
    FUZZ_CHECK((c12->int_ctl & ~back) == (was_page->control.int_ctl & ~back),
               "#VMEXIT gives back only V_TPR, V_IRQ and V_GIF of int_ctl");
    TRACE("  VMCB12: exit %#lx %#lx %#lx, expected %#lx %#lx %#lx\n", c12->exitcode, c12->exitinfo1,
          c12->exitinfo2, code, info1, info2);
    FUZZ_CHECK(c12->exitcode == code && c12->exitinfo1 == info1 && c12->exitinfo2 == info2,
               "VMCB12's exit code and infos are those of the exit");
    FUZZ_CHECK(c12->exitintinfo == l2->control.exitintinfo, "EXITINTINFO is the CPU's");
    FUZZ_CHECK(c12->eventinj == 0, "EVENTINJ is consumed at #VMEXIT");
    FUZZ_CHECK(c12->nrip == (host_caps()->nrips ? l2->control.nrip : 0),
               "nRIP only where the CPU offers it");
    const struct vmcb_save *s = &page->save, *g = &l2->save;
    TRACE("  VMCB12 rip %#lx rflags %#lx rsp %#lx rax %#lx cr0 %#lx cr2 %#lx dr6 %#lx dr7 %#lx efer %#lx cpl %u\n"
          "  L2     rip %#lx rflags %#lx rsp %#lx rax %#lx cr0 %#lx cr2 %#lx dr6 %#lx dr7 %#lx efer %#lx cpl %u\n",
          s->rip, s->rflags, s->rsp, s->rax, s->cr0, s->cr2, s->dr6, s->dr7, s->efer, s->cpl,
          g->rip, g->rflags, g->rsp, g->rax, g->cr0, g->cr2, g->dr6, g->dr7, g->efer, g->cpl);
    FUZZ_CHECK(!memcmp(&s->es, &g->es, 4 * sizeof s->es) && !memcmp(&s->gdtr, &g->gdtr, sizeof s->gdtr) &&
                   !memcmp(&s->idtr, &g->idtr, sizeof s->idtr) && s->cpl == g->cpl &&
                   s->cr0 == g->cr0 && s->cr2 == g->cr2 && s->cr3 == g->cr3 && s->cr4 == g->cr4 &&
                   s->rflags == g->rflags && s->rip == g->rip && s->rsp == g->rsp &&
                   s->rax == g->rax && s->dr6 == g->dr6 && s->dr7 == g->dr7 && s->g_pat == g->g_pat &&
                   s->efer == ((g->efer & ~EFER_SVME) | (v->nested.l2_svme ? EFER_SVME : 0)),
               "VMCB12's save area is L2's state as the CPU left it");
}
