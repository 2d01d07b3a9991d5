#pragma once
#include "hv/vcpu.h"

/* Runs the vCPU's current VMCB and dispatches its exits, forever. */
__attribute__((noreturn)) void run_loop(struct vcpu *v);
/* arch/x86/vmrun.asm */
void svm_run(struct guest_regs *regs, uint64_t vmcb_pa, uint64_t host_state_pa);
