/* The CPU's TSC and TSC_AUX read in host mode (hv/core/host_tsc.h). */
#include "hv/core/host_tsc.h"
#include "arch/x86/cpu.h"
#include "arch/x86/msr.h"

uint64_t host_tsc_read(void)
{
    return rdtsc_now();
}

uint32_t host_tsc_aux_read(void)
{
    return (uint32_t)rdmsr(MSR_TSC_AUX);
}
