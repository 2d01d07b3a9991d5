#include "hv/console/console.h"
#include "hv/core/launch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/msr.h"
#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/memory/guest_mem.h"
#include "hv/nested/l1_gif.h"
#include "hv/exit/l1_intercepts.h"
#include "hv/nested/l1_vmload.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/nested/nested.h"
#include "hv/nested/nested_maps.h"
#include "hv/nested/nested_tsc.h"
#include "hv/smp/apic.h"
#include "hv/core/percpu.h"
#include "hv/core/run_loop.h"
#include "hv/tlb/tlb.h"
#include "hv/core/vcpu.h"

#define L1_ASID 1
#define PORT_RESET_CONTROL 0xCF9

/* Reset-state hidden parts for a null TR/LDTR (APM Vol. 2, 14.1.3): OVMF
 * runs with TR=0, and the guest must still have a well-formed TR. */
#define TR_ATTR_BUSY_TSS64 0x008B
#define LDTR_ATTR_LDT 0x0082

/* The hidden part of a segment register, from the descriptor the selector
 * names in the loader's GDT (identity mapped, so readable here). */
static struct vmcb_seg segment_from_gdt(uint64_t gdt_base, uint16_t sel)
{
    struct vmcb_seg s = { .selector = sel };
    if ((sel & ~7) == 0)
        return s;
    const uint64_t *gdt = (const uint64_t *)gdt_base;
    uint64_t d = gdt[sel >> 3];
    uint32_t limit = (uint32_t)((d & 0xFFFF) | ((d >> 32) & 0xF0000));
    s.attrib = vmcb_seg_attrib_from_desc(d);
    s.limit = (s.attrib & VMCB_SEG_ATTR_G) ? (limit << 12) | 0xFFF : limit;
    s.base = ((d >> 16) & 0xFFFFFF) | ((d >> 56) << 24);
    if (!(s.attrib & VMCB_SEG_ATTR_S)) /* system descriptor: 16 bytes */
        s.base |= gdt[(sel >> 3) + 1] << 32;
    return s;
}

static void capture_segments(struct vmcb_save *g, struct vmcb_save *cpu,
                             const struct hv_loader_state *ls)
{
    uint64_t gdt = *(const uint64_t *)&ls->gdtr[2];
    g->cs = segment_from_gdt(gdt, ls->cs);
    g->ds = segment_from_gdt(gdt, ls->ds);
    g->es = segment_from_gdt(gdt, ls->es);
    g->ss = segment_from_gdt(gdt, ls->ss);
    cpu->fs = segment_from_gdt(gdt, ls->fs);
    cpu->gs = segment_from_gdt(gdt, ls->gs);
    cpu->fs.base = ls->fs_base;
    cpu->gs.base = ls->gs_base;
    g->gdtr.limit = *(const uint16_t *)&ls->gdtr[0];
    g->gdtr.base = gdt;
    g->idtr.limit = *(const uint16_t *)&ls->idtr[0];
    g->idtr.base = *(const uint64_t *)&ls->idtr[2];
    cpu->tr = segment_from_gdt(gdt, ls->tr);
    if (!ls->tr)
        cpu->tr = (struct vmcb_seg){ .attrib = TR_ATTR_BUSY_TSS64, .limit = 0xFFFF };
    cpu->ldtr = segment_from_gdt(gdt, ls->ldtr);
    if (!ls->ldtr)
        cpu->ldtr = (struct vmcb_seg){ .attrib = LDTR_ATTR_LDT, .limit = 0xFFFF };
    g->cpl = 0;
}

/* The loader called hv_enter_core(): L1 resumes at that call's return
 * address with RAX = 0 (success), its callee-saved registers as they were. */
static void capture_loader(struct vcpu *v, const struct hv_loader_state *ls)
{
    struct vmcb_save *g = &v->vmcb01.va->save, *cpu = &v->guest_cpu.va->save;
    capture_segments(g, cpu, ls);
    g->cr0 = ls->cr0;
    g->cr2 = read_cr2();
    g->cr3 = ls->cr3;
    g->cr4 = ls->cr4;
    g->efer = rdmsr(MSR_EFER) | EFER_SVME; /* VMRUN requires SVME (15.5.1) */
    g->g_pat = rdmsr(MSR_PAT);
    __asm__ volatile("mov %%dr6, %0; mov %%dr7, %1" : "=r"(g->dr6), "=r"(g->dr7));
    g->rflags = ls->rflags;
    g->rsp = ls->rsp + 8;
    g->rip = *(const uint64_t *)ls->rsp;
    g->rax = 0;
    cpu->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
    cpu->star = rdmsr(MSR_STAR);
    cpu->lstar = rdmsr(MSR_LSTAR);
    cpu->cstar = rdmsr(MSR_CSTAR);
    cpu->sfmask = rdmsr(MSR_SFMASK);
    cpu->sysenter_cs = rdmsr(MSR_SYSENTER_CS);
    cpu->sysenter_esp = rdmsr(MSR_SYSENTER_ESP);
    cpu->sysenter_eip = rdmsr(MSR_SYSENTER_EIP);
    v->regs = (struct guest_regs){
        .rbx = ls->rbx, .rbp = ls->rbp,
        .r12 = ls->r12, .r13 = ls->r13, .r14 = ls->r14, .r15 = ls->r15,
    };
    v->l1.efer_svme = (rdmsr(MSR_EFER) & EFER_SVME) != 0;
    v->l1.vm_cr = 0;
    v->l1.tsc_ratio = TSC_RATIO_ONE;
    v->tsc_ratio_hw = 0; /* unknown: the first load writes 1.0 */
    nested_tsc_ratio_load(v, TSC_RATIO_ONE);
}

/* MSRs L1 must not reach on the hardware: the SVM MSRs (virtualized per
 * vCPU), and those whose writes could map, remap or expose the hypervisor's
 * memory (APIC base, TOM/TOM2, SYSCFG, SMM range, IORRs). */
static const uint32_t l1_msrs_read_write[] = { MSR_EFER, MSR_VM_HSAVE_PA, MSR_VM_CR,
                                               MSR_TSC_RATIO };
static const uint32_t l1_msrs_write_only[] = {
    MSR_APIC_BASE, MSR_SYSCFG, MSR_TOP_MEM, MSR_TOP_MEM2, MSR_IORR_BASE0,
    MSR_IORR_MASK0, MSR_IORR_BASE1, MSR_IORR_MASK1, MSR_SMM_BASE, MSR_SMM_ADDR,
    MSR_SMM_MASK, MSR_SVM_KEY,
};

static void build_msrpm(uint8_t *msrpm)
{
    for (unsigned i = 0; i < sizeof l1_msrs_read_write / sizeof *l1_msrs_read_write; i++)
        msrpm_set(msrpm, l1_msrs_read_write[i], true, true);
    for (unsigned i = 0; i < sizeof l1_msrs_write_only / sizeof *l1_msrs_write_only; i++)
        msrpm_set(msrpm, l1_msrs_write_only[i], false, true);
}

static bool vcpu_alloc(struct vcpu *v);

/* What every vCPU's VMCB01 shares: L0's MSR and I/O permission maps. */
static uint64_t l1_msrpm_pa, l1_iopm_pa;

bool launch_prepare(const struct hv_boot_info *info)
{
    uint8_t *msrpm = hv_alloc_zeroed(MSRPM_SIZE / 4096, &l1_msrpm_pa);
    uint8_t *iopm = hv_alloc_zeroed(IOPM_SIZE / 4096, &l1_iopm_pa);
    if (!msrpm || !iopm)
        return false;
    build_msrpm(msrpm);
    apic_intercept_msrs(msrpm);
    nested_maps_init(msrpm);
    /* All ports pass through but the two that end the machine. */
    iopm_set(iopm, PORT_RESET_CONTROL, 1, true);
    if (info->acpi_pm1a_cnt)
        iopm_set(iopm, info->acpi_pm1a_cnt, 2, true);
    ioio_init(info->acpi_pm1a_cnt, info->acpi_s5_slp_typ, info->config.print_stats);
    if (info->acpi_pm1a_cnt && info->acpi_s5_slp_typ >= 0)
        pr_info("ACPI: PM1a control port %#x, \\_S5 sleep type %d", info->acpi_pm1a_cnt,
                info->acpi_s5_slp_typ);
    else
        pr_info("ACPI: %s unknown: the shell's poweroff is unavailable",
                info->acpi_pm1a_cnt ? "the \\_S5 sleep type" : "the PM1a control port");
    console_init(&info->config, iopm);
    vcpu_by_index(0)->console_countdown = CONSOLE_POLL_EVERY; /* the boot CPU polls */
    /* Every vCPU's memory now, so that no AP can fail for want of it. */
    for (unsigned i = 0; i < vcpu_count(); i++)
        if (!vcpu_alloc(vcpu_by_index(i)))
            return false;
    return apic_init(vcpu_by_index(0));
}

/* A vCPU's own pages: VMCB01, the host save and host-state areas, the
 * VMLOAD/VMSAVE page, and the nested state. */
static bool vcpu_alloc(struct vcpu *v)
{
    uint64_t hsave_pa;
    v->vmcb01.va = hv_alloc_zeroed(1, &v->vmcb01.pa);
    v->hsave = hv_alloc_zeroed(1, &hsave_pa);
    v->hsave_pa = hsave_pa;
    void *host_state = hv_alloc_zeroed(1, &v->host_state_pa);
    v->guest_cpu.va = hv_alloc_zeroed(1, &v->guest_cpu.pa);
    return v->vmcb01.va && v->hsave && host_state && v->guest_cpu.va && nested_init(v);
}

void launch_l1(struct hv_boot_info *info, struct vcpu *v)
{
    struct vmcb_control *c = &v->vmcb01.va->control;
    c->intercept_misc1 = L1_INTERCEPT_MISC1;
    c->intercept_misc2 = L1_INTERCEPT_MISC2;
    c->intercept_exceptions = L0_INTERCEPT_EXCEPTIONS;
    c->msrpm_base_pa = l1_msrpm_pa;
    c->iopm_base_pa = l1_iopm_pa;
    c->guest_asid = L1_ASID;
    c->nested_ctl = VMCB_NP_ENABLE;
    c->n_cr3 = guest_mem_npt01_root();
    l1_gif_init(v); /* may drop the STGI intercept */
    tlb_vcpu_init(v);
    capture_loader(v, &info->cpu[v->id].loader);
    l1_vmload_init(v); /* after the loader's EFER.SVME is known */
    apic_vcpu_init(v);
    switch_vmcb(v, TLB_CTX_L1); /* the first launch: owes the first flush */

    /* Enable SVM on this CPU (APM 15.4) and give VMRUN its host save area;
     * physical INITs become #SX (hv/exit/exit_init.c). */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    init_redirect_enable();
    wrmsr(MSR_VM_HSAVE_PA, v->hsave_pa);
    __asm__ volatile("vmsave %%rax" ::"a"(v->host_state_pa) : "memory");
    if (v->id == 0)
        pr_info("memory in use after launch: %lu KiB of the page pool (%u vCPU(s): VMCB01, "
                "host save areas, nested state; MSRPM, IOPM, %lu NPT01 table pages), %lu KiB free",
                (hv_pages()->npages - page_alloc_free_pages(hv_pages())) * 4, vcpu_count(),
                guest_mem_table_pages(), page_alloc_free_pages(hv_pages()) * 4);
    pr_info("launching the %s as L1 (VMCB01 at %#lx, RIP %#lx, ASID %u, APIC ID %u)",
            v->id ? "firmware's AP" : "loader", v->vmcb01.pa, v->vmcb01.va->save.rip, L1_ASID,
            v->apic_id);
    /* GIF clear before other CPUs may kick this one: a kick NMI must wait
     * for the first VMRUN and exit there, not be taken by the host now
     * (its kick_pending would never be cleared). */
    __asm__ volatile("clgi" ::: "memory");
    __atomic_store_n(&v->launched, true, __ATOMIC_RELEASE);
    run_loop(v);
}
