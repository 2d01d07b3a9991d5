/*
 * insn_len.c - RIP advance after an intercepted instruction.
 * See insn_len.h.  Pure and freestanding.
 *
 * Exit codes: APM Vol. 2 Appendix C, Table C-1 (names in arch/x86/svm.h).
 * Encodings: APM Vol. 3 (general-purpose and system instruction
 * references); each was also checked against the GNU assembler.
 */
#include "hv/decode/insn_len.h"

#include "arch/x86/svm.h"

unsigned insn_len_fixed(uint64_t exitcode)
{
    switch (exitcode) {
    case VMEXIT_HLT:                /* F4 */
    case VMEXIT_ICEBP:              /* F1 (INT1) */
        return 1;

    case VMEXIT_CPUID:              /* 0F A2 */
    case VMEXIT_MSR:                /* 0F 32 RDMSR, 0F 30 WRMSR */
    case VMEXIT_RDTSC:              /* 0F 31 */
    case VMEXIT_RDPMC:              /* 0F 33 */
    case VMEXIT_INVD:               /* 0F 08 */
    case VMEXIT_WBINVD:             /* 0F 09 (WBNOINVD F3 0F 09: see .h) */
    case VMEXIT_PAUSE:              /* F3 90: the F3 is part of PAUSE */
        return 2;

    case VMEXIT_RDTSCP:             /* 0F 01 F9 */
    case VMEXIT_MONITOR:            /* 0F 01 C8, MONITORX 0F 01 FA */
    case VMEXIT_MWAIT:              /* 0F 01 C9, MWAITX 0F 01 FB */
    case VMEXIT_MWAIT_CONDITIONAL:  /* same two encodings, monitor armed */
    case VMEXIT_XSETBV:             /* 0F 01 D1 */
    case VMEXIT_RDPRU:              /* 0F 01 FD */
    case VMEXIT_VMRUN:              /* 0F 01 D8 */
    case VMEXIT_VMMCALL:            /* 0F 01 D9 */
    case VMEXIT_VMLOAD:             /* 0F 01 DA */
    case VMEXIT_VMSAVE:             /* 0F 01 DB */
    case VMEXIT_STGI:               /* 0F 01 DC */
    case VMEXIT_CLGI:               /* 0F 01 DD */
    case VMEXIT_SKINIT:             /* 0F 01 DE */
    case VMEXIT_INVLPGA:            /* 0F 01 DF */
        return 3;

    default:
        return 0;
    }
}

uint64_t insn_next_rip(uint64_t exitcode, uint64_t rip, uint64_t nrip,
                       uint64_t exitinfo2, bool has_nrips)
{
    unsigned len;

    /* APM 15.7.1: nRIP is zero for intercepts it is not defined for, so
     * zero means "not provided" and the other sources are tried. */
    if (has_nrips && nrip != 0)
        return nrip;
    if (exitcode == VMEXIT_IOIO)
        return exitinfo2;
    len = insn_len_fixed(exitcode);
    if (len == 0)
        return 0;
    return rip + len; /* unsigned: wraps modulo 2^64 */
}
