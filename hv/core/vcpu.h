/* A virtual CPU: the guest GPRs the VMCB does not hold, the VMCBs, and the
 * per-vCPU state of everything the hypervisor virtualizes for L1. All
 * per-vCPU state lives here (docs/design.md, "Several CPUs"); what the
 * vCPUs share (NPT01, the page pool, the log) has its own lock. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/cpu.h"
#include "arch/x86/svm_bitmaps.h"
#include "arch/x86/vmcb.h"
#include "hv/smp/ap_state.h"
#include "hv/nested/npt02.h"
#include "hv/console/stats.h"
#include "hv/tlb/tlb_policy.h"

/* Guest GPRs other than RAX and RSP (those live in the VMCB save area).
 * arch/x86/vmrun.asm addresses them by offset. */
struct guest_regs {
    uint64_t rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
_Static_assert(sizeof(struct guest_regs) == 14 * 8, "vmrun.asm frame");

/* A VMCB as the hypervisor uses it (va) and as VMRUN names it (pa). */
struct vmcb_ref {
    struct vmcb *va;
    uint64_t pa;
};

/* What L1 believes about the SVM MSRs (never written to the hardware). */
struct l1_svm_msrs {
    bool efer_svme;      /* EFER.SVME as L1 wrote it */
    uint64_t vm_hsave_pa;
    uint64_t vm_cr;
    uint64_t tsc_ratio;  /* L1's TSC ratio MSR (hv/nested/nested_tsc.h), 1.0 at reset */
};

/* L1's pages that L0 write-protects in NPT01 while their merge is cached
 * (hv/nested/nested_maps.c): the MSRPM and the IOPM of one VMCB12. */
#define NESTED_MAX_PROTECTED ((MSRPM_SIZE + IOPM_SIZE) / 4096)

#define NPT12_ON 1ULL

/* Nested SVM state: what L1 set up for the L2 it runs (hv/nested/nested.c). */
struct nested {
    bool in_l2;              /* the current VMCB is VMCB02 */
    bool gif;                /* L1's GIF as L0 last set it (hv/nested/l1_gif.c) */
    bool nmi_pending;        /* an NMI held for L1 (its GIF clear, or NMIs masked) */
    bool l1_nmi_masked;      /* L1 runs the handler of an NMI L0 injected */
    bool iret_stepping;      /* single-stepping L1 over that handler's IRET */
    bool iret_guest_tf;      /* L1's own TF at that IRET */
    uint64_t iret_rip;       /* where that IRET is */
    bool intr_held;          /* with vGIF: an interrupt waits for L1's STGI */
    bool intr_open;          /* with vGIF and GIF set: INTR goes to L1, CLGI exits */
    /* L2's GIF when VMCB12 has no vGIF (L2's unintercepted STGI/CLGI,
     * hv/nested/nested_gif.c): while clear, L2 takes no interrupt, NMI or V_IRQ. */
    bool l2_gif;
    bool l2_nmi_held;        /* an NMI waits for L2's STGI */
    bool l2_virq_held;       /* VMCB12's V_IRQ, kept out of VMCB02 while held */
    bool l2_svme;            /* L2's EFER.SVME as L2 sees it (VMCB02's stays set) */
    /* Stepping L2 over its write to a map L0 merged (hv/nested/nested_maps.c). */
    bool map_step, map_step_tf;
    bool intr_hold;          /* VMCB02's V_INTR_MASKING is L0's (hv/nested/nested_gif.c) */
    bool l1_if_at_vmrun;     /* RFLAGS.IF of L1 at its VMRUN: the host's IF for L2 */
    uint8_t l1_v_tpr;        /* VMCB12's V_TPR while L0 borrows the field */
    uint64_t vmcb12_pa;      /* L1's VMCB for the running L2 */
    bool copy_valid;         /* the copy and VMCB02 match vmcb12_pa's last VMRUN */
    struct vmcb *vmcb12;     /* the private copy, read once per VMRUN */
    struct vmcb_ref vmcb02;
    uint64_t msrpm02_pa, iopm02_pa; /* merged permission maps */
    uint8_t *msrpm02, *iopm02;
    uint64_t merged_msrpm12, merged_iopm12; /* L1 maps merged (0: L1 has none; NESTED_MAPS_NONE: no merge) */
    uint64_t protected_pages[NESTED_MAX_PROTECTED];
    unsigned nprotected;
    /* A page L0 wrote for L1 and found in no vCPU's list, at that
     * protection generation (hv/nested/nested_maps.c nested_maps_l0_wrote). */
    uint64_t unprotected_page, unprotected_gen;
    /* The shadows NPT01 o NPT12 (hv/nested/npt02.c), one per L2 entry of v->tlb
     * (hv/tlb/tlb_policy.h); VMCB02 runs on v->tlb.cur's. They share one
     * page budget (hv/memory/guest_mem.c). */
    struct npt02 npt02[TLB_L2_MAX];
    unsigned npt02_count;
    /* VMCB12's nCR3 (bits 51:12) | NPT12_ON while L2 runs with NP, else 0:
     * bit 0 marks NP on, so that an NPT12 at GPA 0 is NP too (the walk
     * reads bits 51:12 only, hv/nested/npt02.h). */
    uint64_t npt12_root;
    uint64_t vmruns, l0_handled, invalid, merges; /* reflected: stats_l2_reflected() */
    /* L2's MOV from CRn (n != 0) that the CPU gave as a CR0 read (hv/nested/nested_cr_read.c) */
    uint64_t cr_read_fixups;
    /* L2's RDTSCP the CPU gave as an RDTSC exit, and L2's RDTSC exits L0
     * took only for that (hv/nested/nested_rdtscp.c) */
    uint64_t rdtscp_fixups;
    /* An instruction's event (INTn, #BP, #OF) L1 injected at its last
     * VMRUN through VMCB12's EVENTINJ, which L0 injects again each time an
     * exit L0 handles cuts its delivery off (hv/nested/cut_off_event.h): the
     * EVENTINJ value (0: none), the number of L2's first exit after the
     * injection (v->stats.total then; an exit that injects it again moves
     * it on) and, with NRIPS, the nRIP L1 gave for it (15.20). */
    uint64_t l1_insn_event, l1_insn_event_exit, l1_insn_event_nrip;
};

/* L1's local APIC as this vCPU's L1 last programmed it (hv/smp/apic.c): what
 * the hypervisor needs to emulate INIT and SIPI (docs/design.md). */
struct vcpu_apic {
    uint32_t icr_high;       /* xAPIC ICR[63:32] as L1 wrote it */
    uint32_t ldr, dfr;       /* xAPIC logical destination and format */
    uint64_t base;           /* APIC base address (MSR 0x1B) */
    bool x2apic;             /* MSR 0x1B EXTD */
    bool l1_disabled;        /* L1 cleared AE; the hardware's stays set (hv/exit/exit_msr.c) */
    uint64_t writes, icr_writes, unknown_writes;
    uint64_t writes_by_reg[64]; /* xAPIC writes per register (offset / 16) */
};

struct vcpu {
    struct vcpu *self;       /* at offset 0: what %gs:0 reads (hv/core/percpu.c) */
    struct guest_regs regs;
    struct vmcb_ref vmcb;    /* the VMCB that runs next: VMCB01 or VMCB02 */
    struct vmcb_ref vmcb01;
    struct nested nested;
    uint64_t host_state_pa;  /* VMSAVE area for the host's TR, FS, GS, ... */
    void *hsave;             /* VM_HSAVE_PA of this CPU (VMRUN's host save area) */
    uint64_t hsave_pa;
    /* The guest's FS, GS, TR, LDTR, KernelGsBase, STAR, LSTAR, CSTAR,
     * SFMASK, SYSENTER_* (what VMLOAD/VMSAVE move), in VMCB format: one
     * page for L1 and L2 alike (arch/x86/vmrun.asm). */
    struct vmcb_ref guest_cpu;
    struct tlb_policy tlb;   /* flush requests per context (hv/tlb/tlb.h) */
    struct l1_svm_msrs l1;
    uint64_t tsc_ratio_hw;   /* the CPU's TSC ratio MSR as L0 left it */
    struct vcpu_apic apic;
    /* What other CPUs write, in one cache line (a vCPU waiting for a
     * SIPI MWAITs on it): INIT/SIPI (hv/smp/ap_state.h), the work they left
     * for this one (VCPU_REQ_*), and whether an NMI sent to make it exit
     * is on its way (at most one: NMIs merge, so a count could not match
     * them, hv/smp/apic.c). */
    struct ap_state ap __attribute__((aligned(64)));
    uint32_t requests;
    uint32_t kick_pending;
    uint64_t kicks;          /* NMIs sent to it, for the statistics */
    int fatal_depth;         /* faults while reporting a fault (hv/core/exception.c) */
    uint32_t id;             /* index: 0 is the boot CPU */
    uint32_t apic_id;        /* the physical CPU's local APIC ID */
    bool launched;           /* runs as our guest (else: still the firmware's) */
    uint32_t console_countdown; /* exits to the next look at the UART (hv/console/console.h) */
    struct vcpu_stats stats;
    /* A #DB or #AC raised while the CPU delivered an interrupt or NMI
     * (hv/exit/exit_debug.c): that event is delivered again first, this one at
     * the next exit of the same VMCB (an EVENTINJ value; 0: none). */
    uint64_t deferred_event;
    const struct vmcb *deferred_vmcb;
    /* The guest's x87/SSE state while the host uses the FPU (hv/core/fpu.c). */
    uint8_t fpu_area[512] __attribute__((aligned(16)));
    bool fpu_saved;
};

/* The vCPU of the CPU this runs on (its GS base, hv/core/percpu.c). */
struct vcpu *vcpu_current(void);

/* Advances L1's RIP past the intercepted instruction (nRIP when the CPU
 * has NRIPS, else the known length; hv/decode/insn_len.c). */
void vcpu_skip_insn(struct vcpu *v);
/* The guest's instruction, which L0 performed, is done: RIP moves to
 * next_rip, the interrupt shadow ends, RF is cleared and a single-step
 * trap is owed with TF (the rare part out of line, hv/core/vcpu.c). */
void vcpu_complete_insn_flags(struct vcpu *v);
static inline void vcpu_complete_insn(struct vcpu *v, uint64_t next_rip)
{
    struct vmcb *vmcb = v->vmcb.va;
    vmcb->save.rip = next_rip;
    vmcb->control.int_state &= ~VMCB_INT_STATE_INTERRUPT_SHADOW;
    if (__builtin_expect((vmcb->save.rflags & (RFLAGS_TF | RFLAGS_RF)) != 0, 0))
        vcpu_complete_insn_flags(v);
}
/* Queues an exception for delivery at the next VMRUN (EVENTINJ). */
void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error);
/* Prints the guest state of the current VMCB and the last exits. */
void vcpu_dump(const struct vcpu *v, const char *why);
