#include "hv/nested/nested_tsc.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/core/host_caps.h"

void nested_tsc_ratio_write(struct vcpu *v, uint64_t ratio)
{
    /* Without the MSR L1 cannot set a ratio: only 1.0 gets here, which is
     * what such a CPU runs every guest at. */
    if (host_caps()->tsc_ratio)
        wrmsr(MSR_TSC_RATIO, ratio);
    v->tsc_ratio_hw = ratio;
}
