/*
 * insn_len.h - where the guest resumes after an intercepted instruction.
 *
 * Instruction intercepts are checked before the instruction commits
 * (APM Vol. 2 15.7), so the saved RIP points at the instruction itself and
 * a VMM that emulates it must move RIP past it.  Three sources, best first:
 *   - nRIP (VMCB offset C8h), written by CPUs with CPUID
 *     Fn8000_000A_EDX[NRIPS] for instruction, MSR and IOIO intercepts (and
 *     INT3/INTO/BOUND exceptions); zero for all other intercepts
 *     (APM 15.7.1).
 *   - EXITINFO2 of an IOIO intercept, which always holds the RIP of the
 *     instruction after the IN/OUT/INS/OUTS (APM 15.10.2), NRIPS or not.
 *   - The instruction's length, when its encoding is fixed: needed without
 *     NRIPS (e.g. QEMU TCG, some nested setups).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Length in bytes of the instruction that caused an intercept with a
 * fixed-length encoding, no prefixes assumed:
 *   1: HLT (F4), ICEBP (F1)
 *   2: CPUID (0F A2), RDMSR/WRMSR (0F 32 / 0F 30), RDTSC (0F 31),
 *      RDPMC (0F 33), INVD (0F 08), WBINVD (0F 09), PAUSE (F3 90)
 *   3: the 0F 01 xx group: RDTSCP F9, MONITOR C8 / MONITORX FA,
 *      MWAIT C9 / MWAITX FB (plain and conditional), XSETBV D1, RDPRU FD,
 *      VMRUN D8, VMMCALL D9, VMLOAD DA, VMSAVE DB, STGI DC, CLGI DD,
 *      SKINIT DE, INVLPGA DF
 * 0 when the length is not fixed (IOIO - use EXITINFO2; INVLPG, MOV CR/DR,
 * exceptions, NPF, ...) or the code is unknown.
 *
 * Caveats, why NRIPS is preferred whenever the CPU has it: a redundant
 * prefix (e.g. 67h on VMRUN/VMLOAD/VMSAVE/INVLPGA/MONITOR to pick the
 * address size) makes the real instruction longer, and VMEXIT_WBINVD also
 * reports WBNOINVD, which is F3 0F 09 (3 bytes).
 */
unsigned insn_len_fixed(uint64_t exitcode);

/*
 * Next RIP after the intercepted instruction: the nRIP field if has_nrips
 * and nrip is non-zero (the CPU zeroes nRIP for intercepts it does not
 * cover), else EXITINFO2 for IOIO, else rip + insn_len_fixed() (modulo
 * 2^64; outside 64-bit mode the caller truncates to the operand size).
 * Returns 0 when unknown.
 */
uint64_t insn_next_rip(uint64_t exitcode, uint64_t rip, uint64_t nrip,
                       uint64_t exitinfo2, bool has_nrips);
