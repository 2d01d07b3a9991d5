/* The exit codes the #VMEXIT target tries (by index, from its input; the
 * seed generator names them the same way), and any code now and then. */
#pragma once
#include "arch/x86/svm.h"

static const uint64_t vmexit_codes[] = {
    VMEXIT_CR0_READ, VMEXIT_CR0_WRITE, VMEXIT_CR3_WRITE, VMEXIT_CR4_WRITE, VMEXIT_CR8_WRITE,
    VMEXIT_DR7_WRITE, VMEXIT_EXCP_DB, VMEXIT_EXCP_BP, VMEXIT_EXCP_UD, VMEXIT_EXCP_GP,
    VMEXIT_EXCP_PF, VMEXIT_EXCP_SX, VMEXIT_EXCP_MC, VMEXIT_INTR, VMEXIT_NMI, VMEXIT_SMI,
    VMEXIT_INIT, VMEXIT_VINTR, VMEXIT_CPUID, VMEXIT_IRET, VMEXIT_HLT, VMEXIT_INVLPG,
    VMEXIT_INVLPGA, VMEXIT_IOIO, VMEXIT_MSR, VMEXIT_SHUTDOWN, VMEXIT_VMRUN, VMEXIT_VMMCALL,
    VMEXIT_VMLOAD, VMEXIT_VMSAVE, VMEXIT_STGI, VMEXIT_CLGI, VMEXIT_SKINIT, VMEXIT_RDTSCP,
    VMEXIT_XSETBV, VMEXIT_NPF, VMEXIT_INVALID, 0xA2 /* INVPCID */,
    VMEXIT_RDTSC, /* L2's RDTSCP on TCG too (hv/nested/nested_rdtscp.c) */
};
#define VMEXIT_CODES_N (sizeof vmexit_codes / sizeof *vmexit_codes)

/* The index of a code in the table (for the seeds). */
static inline uint8_t vmexit_code_index(uint64_t code)
{
    for (unsigned i = 0; i < VMEXIT_CODES_N; i++)
        if (vmexit_codes[i] == code)
            return (uint8_t)i;
    return 0;
}
