/* The L1 test program on several CPUs (cmdline "smp"), as an OS or a guest
 * hypervisor would use them:
 *  - through the firmware's MP services from inside L1: on each AP, CPUID
 *    0x40000000 is ours and a guest-hypervisor round-trip loop (VMRUN of an
 *    L2 whose CPUID L1 intercepts, 2,000 times) runs on that AP's nested
 *    SVM; then on every AP at once;
 *  - x2APIC: the boot CPU switches its APIC to x2APIC mode and restarts the
 *    last AP with INIT-SIPI-SIPI through MSR 0x830 into a few bytes of
 *    real-mode code below 1 MiB, which write a flag and halt (the
 *    hypervisor emulates INIT and SIPI: the CPU is never reset).
 * APs cannot print (no UEFI calls there): they fill in per-CPU results and
 * the boot CPU reports them. */
#include "tests/l1/l1test.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/vmcb.h"
#include "boot/mp.h"

#define MAX_CPUS 16
#define ROUNDS 2000
#define X2APIC_ENABLE (1ULL << 10)
#define MSR_APIC_BASE_ 0x1Bu
#define MSR_X2APIC_ICR_ 0x830u
#define ICR_INIT 0x00004500u    /* INIT, level assert */
#define ICR_SIPI 0x00004600u    /* StartUp | vector */
#define FLAG_OFFSET 0x800
#define FLAG_VALUE 0xA5

uint64_t l1_vmrun_loop_plain(uint64_t vmcb12, uint64_t n);
extern char l2_cpuid_loop[];

/* One AP's own pages and what it found. */
struct ap_work {
    struct vmcb vmcb12 __attribute__((aligned(4096)));
    uint8_t hsave[4096] __attribute__((aligned(4096)));
    uint32_t apic_id;
    int signature_ok;
    uint64_t cpuid_exits;
    int done;
};
static struct ap_work work[MAX_CPUS] __attribute__((aligned(4096)));
static struct mp_cpu cpus[MAX_CPUS];

static int our_signature(void)
{
    return cpuid(0x40000000u, 0).ebx == *(const uint32_t *)HV_SIGNATURE;
}

/* Runs on an AP (any of them: it finds its slot by APIC ID). */
static void ap_nested(void *arg)
{
    (void)arg;
    uint32_t apic_id = cpuid(1, 0).ebx >> 24;
    struct ap_work *w = NULL;
    for (int i = 0; i < MAX_CPUS; i++)
        if (work[i].apic_id == apic_id)
            w = &work[i];
    if (!w)
        return;
    w->signature_ok = our_signature();
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr(MSR_VM_HSAVE_PA, (uint64_t)(UINTN)w->hsave);
    l1_vmcb12_init(&w->vmcb12, l2_cpuid_loop);
    w->vmcb12.control.intercept_misc1 = VMCB_INTERCEPT1_CPUID;
    w->cpuid_exits = l1_vmrun_loop_plain((uint64_t)(UINTN)&w->vmcb12, ROUNDS);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

static void reset_work(UINT32 n)
{
    for (UINT32 i = 0; i < n && i < MAX_CPUS; i++) {
        SetMem(&work[i], sizeof work[i], 0);
        work[i].apic_id = cpus[i].apic_id;
    }
}

static void check_aps(UINT32 n, const char *how)
{
    int all = 1;
    for (UINT32 i = 1; i < n && i < MAX_CPUS; i++) {
        struct ap_work *w = &work[i];
        if (!w->done || !w->signature_ok || w->cpuid_exits != ROUNDS) {
            say("AP with APIC ID %d (%a): done %d, signature %d, %ld of %d CPUID exits",
                w->apic_id, how, w->done, w->signature_ok, w->cpuid_exits, ROUNDS);
            all = 0;
        }
    }
    check(all, how, "");
}

/* Every AP at once (StartupAllAPs, not single-threaded). */
static EFI_STATUS run_on_all_aps(mp_ap_fn fn)
{
    return mp_run_on_all(fn, NULL, 10000000);
}

/* Bad input through the xAPIC page (docs/design.md, "Several CPUs"): each
 * gets its defined outcome and the machine goes on. */
#define APIC_TPR_ 0x80
#define APIC_ICR_LO_ 0x300
#define APIC_ICR_HI_ 0x310
#define NOBODY 0x55u

static void xapic_icr(volatile uint32_t *apic, uint32_t dest, uint32_t low)
{
    apic[APIC_ICR_HI_ / 4] = dest << 24;
    apic[APIC_ICR_LO_ / 4] = low;
}

static void bad_input_checks(UINT32 n)
{
    uint64_t base = rdmsr(MSR_APIC_BASE_);
    volatile uint32_t *apic = (volatile uint32_t *)(UINTN)(base & ~0xFFFULL);
    /* A read-modify-write of an APIC register is no plain store: #GP. */
    catch_install();
    catch_vector = (uint64_t)-1;
    catch_skip = 3;
    __asm__ volatile("orl $0, (%0)" ::"r"(&apic[APIC_TPR_ / 4]) : "memory"); /* 83 08 00 */
    int64_t v = (int64_t)catch_vector;
    catch_remove();
    check(v == 13, "apic_rmw_write_gp", "vector %ld", v);
    /* INIT to the boot CPU (this one): ignored, this CPU goes on. */
    xapic_icr(apic, cpus[0].apic_id, ICR_INIT);
    check(our_signature(), "init_to_boot_cpu_ignored", "");
    /* INIT and SIPI to an APIC ID no CPU has: dropped. */
    xapic_icr(apic, NOBODY, ICR_INIT);
    xapic_icr(apic, NOBODY, ICR_SIPI | 0x9F);
    check(our_signature(), "init_sipi_to_nobody_dropped", "");
    /* A SIPI to a running AP (no INIT before): ignored, the AP still
     * serves the firmware as before. */
    xapic_icr(apic, cpus[1].apic_id, ICR_SIPI | 0x9F);
    reset_work(n);
    EFI_STATUS st = mp_run_on(cpus[1].number, ap_nested, NULL, 10000000);
    check(!EFI_ERROR(st) && work[1].done && work[1].cpuid_exits == ROUNDS,
          "sipi_to_running_ap_ignored", "%r", st);
}

/* Real mode, at vector * 4096: DS = CS, [FLAG_OFFSET] = FLAG_VALUE, halt. */
static const uint8_t trampoline[] = {
    0x8C, 0xC8,                                  /* mov ax, cs */
    0x8E, 0xD8,                                  /* mov ds, ax */
    0xC6, 0x06, FLAG_OFFSET & 0xFF, FLAG_OFFSET >> 8, FLAG_VALUE, /* mov byte [FLAG], V */
    0xFA,                                        /* cli */
    0xF4,                                        /* hlt */
    0xEB, 0xFD,                                  /* jmp hlt */
};

static void x2apic_init_sipi(UINT32 n)
{
    if (!((cpuid(1, 0).ecx >> 21) & 1)) {
        check(0, "x2apic_init_sipi_sipi_starts_ap", "the CPU has no x2APIC (use -cpu ...,+x2apic)");
        return;
    }
    EFI_PHYSICAL_ADDRESS page = 0xFFFFF;
    if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress, EfiLoaderCode, 1,
                                    &page))) {
        check(0, "x2apic_init_sipi_sipi_starts_ap", "no page below 1 MiB");
        return;
    }
    volatile uint8_t *p = (volatile uint8_t *)(UINTN)page;
    for (UINTN i = 0; i < sizeof trampoline; i++)
        p[i] = trampoline[i];
    p[FLAG_OFFSET] = 0;
    uint32_t target = cpus[n - 1].apic_id;
    uint8_t vector = (uint8_t)(page >> 12);
    uint64_t dest = (uint64_t)target << 32;
    wrmsr(MSR_APIC_BASE_, rdmsr(MSR_APIC_BASE_) | X2APIC_ENABLE);
    check((rdmsr(MSR_APIC_BASE_) & X2APIC_ENABLE) != 0, "x2apic_mode_entered", "");
    wrmsr(MSR_X2APIC_ICR_, dest | ICR_INIT);
    uefi_call_wrapper(BS->Stall, 1, 10000);
    wrmsr(MSR_X2APIC_ICR_, dest | ICR_SIPI | vector);
    uefi_call_wrapper(BS->Stall, 1, 200);
    wrmsr(MSR_X2APIC_ICR_, dest | ICR_SIPI | vector);
    for (int ms = 0; ms < 2000 && p[FLAG_OFFSET] != FLAG_VALUE; ms++)
        uefi_call_wrapper(BS->Stall, 1, 1000);
    check(p[FLAG_OFFSET] == FLAG_VALUE, "x2apic_init_sipi_sipi_starts_ap",
          "APIC ID %d did not run the code at %lx", target, page);
    say("x2APIC: APIC ID %d started at %lx by INIT-SIPI-SIPI through MSR 0x830", target, page);
}

void run_smp_checks(void)
{
    UINT32 n = mp_list_cpus(cpus, MAX_CPUS);
    say("smp: %d CPU(s)", n);
    check(n >= 3 && n <= MAX_CPUS, "smp_three_or_more_cpus", "%d CPUs", n);
    if (n < 2 || n > MAX_CPUS)
        return;
    check(our_signature(), "smp_bsp_signature", "");
    reset_work(n);
    int each = 1;
    for (UINT32 i = 1; i < n; i++) {
        EFI_STATUS st = mp_run_on(cpus[i].number, ap_nested, NULL, 10000000);
        if (EFI_ERROR(st)) {
            say("APIC ID %d: StartupThisAP %r", cpus[i].apic_id, st);
            each = 0;
        }
    }
    check(each, "smp_mp_services_run_each_ap", "");
    check_aps(n, "smp_nested_svm_on_each_ap");
    reset_work(n);
    check(!EFI_ERROR(run_on_all_aps(ap_nested)), "smp_mp_services_run_all_aps", "");
    check_aps(n, "smp_nested_svm_on_all_aps_at_once");
    if (!(rdmsr(MSR_APIC_BASE_) & X2APIC_ENABLE))
        bad_input_checks(n);
    x2apic_init_sipi(n);
}
