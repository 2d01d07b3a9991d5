/* Decoding RDTSC (0F 31) and RDTSCP (0F 01 F9) (APM Vol. 3, "RDTSC",
 * "RDTSCP"), for L2's RDTSC exits on a CPU without decode assists, where
 * the exit code must be trusted to say which of the two ran. QEMU's TCG
 * (10.0) does not: its RDTSCP checks the RDTSC intercept and exits with the
 * RDTSC code (target/i386/tcg/misc_helper.c, helper_rdtsc(), which the
 * translation of RDTSCP calls), where a CPU checks the RDTSCP intercept
 * and exits with VMEXIT_RDTSCP, 87h (APM Vol. 2, 15.9 "Instruction
 * Intercepts"; Appendix C). hv/nested/nested_rdtscp.c reads the instruction to
 * give L1 the exit a CPU gives. Pure.
 *
 * Prefixes: neither instruction has an operand that a prefix could change
 * (RDTSCP writes EDX:EAX and ECX, zero-extended in 64-bit mode, whatever
 * the operand size), so operand- and address-size, segment overrides,
 * REP/REPNE and, in 64-bit code, a REX right before the opcode are
 * accepted and only counted in the length, as TCG executes them. LOCK
 * makes either #UD (APM Vol. 3, 1.2.5), which comes before any intercept
 * (APM Vol. 2, 15.7): not one of them. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct rdtscp_insn {
    uint8_t len;  /* bytes, prefixes included */
    bool rdtscp;  /* 0F 01 F9; else RDTSC, 0F 31 */
};

/* bytes: what was fetched at RIP (avail of them). long_mode: 64-bit code
 * (REX prefixes exist), else 16/32-bit code. False: not one of them, and
 * *out is left as it was (hv/nested/nested_rdtscp.c keeps its default there). */
bool rdtscp_decode(const uint8_t *bytes, unsigned avail, bool long_mode, struct rdtscp_insn *out);
