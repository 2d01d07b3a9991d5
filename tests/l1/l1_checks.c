/* Checks of the L0 hypervisor made from inside L1 (cmdline "checks"). */
#include "tests/l1/l1test.h"
#include "arch/x86/vectors.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"

#define HV_CORE_MAGIC 0x45524F4356485356ULL

int64_t try_wrmsr(uint32_t msr, uint64_t val)
{
    catch_vector = (uint64_t)-1;
    catch_skip = 2;
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "memory");
    return (int64_t)catch_vector;
}

int64_t try_rdmsr(uint32_t msr, uint64_t *val)
{
    uint32_t lo = 0, hi = 0;
    catch_vector = (uint64_t)-1;
    catch_skip = 2;
    __asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    *val = ((uint64_t)hi << 32) | lo;
    return (int64_t)catch_vector;
}

static void check_cpuid(void)
{
    struct cpuid_regs r = cpuid(1, 0);
    check(r.ecx >> 31, "cpuid_hypervisor_bit", "CPUID.1:ECX = %x", r.ecx);
    r = cpuid(0x40000000u, 0);
    char sig[13];
    CopyMem(sig, &r.ebx, 4);
    CopyMem(sig + 4, &r.ecx, 4);
    CopyMem(sig + 8, &r.edx, 4);
    sig[12] = 0;
    check(strcmpa((CHAR8 *)sig, (CHAR8 *)HV_SIGNATURE) == 0 && r.eax >= 0x40000001u,
          "cpuid_hypervisor_leaf", "max 0x%x signature \"%a\"", r.eax, sig);
    say("CPUID 0x40000000: max leaf 0x%x, signature \"%a\"", r.eax, sig);
    check(cpuid(0x40000001u, 0).eax == HV_ABI_VERSION, "cpuid_abi_version", "");
    /* SVM is offered to L1 (nested SVM), with only what L0 implements. */
    struct cpuid_regs svm = cpuid(CPUID_SVM_LEAF, 0);
    check((cpuid(0x80000001u, 0).ecx & CPUID_80000001_ECX_SVM) && svm.eax == 1 &&
              svm.ebx == 256 && (svm.edx & ~0x48u) == 0x21,
          "cpuid_svm_offered", "eax %x ebx %x edx %x", svm.eax, svm.ebx, svm.edx);
}

static void check_svm_insns_ud(void)
{
    /* With EFER.SVME clear (L1 has not enabled SVM yet), SVM instructions
     * other than VMMCALL raise #UD (APM 15.4). */
    catch_vector = (uint64_t)-1;
    catch_skip = 3;
    __asm__ volatile("mov %0, %%rax; vmrun" ::"r"(0ULL) : "rax", "memory");
    check(catch_vector == VEC_UD, "vmrun_raises_ud", "vector %ld", (int64_t)catch_vector);
    catch_vector = (uint64_t)-1;
    __asm__ volatile("stgi" ::: "memory");
    check(catch_vector == VEC_UD, "stgi_raises_ud", "vector %ld", (int64_t)catch_vector);
}

static void check_efer(void)
{
    uint64_t efer, back;
    try_rdmsr(MSR_EFER, &efer);
    int64_t v1 = try_wrmsr(MSR_EFER, efer | EFER_SVME);
    try_rdmsr(MSR_EFER, &back);
    check(v1 < 0 && (back & EFER_SVME), "efer_svme_set_reads_back", "efer %lx", back);
    int64_t v2 = try_wrmsr(MSR_EFER, efer & ~EFER_SVME);
    try_rdmsr(MSR_EFER, &back);
    check(v2 < 0 && !(back & EFER_SVME) && (back & EFER_LMA), "efer_svme_clear_reads_back",
          "efer %lx", back);
    int64_t v3 = try_wrmsr(MSR_EFER, efer | (1ULL << 20)); /* reserved */
    check(v3 == VEC_GP, "efer_reserved_bit_gp", "vector %ld", v3);
    int64_t v4 = try_wrmsr(MSR_EFER, efer & ~EFER_LME); /* LME with paging on */
    check(v4 == VEC_GP, "efer_lme_change_gp", "vector %ld", v4);
    try_wrmsr(MSR_EFER, efer);
}

static void check_hsave(uint64_t region, uint64_t size)
{
    uint64_t back = 0;
    static UINT8 page[8192] __attribute__((aligned(4096)));
    uint64_t pa = (uint64_t)(UINTN)page;
    int64_t v = try_wrmsr(MSR_VM_HSAVE_PA, pa);
    try_rdmsr(MSR_VM_HSAVE_PA, &back);
    check(v < 0 && back == pa, "vm_hsave_pa_reads_back", "wrote %lx read %lx", pa, back);
    check(try_wrmsr(MSR_VM_HSAVE_PA, pa + 8) == VEC_GP, "vm_hsave_pa_unaligned_gp", "");
    check(try_wrmsr(MSR_VM_HSAVE_PA, region) == VEC_GP, "vm_hsave_pa_hypervisor_gp", "");
    check(try_wrmsr(MSR_VM_HSAVE_PA, region + size - 4096) == VEC_GP,
          "vm_hsave_pa_hypervisor_end_gp", "");
    check(try_wrmsr(MSR_VM_HSAVE_PA, 1ULL << 60) == VEC_GP, "vm_hsave_pa_beyond_maxphys_gp", "");
    try_rdmsr(MSR_VM_HSAVE_PA, &back);
    check(back == pa, "vm_hsave_pa_unchanged_after_gp", "%lx", back);
}

static void check_vm_cr(void)
{
    uint64_t back = 0;
    int64_t v = try_wrmsr(MSR_VM_CR, VM_CR_SVMDIS | VM_CR_LOCK);
    try_rdmsr(MSR_VM_CR, &back);
    check(v < 0 && back == (VM_CR_SVMDIS | VM_CR_LOCK), "vm_cr_virtual", "%lx", back);
    check(try_wrmsr(MSR_VM_CR, VM_CR_LOCK) == VEC_GP, "vm_cr_locked_svmdis_gp", "");
    /* The hypervisor still works: VM_CR only changed in L1's view. */
    check(hv_call(HV_CALL_VERSION, 0, 0, 0).status == HV_OK, "vm_cr_hypervisor_alive", "");
}

static void check_hv_memory(uint64_t region, uint64_t size)
{
    uint64_t before = hv_call(HV_CALL_MEMINFO, 0, 0, 0).rdx;
    volatile uint64_t *p = (volatile uint64_t *)(UINTN)region;
    uint64_t first = p[0];
    check(first != HV_CORE_MAGIC && first == ~0ULL, "hv_memory_read_gives_decoy",
          "read %lx", first);
    p[1] = 0x1234;
    check(p[1] == 0x1234, "hv_memory_write_lands_on_decoy", "");
    volatile uint64_t *q = (volatile uint64_t *)(UINTN)(region + size - 8);
    check(*q == ~0ULL || *q == 0x1234, "hv_memory_last_page", "read %lx", *q);
    uint64_t after = hv_call(HV_CALL_MEMINFO, 0, 0, 0).rdx;
    check(after == before + 2, "hv_memory_accesses_counted", "%ld -> %ld", before, after);
}

/* DMA protection (README, "Security"): QEMU's AMD IOMMU, whose registers
 * sit at 0xFED80000, is the hypervisor's. L1 reads them as the decoy and
 * cannot bring them back by moving its local APIC onto their page (the
 * hypervisor would map the APIC page for L1 there: #GP instead). */
#define QEMU_IOMMU_MMIO 0xFED80000ULL
#define MSR_APIC_BASE 0x1Bu
static void check_iommu_hidden(void)
{
    struct hv_result d = hv_call(HV_CALL_DMA_INFO, 0, 0, 0);
    check(d.status == HV_OK && d.rbx == 1, "dma_protection_on", "status %ld, %lu IOMMU(s)",
          d.status, d.rbx);
    volatile uint64_t *dev_table_base = (volatile uint64_t *)(UINTN)QEMU_IOMMU_MMIO;
    check(*dev_table_base == ~0ULL, "iommu_registers_read_as_decoy", "read %lx", *dev_table_base);
    uint64_t apic = 0;
    try_rdmsr(MSR_APIC_BASE, &apic);
    int64_t moved = try_wrmsr(MSR_APIC_BASE, (apic & 0xFFF) | QEMU_IOMMU_MMIO);
    try_wrmsr(MSR_APIC_BASE, apic);
    uint64_t now = 0;
    try_rdmsr(MSR_APIC_BASE, &now);
    check(moved == VEC_GP && now == apic && *dev_table_base == ~0ULL,
          "apic_base_onto_iommu_registers_gp", "wrmsr %ld, APIC base %lx, register %lx", moved,
          now, *dev_table_base);
}

static void check_hypercalls(uint64_t region)
{
    struct hv_result r = hv_call(HV_CALL_VERSION, 0, 0, 0);
    char sig[13];
    CopyMem(sig, &r.rcx, 8);
    CopyMem(sig + 8, &r.rdx, 4);
    sig[12] = 0;
    check(r.status == HV_OK && r.rbx == HV_ABI_VERSION &&
              strcmpa((CHAR8 *)sig, (CHAR8 *)HV_SIGNATURE) == 0,
          "hypercall_version", "status %ld version %lx sig %a", r.status, r.rbx, sig);
    static const char msg[] = "hello from L1 via the log hypercall";
    r = hv_call(HV_CALL_LOG, (uint64_t)(UINTN)msg, sizeof msg - 1, 0);
    check(r.status == HV_OK, "hypercall_log", "status %ld", r.status);
    check(hv_call(HV_CALL_LOG, (uint64_t)(UINTN)msg, 0, 0).status == HV_EINVAL,
          "hypercall_log_empty_einval", "");
    check(hv_call(HV_CALL_LOG, (uint64_t)(UINTN)msg, HV_LOG_MAX + 1, 0).status == HV_EINVAL,
          "hypercall_log_too_long_einval", "");
    check(hv_call(HV_CALL_LOG, region, 16, 0).status == HV_EFAULT,
          "hypercall_log_hv_memory_efault", "");
    check(hv_call(HV_CALL_LOG, 0xFFFFFFFF000ULL, 16, 0).status == HV_EFAULT,
          "hypercall_log_not_ram_efault", "");
    check(hv_call(HV_CALL_LOG, ~0ULL - 4, 16, 0).status == HV_EFAULT,
          "hypercall_log_wrapping_efault", "");
    check(hv_call(99, 0, 0, 0).status == HV_ENOSYS, "hypercall_unknown_enosys", "");
    check(hv_call(HV_CALL_STATS, 0x12345, 0, 0).status == HV_EINVAL,
          "hypercall_stats_bad_code_einval", "");
}

static void check_stats(void)
{
    /* Interrupts off: the firmware's timer handler may run CPUID too. */
    __asm__ volatile("cli" ::: "memory");
    struct hv_result a = hv_call(HV_CALL_STATS, VMEXIT_CPUID, 0, 0);
    for (int i = 0; i < 10; i++)
        cpuid(0, 0);
    struct hv_result b = hv_call(HV_CALL_STATS, VMEXIT_CPUID, 0, 0);
    __asm__ volatile("sti" ::: "memory");
    check(a.status == HV_OK && b.rbx == a.rbx + 10 && b.rcx > a.rcx,
          "stats_count_cpuid", "%ld -> %ld exits, %ld -> %ld cycles", a.rbx, b.rbx, a.rcx, b.rcx);
    struct hv_result m = hv_call(HV_CALL_STATS, VMEXIT_VMMCALL, 0, 0);
    check(m.rbx >= 3 && m.rdx > b.rdx, "stats_count_vmmcall", "%ld", m.rbx);
    check(hv_call(HV_CALL_STATS_PRINT, 0, 0, 0).status == HV_OK, "stats_print", "");
}

/* NMI masking (APM Vol. 2, 8.2.3): a second NMI that arrives while L1
 * handles the first waits for the handler's IRET. Under the hypervisor
 * NMIs exit and L1's are injected back, so this checks L0's tracking of
 * L1's NMI blocking (hv/nested/l1_gif.c); without it the second NMI nests. */
extern volatile uint32_t nmi_count, nmi_max_depth;
extern volatile uint64_t nmi_icr_lo;
void nmi_handler_install(void);
void nmi_handler_remove(void);

static void check_nmi_masking(void)
{
    uint64_t base = rdmsr(0x1Bu);
    if (base & (1u << 10))
        return; /* the handler writes the xAPIC ICR */
    nmi_icr_lo = (base & ~0xFFFULL) + 0x300;
    nmi_count = nmi_max_depth = 0;
    nmi_handler_install();
    *(volatile uint32_t *)(UINTN)nmi_icr_lo = 0x00044400; /* self NMI */
    for (int i = 0; i < 2000 && nmi_count < 2; i++)
        uefi_call_wrapper(BS->Stall, 1, 1000);
    nmi_handler_remove();
    check(nmi_count == 2 && nmi_max_depth == 1, "nmi_second_waits_for_iret",
          "%d NMIs, nested %d deep", nmi_count, nmi_max_depth);
}

void run_l1_checks(EFI_SYSTEM_TABLE *st)
{
    (void)st;
    catch_install();
    struct hv_result mi = hv_call(HV_CALL_MEMINFO, 0, 0, 0);
    check(mi.status == HV_OK && mi.rbx && mi.rcx, "hypercall_meminfo", "status %ld", mi.status);
    check_cpuid();
    check_svm_insns_ud();
    check_efer();
    check_hsave(mi.rbx, mi.rcx);
    check_vm_cr();
    check_hypercalls(mi.rbx);
    check_hv_memory(mi.rbx, mi.rcx);
    check_iommu_hidden();
    check_stats();
    check_nmi_masking();
    catch_remove();
    run_fpu_check();
}
