/* The exit round-trip benchmark (cmdline "bench"): with interrupts off (so
 * no firmware code runs in between), time N CPUIDs (each an L1 exit handled
 * by L0) with RDTSC. Under QEMU's -icount shift=0, RDTSC counts guest
 * instructions, the hypervisor's included, so the same loop gives
 * instructions per round trip, deterministically. The firmware's boot
 * services stay up: GNU-EFI's formatting needs them to print the result. */
#include "tests/l1/l1test.h"
#include "arch/x86/cpu.h"

#define ROUNDS 20000

static inline uint64_t rdtsc_serialized(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Cost of the loop itself, with an instruction that never exits. */
static uint64_t time_loop(int exit)
{
    uint64_t t0 = rdtsc_serialized();
    for (int i = 0; i < ROUNDS; i++) {
        if (exit)
            cpuid(0, 0);
        else
            __asm__ volatile("nop; nop" ::: "memory");
    }
    return rdtsc_serialized() - t0;
}

/* RDTSC ticks for CALIBRATE_INSNS instructions of a known loop (3 per
 * round: NOP, DEC, JNZ): tells whether a tick is an instruction (-icount
 * shift=0) or a host cycle. */
#define CALIBRATE_ROUNDS 100000
#define CALIBRATE_INSNS (3 * CALIBRATE_ROUNDS)
static uint64_t time_known_loop(void)
{
    uint64_t t0 = rdtsc_serialized();
    __asm__ volatile("mov %0, %%ecx\n1: nop\n dec %%ecx\n jnz 1b" ::"i"(CALIBRATE_ROUNDS)
                     : "ecx", "memory");
    return rdtsc_serialized() - t0;
}

void run_bench_nested(void);
static void run_bench_apic(void);

void run_bench(void)
{
    __asm__ volatile("cli" ::: "memory");
    time_loop(1); /* warm up */
    uint64_t with_exit = time_loop(1), without = time_loop(0);
    uint64_t known = time_known_loop();
    __asm__ volatile("sti" ::: "memory");
    say("bench: calibration: %d instructions took %ld ticks", CALIBRATE_INSNS, known);
    say("bench: %d CPUID round trips: %ld ticks total, loop overhead %ld",
        ROUNDS, with_exit, without);
    say("bench: per CPUID round trip: %ld ticks", (with_exit - without) / ROUNDS);
    /* Without the hypervisor (the baseline run), VMMCALL would #UD. */
    if (hv_present())
        hv_call(HV_CALL_STATS_PRINT, 0, 0, 0);
    if (cpuid(0x80000001u, 0).ecx & (1u << 2))
        run_bench_nested(); /* needs SVM: ours, or the bare CPU's */
    run_bench_apic(); /* last: it leaves the APIC in x2APIC mode */
}

/* --- the local APIC, whose page L0 write-protects (hv/smp/apic.c): (d) an
 * ordinary xAPIC write (TPR), (e) an xAPIC IPI, (f) an x2APIC IPI (MSR
 * 0x830). The IPIs are fixed ones to an APIC ID no CPU has, so nothing is
 * delivered and only the sending is timed, on both sides. ---------------*/
#define APIC_ROUNDS 5000
#define APIC_BASE_MSR 0x1Bu
#define APIC_TPR 0x80
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define NOBODY 0xF0u            /* no CPU has this APIC ID */
#define FIXED_IPI 0x000000EFu   /* fixed, vector 0xEF, physical */

static uint64_t time_xapic_writes(volatile uint32_t *apic, int ipi)
{
    uint64_t t0 = rdtsc_serialized();
    for (int i = 0; i < APIC_ROUNDS; i++) {
        if (ipi) {
            apic[APIC_ICR_HI / 4] = NOBODY << 24;
            apic[APIC_ICR_LO / 4] = FIXED_IPI;
        } else {
            apic[APIC_TPR / 4] = 0;
        }
    }
    return (rdtsc_serialized() - t0) / APIC_ROUNDS;
}

static uint64_t time_x2apic_ipis(void)
{
    uint64_t t0 = rdtsc_serialized();
    for (int i = 0; i < APIC_ROUNDS; i++)
        wrmsr(0x830, (uint64_t)NOBODY << 32 | FIXED_IPI);
    return (rdtsc_serialized() - t0) / APIC_ROUNDS;
}

static void run_bench_apic(void)
{
    uint64_t base = rdmsr(APIC_BASE_MSR);
    if (base & (1u << 10)) {
        say("bench: the APIC is in x2APIC mode already: no xAPIC figures");
        return;
    }
    volatile uint32_t *apic = (volatile uint32_t *)(UINTN)(base & ~0xFFFULL);
    __asm__ volatile("cli" ::: "memory");
    time_xapic_writes(apic, 0); /* warm up */
    uint64_t tpr = time_xapic_writes(apic, 0);
    uint64_t ipi = time_xapic_writes(apic, 1);
    uint64_t x2 = 0;
    int has_x2apic = (cpuid(1, 0).ecx >> 21) & 1;
    if (has_x2apic) {
        wrmsr(APIC_BASE_MSR, base | (1u << 10));
        x2 = time_x2apic_ipis();
    }
    __asm__ volatile("sti" ::: "memory");
    say("bench: apic (d) xAPIC write (TPR): %ld ticks", tpr);
    say("bench: apic (e) xAPIC IPI (ICR high + low): %ld ticks", ipi);
    if (has_x2apic)
        say("bench: apic (f) x2APIC IPI (MSR 0x830): %ld ticks", x2);
    else
        say("bench: apic (f) x2APIC IPI: no x2APIC on this CPU");
}

/* --- nested: (b) an L2 exit reflected to L1 and L1's VMRUN back, with and
 * without CLGI/STGI around VMRUN; (c) an L2 exit L0 handles alone. ---------*/
#include "arch/x86/vmcb.h"
#include "arch/x86/svm.h"

#define NESTED_ROUNDS 5000
uint64_t l1_vmrun_loop(uint64_t vmcb12, uint64_t n);
uint64_t l1_vmrun_loop_plain(uint64_t vmcb12, uint64_t n);
void l1_vmrun(uint64_t vmcb12, uint64_t l2_rbx);
extern char l2_cpuid_loop[], l2_wrmsr_loop[];
static struct vmcb bench_vmcb12 __attribute__((aligned(4096)));

/* flushes: TLB flushes (by ASID, full) during the timed loop, after the
 * warm-up (whose first VMRUN of a new L2 ASID owes one). */
static uint64_t time_reflected(int clgi, uint32_t clean, struct hv_result *flushes)
{
    l1_vmcb12_init(&bench_vmcb12, l2_cpuid_loop);
    bench_vmcb12.control.intercept_misc1 = VMCB_INTERCEPT1_CPUID;
    uint64_t pa = (uint64_t)(UINTN)&bench_vmcb12;
    (clgi ? l1_vmrun_loop : l1_vmrun_loop_plain)(pa, 10); /* warm up */
    /* As a clean-bit-aware L1 (KVM) does: only RIP changes between runs,
     * and RIP is never cached. */
    bench_vmcb12.control.vmcb_clean = clean;
    struct hv_result f0 = { 0 }, f1 = { 0 };
    if (hv_present())
        f0 = hv_call(HV_CALL_TLB_INFO, 0, 0, 0);
    uint64_t t0 = rdtsc_serialized();
    (clgi ? l1_vmrun_loop : l1_vmrun_loop_plain)(pa, NESTED_ROUNDS);
    uint64_t t = (rdtsc_serialized() - t0) / NESTED_ROUNDS;
    if (hv_present())
        f1 = hv_call(HV_CALL_TLB_INFO, 0, 0, 0);
    flushes->rbx = f1.rbx - f0.rbx;
    flushes->rcx = f1.rcx - f0.rcx;
    flushes->rdx = f1.rdx - f0.rdx;
    return t;
}

static uint64_t time_l0_only(void)
{
    l1_vmcb12_init(&bench_vmcb12, l2_wrmsr_loop);
    uint64_t pa = (uint64_t)(UINTN)&bench_vmcb12;
    l1_vmrun(pa, 10);
    l1_vmcb12_init(&bench_vmcb12, l2_wrmsr_loop);
    uint64_t t0 = rdtsc_serialized();
    l1_vmrun(pa, NESTED_ROUNDS);
    return (rdtsc_serialized() - t0) / NESTED_ROUNDS;
}

/* Two L2 guests (VMCB12 ASIDs 1 and 2, nested paging) alternating on one
 * vCPU, one CPUID exit each: TLB flushes and NPT02 drops after the first
 * round. Target 0: each has its own L2 entry in L0 (issue 10). */
static struct vmcb bench_vmcb12b __attribute__((aligned(4096)));
static void two_l2s_alternating(struct hv_result *flushes)
{
    uint64_t ncr3 = l1_npt12_identity();
    l1_vmcb12_init(&bench_vmcb12, l2_cpuid_loop);
    l1_vmcb12_init(&bench_vmcb12b, l2_cpuid_loop);
    bench_vmcb12b.control.guest_asid = 2;
    struct vmcb *v[2] = { &bench_vmcb12, &bench_vmcb12b };
    for (int i = 0; i < 2; i++) {
        v[i]->control.intercept_misc1 = VMCB_INTERCEPT1_CPUID;
        v[i]->control.nested_ctl = VMCB_NP_ENABLE;
        v[i]->control.n_cr3 = ncr3;
    }
    for (int i = 0; i < 4; i++) /* the first rounds: each guest's flush, NPT02 fill */
        l1_vmrun_loop_plain((uint64_t)(UINTN)v[i & 1], 1);
    struct hv_result f0 = hv_call(HV_CALL_TLB_INFO, 0, 0, 0);
    for (int i = 0; i < 2 * NESTED_ROUNDS; i++)
        l1_vmrun_loop_plain((uint64_t)(UINTN)v[i & 1], 1);
    struct hv_result f1 = hv_call(HV_CALL_TLB_INFO, 0, 0, 0);
    flushes->rbx = f1.rbx - f0.rbx;
    flushes->rcx = f1.rcx - f0.rcx;
    flushes->rdx = f1.rdx - f0.rdx;
}

void run_bench_nested(void)
{
    catch_install();
    l1_svm_enable();
    __asm__ volatile("cli" ::: "memory");
    struct hv_result fl, fl_wrapped;
    uint64_t plain = time_reflected(0, 0xFFFFFFFFu, &fl);
    uint64_t wrapped = time_reflected(1, 0xFFFFFFFFu, &fl_wrapped);
    struct hv_result fl_dirty;
    uint64_t dirty = time_reflected(0, 0, &fl_dirty);
    uint64_t l0_only = time_l0_only();
    struct hv_result fl_two = { 0 };
    if (hv_present())
        two_l2s_alternating(&fl_two);
    __asm__ volatile("sti" ::: "memory");
    catch_remove();
    say("bench: nested (b) L2 CPUID reflected to L1 + VMRUN: %ld ticks", plain);
    say("bench: nested (b') the same with CLGI/STGI around VMRUN: %ld ticks", wrapped);
    say("bench: nested (c) L2 exit handled by L0 alone: %ld ticks", l0_only);
    say("bench: nested (b0) as (b), L1 using no VMCB clean bits: %ld ticks", dirty);
    say("bench: TLB flushes over %d nested transitions: %ld by ASID, %ld full, %ld NPT02 resyncs",
        4 * NESTED_ROUNDS, fl.rbx + fl_wrapped.rbx, fl.rcx + fl_wrapped.rcx,
        fl.rdx + fl_wrapped.rdx);
    if (hv_present())
        say("bench: two L2s alternating on one vCPU, %d VMRUNs: %ld flushes by ASID, %ld full, "
            "%ld NPT02 resyncs", 2 * NESTED_ROUNDS, fl_two.rbx, fl_two.rcx, fl_two.rdx);
}
