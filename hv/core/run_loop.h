#pragma once
#include <stdbool.h>
#include "hv/core/vcpu.h"

/* Runs the vCPU's current VMCB and dispatches its exits, forever. */
__attribute__((noreturn)) void run_loop(struct vcpu *v);
/* arch/x86/vmrun.asm. host_if: RFLAGS.IF of the host during the guest run.
 * With V_INTR_MASKING set, it is what masks physical interrupts (APM
 * 15.21.1); the host itself never takes interrupts (GIF stays clear in the
 * host, so they wait for the next VMRUN; only an NMI exit sets it for an
 * instant, hv/smp/ap_start.c). */
void svm_run(struct guest_regs *regs, uint64_t vmcb_pa, uint64_t guest_cpu_pa,
             uint64_t host_state_pa, bool host_if);
/* The instruction after svm_run's VMRUN: where the host resumes. */
extern const char svm_run_resume[];
