/* A virtual CPU: the guest GPRs the VMCB does not hold, the VMCBs, and the
 * per-vCPU state of what the hypervisor virtualizes for L1. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"
#include "hv/tlb_policy.h"

/* Guest GPRs other than RAX and RSP (those live in the VMCB save area).
 * arch/x86/vmrun.asm addresses them by offset. */
struct guest_regs {
    uint64_t rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
_Static_assert(sizeof(struct guest_regs) == 14 * 8, "vmrun.asm frame");

/* What L1 believes about the SVM MSRs (never written to the hardware). */
struct l1_svm_msrs {
    bool efer_svme;      /* EFER.SVME as L1 wrote it */
    uint64_t vm_hsave_pa;
    uint64_t vm_cr;
};


/* Nested SVM state: what L1 set up for the L2 it runs (hv/nested.c). */
struct nested {
    bool in_l2;              /* the current VMCB is VMCB02 */
    bool gif;                /* L1's GIF as L0 last set it (hv/l1_gif.c) */
    bool nmi_pending;        /* an NMI held while L1's GIF was clear */
    bool intr_held;          /* with vGIF: an interrupt waits for L1's STGI */
    uint64_t vmcb12_pa;      /* L1's VMCB for the running L2 */
    bool copy_valid;         /* the copy and VMCB02 match vmcb12_pa's last VMRUN */
    struct vmcb *vmcb12;     /* the private copy, read once per VMRUN */
    struct vmcb *vmcb02;
    uint64_t vmcb02_pa;
    uint64_t msrpm02_pa, iopm02_pa; /* merged permission maps */
    uint8_t *msrpm02, *iopm02;
    uint64_t merged_msrpm12, merged_iopm12; /* L1 maps merged (0: L1 has none; NESTED_MAPS_NONE: no merge) */
    uint64_t npt02_root;
    uint64_t npt12_root;     /* VMCB12's nCR3 while L2 runs with NP */
    uint64_t vmruns, reflected, l0_handled, invalid;
};

struct vcpu {
    struct guest_regs regs;
    struct vmcb *vmcb;       /* the VMCB that runs next: VMCB01 or VMCB02 */
    uint64_t vmcb_pa;
    struct vmcb *vmcb01;
    uint64_t vmcb01_pa;
    struct nested nested;
    uint64_t host_state_pa;  /* VMSAVE area for the host's TR, FS, GS, ... */
    /* The guest's FS, GS, TR, LDTR, KernelGsBase, STAR, LSTAR, CSTAR,
     * SFMASK, SYSENTER_* (what VMLOAD/VMSAVE move), in VMCB format: one
     * page for L1 and L2 alike (arch/x86/vmrun.asm). */
    struct vmcb *guest_cpu;
    uint64_t guest_cpu_pa;
    struct tlb_policy tlb;   /* flush requests per context (hv/tlb.h) */
    struct l1_svm_msrs l1;
    uint32_t id;
};

/* The boot CPU's vCPU (SMP comes later). */
struct vcpu *vcpu_current(void);

/* Advances L1's RIP past the intercepted instruction (nRIP when the CPU
 * has NRIPS, else the known length; hv/insn_len.c). */
void vcpu_skip_insn(struct vcpu *v);
/* Queues an exception for delivery at the next VMRUN (EVENTINJ). */
void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error);
/* Prints the guest state of the current VMCB and the last exits. */
void vcpu_dump(const struct vcpu *v, const char *why);
void vcpu_init_caps(bool has_nrips, bool has_vgif);
bool vcpu_has_nrips(void);
bool vcpu_has_vgif(void);
