/* L2's TSC offset (APM Vol. 2, ch. 15, "TSC Offset"; VMCB offset 050h): a guest reads the
 * host's TSC plus its VMCB's offset. L1 reads host + VMCB01's offset and
 * asks, in VMCB12, that L2 read L1's TSC + VMCB12's offset; so VMCB02 gets
 * the sum. Offsets are two's complement and the CPU's addition wraps
 * modulo 2^64, so a negative offset is a large unsigned one and the sum
 * wraps the same way (tests/unit/test_nested_tsc.c). */
#pragma once
#include <stdint.h>

static inline uint64_t nested_tsc_offset(uint64_t offset01, uint64_t offset12)
{
    return offset01 + offset12;
}
