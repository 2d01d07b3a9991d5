#include "hv/smp/ap_start.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/core/host_caps.h"
#include "hv/nested/l1_gif.h"
#include "hv/exit/l1_intercepts.h"
#include "hv/nested/l1_vmload.h"
#include "hv/core/log.h"
#include "hv/nested/nested.h"
#include "hv/nested/nested_tsc.h"
#include "hv/tlb/tlb.h"
#include "hv/smp/vcpu_request.h"
#include "lib/spinlock.h"

/* Reset values (APM Vol. 2, 14.1.3, Table 14-1). */
#define CR0_RESET 0x60000010ULL     /* CD, NW, ET */
#define RFLAGS_RESET 0x2ULL
#define DR6_RESET 0xFFFF0FF0ULL
#define DR7_RESET 0x400ULL
#define PAT_RESET 0x0007040600070406ULL
#define SEG_LIMIT_RESET 0xFFFF
#define ATTR_CODE 0x009B            /* present, code, readable, accessed */
#define ATTR_DATA 0x0093            /* present, data, writable, accessed */
#define ATTR_LDT 0x0082
#define ATTR_TSS16_BUSY 0x0083

static struct vmcb_seg real_seg(uint16_t sel, uint16_t attrib)
{
    return (struct vmcb_seg){ .selector = sel, .attrib = attrib, .limit = SEG_LIMIT_RESET,
                              .base = (uint64_t)sel << 4 };
}

/* What INIT leaves: everything the hypervisor virtualizes for this CPU's
 * L1 goes back to its reset value, L2 included (INIT is not a #VMEXIT
 * unless L1 asked for the INIT intercept, which it cannot have: L1 is
 * reset, not L2). */
static void reset_vcpu(struct vcpu *v)
{
    if (v->nested.in_l2) {
        nested_l2_leave(v);
        v->nested.l2_nmi_held = false;
        switch_vmcb(v, TLB_CTX_L1);
    }
    v->nested.copy_valid = false;
    v->nested.nmi_pending = false;
    v->nested.l1_nmi_masked = false;
    v->nested.iret_stepping = false;
    v->vmcb01.va->control.intercept_misc1 &= ~VMCB_INTERCEPT1_IRET;
    v->vmcb01.va->control.intercept_exceptions = L0_INTERCEPT_EXCEPTIONS;
    v->nested.intr_held = false;
    v->nested.intr_open = true; /* as at start (hv/nested/l1_gif.c) */
    v->l1 = (struct l1_svm_msrs){ .tsc_ratio = TSC_RATIO_ONE };
    l1_vmload_update(v); /* EFER.SVME is 0 after INIT */
    v->apic.ldr = 0;
    v->apic.dfr = 0xFFFFFFFFu;
    l1_gif_set(v, true);
    tlb_l1_changed(v); /* INIT flushes the TLB */
}

/* The state a SIPI starts the CPU in: real mode at vector * 4096. */
static void load_sipi_state(struct vcpu *v, uint8_t vector)
{
    struct vmcb_save *s = &v->vmcb01.va->save, *cpu = &v->guest_cpu.va->save;
    s->cs = real_seg((uint16_t)vector << 8, ATTR_CODE);
    s->ds = s->es = s->ss = real_seg(0, ATTR_DATA);
    cpu->fs = cpu->gs = real_seg(0, ATTR_DATA);
    s->gdtr = s->idtr = (struct vmcb_seg){ .limit = SEG_LIMIT_RESET };
    cpu->ldtr = (struct vmcb_seg){ .attrib = ATTR_LDT, .limit = SEG_LIMIT_RESET };
    cpu->tr = (struct vmcb_seg){ .attrib = ATTR_TSS16_BUSY, .limit = SEG_LIMIT_RESET };
    cpu->kernel_gs_base = cpu->star = cpu->lstar = cpu->cstar = cpu->sfmask = 0;
    cpu->sysenter_cs = cpu->sysenter_esp = cpu->sysenter_eip = 0;
    s->cpl = 0;
    s->cr0 = CR0_RESET;
    s->cr2 = s->cr3 = s->cr4 = 0;
    s->efer = EFER_SVME; /* L1 sees 0; VMRUN needs SVME (15.5.1) */
    s->rflags = RFLAGS_RESET;
    s->dr6 = DR6_RESET;
    s->dr7 = DR7_RESET;
    s->g_pat = PAT_RESET;
    s->rip = 0;
    s->rsp = 0;
    s->rax = 0;
    v->regs = (struct guest_regs){ .rdx = cpuid(1, 0).eax }; /* the CPU's signature */
    struct vmcb_control *c = &v->vmcb01.va->control;
    c->eventinj = 0;
    c->int_state = 0;
}

/* Until a sender writes the vCPU's INIT/SIPI word or its requests (the
 * same cache line): MWAIT where the CPU has MONITOR/MWAIT (it wakes on the
 * write even with GIF clear), else a PAUSE loop. */
static void wait_for_write(struct vcpu *v)
{
    if (!host_caps()->monitor) {
        cpu_relax();
        return;
    }
    __asm__ volatile("monitor" ::"a"(&v->ap.word), "c"(0), "d"(0) : "memory");
    if (ap_state_mode(&v->ap) == AP_WAIT_SIPI && !__atomic_load_n(&v->requests, __ATOMIC_ACQUIRE))
        __asm__ volatile("mwait" ::"a"(0), "c"(0) : "memory");
}

static void wait_for_sipi(struct vcpu *v)
{
    uint8_t vector;
    pr_debug("INIT: waiting for a SIPI");
    for (;;) {
        ap_state_reset_done(&v->ap);
        if (ap_state_take_sipi(&v->ap, &vector))
            break;
        vcpu_serve_requests(v); /* others may wait for this CPU */
        wait_for_write(v);
    }
    load_sipi_state(v, vector);
    pr_info_limited("SIPI: starting at %#x (real mode)", (unsigned)vector << 12);
}

void vcpu_service_requests_slow(struct vcpu *v)
{
    vcpu_serve_requests(v);
    if (__builtin_expect(ap_state_reset_due(&v->ap), 0)) {
        reset_vcpu(v);
        wait_for_sipi(v);
    }
}

bool vcpu_nmi_was_kick(struct vcpu *v)
{
    /* After an intercepted NMI the NMI stays pending until GIF is set
     * again: let the host's handler take it (hv/core/exception.c returns at
     * once), or the next VMRUN would exit again at once. */
    __asm__ volatile("stgi; clgi" ::: "memory");
    return __atomic_exchange_n(&v->kick_pending, 0, __ATOMIC_SEQ_CST) != 0;
}
