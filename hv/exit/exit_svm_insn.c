/* L1's SVM instructions (all intercepted; docs/design.md, "Nested SVM"), emulated in
 * hv/nested/nested.c. */
#include "hv/exit/exit_dispatch.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/nested/nested.h"

void exit_svm_insn(struct vcpu *v)
{
    switch (v->vmcb.va->control.exitcode) {
    case VMEXIT_VMRUN:
        nested_vmrun(v);
        return;
    case VMEXIT_VMLOAD:
        nested_vmload(v);
        return;
    case VMEXIT_VMSAVE:
        nested_vmsave(v);
        return;
    case VMEXIT_STGI:
        nested_stgi(v);
        return;
    case VMEXIT_CLGI:
        nested_clgi(v);
        return;
    case VMEXIT_INVLPGA:
        nested_invlpga(v);
        return;
    }
    /* SKINIT: secure init is not offered to L1 (CPUID 0x80000001 ECX[12]
     * passes through as the CPU has it, but SKINIT would hand the machine
     * to a secure loader outside the hypervisor). */
    vcpu_inject_exception(v, VEC_UD, false, 0);
}
