/* A physical INIT that reached a CPU under the hypervisor. The hypervisor
 * never sends one to such a CPU (L1's are emulated, hv/smp/apic.c), but the
 * platform may (firmware in SMM, a CPU left outside). Without protection
 * it would reset the CPU and the hypervisor with it; with VM_CR.R_INIT
 * set at launch (APM 15.30.1) it arrives as #SX, intercepted in VMCB01 and
 * VMCB02 alike, and is handled as an INIT of this vCPU: an AP waits for a
 * SIPI, the boot CPU ignores it (nothing would restart it). */
#include "hv/exit/exit_dispatch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/core/log.h"

void exit_init_sx(struct vcpu *v)
{
    pr_warn_limited("a physical INIT arrived (as #SX): %s", v->id ? "INIT of this vCPU"
                                                                 : "ignored on the boot CPU");
    if (v->id)
        ap_state_init(&v->ap); /* this CPU: reset at the top of the run loop */
}

/* Launch, on each CPU: where the CPU lets us (VM_CR writable, R_INIT
 * defined), physical INITs become #SX. */
void init_redirect_enable(void)
{
    uint64_t vm_cr = rdmsr(MSR_VM_CR);
    wrmsr(MSR_VM_CR, vm_cr | VM_CR_R_INIT);
}
