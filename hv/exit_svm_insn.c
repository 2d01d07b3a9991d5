/* VMRUN, VMLOAD, VMSAVE, STGI, CLGI, SKINIT and INVLPGA in L1. L1 sees a
 * CPU without SVM (hv/exit_cpuid.c), and there these instructions raise
 * #UD (APM Vol. 3, their exception tables: "SVM not available"). Nested SVM
 * replaces this handler. */
#include "hv/exit_dispatch.h"

#define VEC_UD 6

void exit_svm_insn(struct vcpu *v)
{
    vcpu_inject_exception(v, VEC_UD, false, 0);
}
