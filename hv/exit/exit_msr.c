/* RDMSR/WRMSR of the MSRs the MSRPM intercepts (hv/core/launch.c), by L1 or by
 * an L2 that L1 lets reach them: L2 runs on L1's CPU, so it sees L1's SVM
 * MSRs, its writes to them change nothing of L1's, and its EFER is its own.
 * EXITINFO1 is 0 for RDMSR and 1 for WRMSR; ECX names the MSR, EDX:EAX holds
 * the value (APM 15.11). Everything else passes through without an exit. */
#include "hv/exit/exit_dispatch.h"
#include "arch/x86/vectors.h"
#include "arch/x86/cpu.h"
#include "arch/x86/msr.h"
#include "arch/x86/svm.h"
#include "arch/x86/apic.h"
#include "hv/smp/apic.h"
#include "hv/memory/guest_mem.h"
#include "hv/core/host_caps.h"
#include "hv/nested/l1_vmload.h"
#include "hv/nested/nested_tsc.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/tlb/tlb.h"

/* EFER bits L1 may write; LMA is read-only (APM 3.1.7), SVME virtual. */
#define EFER_WRITABLE (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME | \
                       EFER_LMSLE | EFER_FFXSR | EFER_TCE)
/* VM_CR bits L1 can set in its own view (APM 15.30.1). */
#define VM_CR_VIRTUAL_BITS (VM_CR_DPD | VM_CR_R_INIT | VM_CR_DIS_A20M | VM_CR_LOCK | VM_CR_SVMDIS)

static void gp(struct vcpu *v)
{
    vcpu_inject_exception(v, VEC_GP, true, 0);
}

/* EFER.SVME as the guest that runs sees it: L1's (hv/nested/nested.c checks it
 * for L1's SVM instructions) or L2's own. */
static bool *guest_svme(struct vcpu *v)
{
    return v->nested.in_l2 ? &v->nested.l2_svme : &v->l1.efer_svme;
}

/* Returns false if the write must fault (#GP), as the hardware would. */
static bool write_efer(struct vcpu *v, uint64_t val)
{
    struct vmcb_save *s = &v->vmcb.va->save;
    if (val & ~EFER_WRITABLE)
        return false;
    /* Changing LME while paging is on is illegal (APM 3.1.7, 14.6.1). */
    if ((s->cr0 & CR0_PG) && ((val ^ s->efer) & EFER_LME))
        return false;
    /* The real EFER keeps SVME: VMRUN requires it (15.5.1). L2's write
     * changes L2's EFER (VMCB02's) only, never L1's view. */
    *guest_svme(v) = val & EFER_SVME;
    if (!v->nested.in_l2)
        l1_vmload_update(v);
    s->efer = (val & ~EFER_LMA) | (s->efer & EFER_LMA) | EFER_SVME;
    /* NXE changes what translations mean */
    if (v->nested.in_l2)
        tlb_npt02_changed(v); /* drops what L2's ASID cached */
    else
        tlb_l1_changed(v);
    return true;
}

/* VM_HSAVE_PA: 4 KiB aligned, below MAXPHYADDR (15.30.4), and never the
 * hypervisor's own memory. */
static bool write_hsave(struct vcpu *v, uint64_t val)
{
    if ((val & 0xFFF) || val >= guest_phys_limit() || guest_mem_l1_barred(val, 4096))
        return false;
    if (!v->nested.in_l2) /* L2's goes nowhere: L1's view is L1's */
        v->l1.vm_hsave_pa = val;
    return true;
}

/* Bits of IA32_APIC_BASE (APM 16.3.1): BSC (8, read-only), EXTD (10, with
 * x2APIC), AE (11), the base (12 up to MAXPHYADDR); the rest is reserved. */
#define APIC_BASE_BSC (1ULL << 8)
#define APIC_BASE_WRITABLE_LOW (APIC_BASE_BSC | APIC_BASE_EXTD | APIC_BASE_ENABLE)

/* #GP (false) for what the CPU refuses: reserved bits, EXTD without
 * x2APIC, EXTD without AE, x2APIC straight back to xAPIC or from disabled
 * (the x2APIC spec's mode transitions), and for a page the hypervisor
 * cannot reach or must not give (its own memory, beyond its map). */
static bool apic_base_valid(uint64_t old, uint64_t val)
{
    uint64_t base = val & APIC_BASE_ADDR_MASK;
    if ((val & ~(APIC_BASE_ADDR_MASK | APIC_BASE_WRITABLE_LOW)) || base >= guest_phys_limit() ||
        ((val & APIC_BASE_EXTD) && !host_caps()->x2apic))
        return false;
    bool ae = val & APIC_BASE_ENABLE, extd = val & APIC_BASE_EXTD;
    bool was_ae = old & APIC_BASE_ENABLE, was_extd = old & APIC_BASE_EXTD;
    if (extd && !ae)
        return false;
    if (was_extd && was_ae && ae && !extd)
        return false; /* x2APIC -> xAPIC must pass through disabled */
    if (!was_ae && ae && extd)
        return false; /* disabled -> x2APIC must pass through xAPIC */
    if (guest_mem_l1_barred(base, 4096) || base + 4096 > guest_mem_host_map_top()) {
        pr_warn_limited("L1 tried to move the local APIC to %#lx, outside what it may use", base);
        return false;
    }
    return true;
}

/* Every CPU must stay reachable by the others' NMIs (hv/smp/apic.c), so L1
 * never hardware-disables its APIC: AE=0 is remembered (L1's view) and
 * the physical APIC stays enabled; the next enable performs L1's whole
 * transition at once (x2APIC -> disabled -> xAPIC included). */
static bool write_apic_base(struct vcpu *v, uint64_t val)
{
    uint64_t phys = rdmsr(MSR_APIC_BASE);
    uint64_t old = v->apic.l1_disabled ? phys & ~(APIC_BASE_ENABLE | APIC_BASE_EXTD) : phys;
    if (!apic_base_valid(old, val))
        return false;
    if (!(val & APIC_BASE_ENABLE)) {
        pr_warn_limited("L1 disables its local APIC (MSR 0x1B): it stays enabled underneath");
        v->apic.l1_disabled = true;
        return true;
    }
    val = (val & ~APIC_BASE_BSC) | (phys & APIC_BASE_BSC);
    if (v->apic.l1_disabled && (phys & APIC_BASE_EXTD) && !(val & APIC_BASE_EXTD)) {
        /* Leaving x2APIC passes through disabled (the CPU insists). A kick
         * NMI sent to this CPU in between is lost: it is sent again below
         * (to itself), so the flag stays true to what is in flight. */
        wrmsr(MSR_APIC_BASE, phys & ~(APIC_BASE_ENABLE | APIC_BASE_EXTD));
        wrmsr(MSR_APIC_BASE, val);
        apic_base_changed(v, phys, rdmsr(MSR_APIC_BASE));
        v->apic.l1_disabled = false;
        if (__atomic_load_n(&v->kick_pending, __ATOMIC_ACQUIRE))
            apic_self_nmi(v);
        return true;
    }
    v->apic.l1_disabled = false;
    wrmsr(MSR_APIC_BASE, val);
    apic_base_changed(v, phys, rdmsr(MSR_APIC_BASE));
    return true;
}

static bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    switch (msr) {
    case MSR_EFER:
        *val = (v->vmcb.va->save.efer & ~EFER_SVME) | (*guest_svme(v) ? EFER_SVME : 0);
        return true;
    /* The SVM MSRs read the same in L2 as in L1: L2 runs on L1's CPU. */
    case MSR_VM_HSAVE_PA:
        *val = v->l1.vm_hsave_pa;
        return true;
    case MSR_VM_CR:
        *val = v->l1.vm_cr;
        return true;
    case MSR_TSC_RATIO:
        *val = v->l1.tsc_ratio;
        return host_caps()->tsc_ratio; /* no such MSR: #GP */
    }
    return false;
}

/* L1's TSC ratio MSR (APM 15.30.5), offered where the CPU has one: L1's
 * own TSC stays at 1.0; its ratio is the CPU's while L2 runs
 * (hv/nested/nested_tsc.h). L2 reaches it only where L1 lets it: then, as on a
 * CPU, it is the same register. */
static bool write_tsc_ratio(struct vcpu *v, uint64_t val)
{
    if (!host_caps()->tsc_ratio || (val & TSC_RATIO_RESERVED))
        return false;
    v->l1.tsc_ratio = val;
    v->nested.copy_valid = false; /* VMCB02's offset follows the ratio */
    if (v->nested.in_l2) {
        struct vmcb_control *c02 = &v->nested.vmcb02.va->control;
        c02->tsc_offset = nested_tsc_offset(v->vmcb01.va->control.tsc_offset,
                                            v->nested.vmcb12->control.tsc_offset, val);
        nested_tsc_ratio_load(v, val);
    }
    return true;
}

static bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
    switch (msr) {
    case MSR_EFER:
        return write_efer(v, val);
    case MSR_VM_HSAVE_PA:
        return write_hsave(v, val);
    case MSR_VM_CR:
        /* L1 may lock or disable SVM in its own view only. */
        if (val & ~VM_CR_VIRTUAL_BITS)
            return false;
        if ((v->l1.vm_cr & VM_CR_LOCK) && ((val ^ v->l1.vm_cr) & VM_CR_SVMDIS))
            return false;
        if (!v->nested.in_l2)
            v->l1.vm_cr = val;
        return true;
    case MSR_APIC_BASE:
        return write_apic_base(v, val);
    case MSR_TSC_RATIO:
        return write_tsc_ratio(v, val);
    case MSR_X2APIC_ICR:
        /* x2APIC MSRs #GP in xAPIC mode, and so do reserved ICR bits. */
        if (!v->apic.x2apic || (val & X2APIC_ICR_RESERVED))
            return false;
        apic_x2apic_icr_write(v, val);
        return true;
    }
    /* The system-configuration MSRs: a write could re-map or expose the
     * hypervisor's memory. Dropped, with a note (rate-limited: a guest
     * writing in a loop must not flood the console, each line stalling
     * this CPU for the UART); reads pass through. */
    pr_warn_limited("%s write to MSR %#x (%#lx) ignored: it protects the hypervisor",
                    v->nested.in_l2 ? "L2" : "L1", msr, val);
    return true;
}

void exit_msr(struct vcpu *v)
{
    uint32_t msr = (uint32_t)v->regs.rcx;
    bool ok;
    if (v->vmcb.va->control.exitinfo1 == 0) {
        uint64_t val = 0;
        ok = msr_read(v, msr, &val);
        if (ok) {
            v->vmcb.va->save.rax = (uint32_t)val;
            v->regs.rdx = val >> 32;
        }
    } else {
        uint64_t val = (uint32_t)v->vmcb.va->save.rax | (v->regs.rdx << 32);
        ok = msr_write(v, msr, val);
    }
    if (ok)
        vcpu_skip_insn(v);
    else
        gp(v);
}
