/* The legacy prefixes the hypervisor's small decoders skip over (APM
 * Vol. 3, 1.2 "Instruction Prefixes"): operand and address size, and the
 * segment overrides. Each decoder adds what matters to its instructions
 * (LOCK for CR8 and stores, REP/REPNE for RDTSC/RDTSCP). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

static inline bool insn_size_or_segment_prefix(uint8_t b)
{
    switch (b) {
    case 0x66: case 0x67:                                             /* sizes */
    case 0x2E: case 0x36: case 0x3E: case 0x26: case 0x64: case 0x65: /* segments */
        return true;
    default:
        return false;
    }
}
