#include "hv/exit_dispatch.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/ap_start.h"
#include "hv/nested.h"

/* Exit codes L0 intercepts in L1 (hv/launch.c sets the matching intercept
 * bits); the table is indexed by code for codes below 0x100. */
static const exit_handler_fn low_handlers[0x100] = {
    [VMEXIT_CPUID] = exit_cpuid,
    [VMEXIT_MSR] = exit_msr,
    [VMEXIT_IOIO] = exit_ioio,
    [VMEXIT_VMMCALL] = exit_vmmcall,
    [VMEXIT_VMRUN] = exit_svm_insn,
    [VMEXIT_VMLOAD] = exit_svm_insn,
    [VMEXIT_VMSAVE] = exit_svm_insn,
    [VMEXIT_STGI] = exit_svm_insn,
    [VMEXIT_CLGI] = exit_svm_insn,
    [VMEXIT_SKINIT] = exit_svm_insn,
    [VMEXIT_INVLPGA] = exit_svm_insn,
    [VMEXIT_SHUTDOWN] = exit_shutdown,
    [VMEXIT_NMI] = exit_nmi,
    [VMEXIT_INTR] = exit_intr,
    [VMEXIT_EXCP_BASE + VEC_SX] = exit_init_sx,
    [VMEXIT_IRET] = exit_iret,
    [VMEXIT_EXCP_BASE + VEC_DB] = exit_db,
};

exit_handler_fn exit_handler_for(uint64_t exitcode)
{
    if (exitcode < 0x100)
        return low_handlers[exitcode] ? low_handlers[exitcode] : exit_unexpected;
    if (exitcode == VMEXIT_NPF)
        return exit_npf;
    return exit_unexpected;
}

void exit_dispatch(struct vcpu *v)
{
    /* L0's own events, in L1 and in L2 alike, whatever L1 intercepts:
     * another CPU's kick (hv/apic.c; the run loop serves what it was for)
     * and a physical INIT redirected as #SX. */
    uint64_t code = v->vmcb.va->control.exitcode;
    if (__builtin_expect(code == VMEXIT_NMI || code == VMEXIT_EXCP_BASE + VEC_SX, 0)) {
        if (code != VMEXIT_NMI) {
            exit_init_sx(v);
            return;
        }
        if (vcpu_nmi_was_kick(v))
            return;
    }
    if (v->nested.in_l2)
        nested_l2_exit(v); /* L1's intercepts decide first */
    else
        exit_handler_for(v->vmcb.va->control.exitcode)(v);
}
