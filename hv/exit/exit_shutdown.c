/* Shutdown (e.g. a triple fault) in L1, and exits L0 never asked for. On
 * bare metal a shutdown resets the machine; here L1's state and the last
 * exits are dumped first, then the machine halts or resets (on_fault). */
#include "hv/exit/exit_dispatch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/core/exception.h"
#include "hv/core/log.h"

/* Which CPU, and the pages its VMRUN uses: a guest that shuts down on a
 * state it never had (test_kvmguest.py's beside test once ran L1 on the
 * hypervisor's own saved state) is told apart from one that faulted. */
static void dump_vmrun_pages(const struct vcpu *v)
{
    pr_err("cpu%u: VMCB %#lx (VMCB01 %#lx), VM_HSAVE_PA %#lx (this CPU's host save area %#lx)",
           v->id, v->vmcb.pa, v->vmcb01.pa, rdmsr(MSR_VM_HSAVE_PA), v->hsave_pa);
}

void exit_shutdown(struct vcpu *v)
{
    vcpu_dump(v, "L1 shut down (triple fault or shutdown condition): SHUTDOWN intercept");
    dump_vmrun_pages(v);
    hv_fatal_stop();
}

void exit_unexpected(struct vcpu *v)
{
    vcpu_dump(v, (uint32_t)v->vmcb.va->control.exitcode == 0xFFFFFFFFu
                     ? "VMRUN of L1 failed (VMEXIT_INVALID): VMCB01 is inconsistent"
                     : "unexpected exit from L1");
    dump_vmrun_pages(v);
    hv_fatal_stop();
}
