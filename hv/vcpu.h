/* A virtual CPU: the guest GPRs the VMCB does not hold, the VMCBs, and the
 * per-vCPU state of what the hypervisor virtualizes for L1. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

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

/* Pending TLB-flush requests, turned into TLB_CONTROL of the VMCB that runs
 * next (APM 15.16: TLB_CONTROL acts at the next VMRUN of that VMCB). */
enum tlb_request {
    TLB_FLUSH_L1 = 1u << 0,
};

struct vcpu {
    struct guest_regs regs;
    struct vmcb *vmcb;       /* the VMCB that runs next (VMCB01 today) */
    uint64_t vmcb_pa;
    struct vmcb *vmcb01;
    uint64_t vmcb01_pa;
    uint64_t host_state_pa;  /* VMSAVE area for the host's TR, FS, GS, ... */
    uint32_t tlb_requests;
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
void vcpu_init_caps(bool has_nrips);
