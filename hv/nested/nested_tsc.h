/* L2's TSC (APM Vol. 2, 15.30.5 "TSC Ratio MSR"; VMCB offset 050h "TSC
 * Offset"). A guest reads the host's TSC times the TSC ratio MSR (8.32
 * fixed point, applied to guests only) plus its VMCB's offset.
 *
 * L0 runs L1 at ratio 1.0: L1 reads host + VMCB01's offset. L1 asks, with
 * its own TSC ratio MSR (offered where the CPU has one, virtual per vCPU)
 * and VMCB12's offset, that L2 read ratio12 * L1's TSC + offset12
 *   = ratio12 * host + ratio12 * offset01 + offset12,
 * so while L2 runs the CPU's ratio is L1's and VMCB02's offset is
 * ratio12 * offset01 + offset12. Offsets are two's complement and the
 * CPU's addition wraps modulo 2^64, so a negative offset is a large
 * unsigned one and the sum wraps the same way (tests/unit/test_nested_tsc.c). */
#pragma once
#include <stdint.h>
#include "hv/core/vcpu.h"

#define TSC_RATIO_ONE      (UINT64_C(1) << 32)    /* 1.0 */
#define TSC_RATIO_RESERVED (~UINT64_C(0) << 40)   /* bits 63:40: #GP if set */

static inline uint64_t nested_tsc_offset(uint64_t offset01, uint64_t offset12, uint64_t ratio12)
{
    __int128 scaled = ((__int128)(int64_t)offset01 * (__int128)ratio12) >> 32;
    return (uint64_t)scaled + offset12;
}

/* What a guest reads with RDTSC/RDTSCP when the host's TSC is `host`, the
 * CPU's TSC ratio `ratio` and its VMCB's offset `offset` (15.30.5: the
 * ratio scales the host's TSC, the offset is added after, modulo 2^64):
 * for L0 performing L2's read itself (hv/nested/nested_rdtscp.c). */
static inline uint64_t nested_tsc_guest(uint64_t host, uint64_t ratio, uint64_t offset)
{
    return (uint64_t)(((unsigned __int128)host * ratio) >> 32) + offset;
}

/* The CPU's TSC ratio becomes `ratio` (L1's for L2, 1.0 for L1): one WRMSR
 * when it changes, nothing on a CPU without the MSR (L1's stays 1.0). */
void nested_tsc_ratio_write(struct vcpu *v, uint64_t ratio);
static inline void nested_tsc_ratio_load(struct vcpu *v, uint64_t ratio)
{
    if (__builtin_expect(v->tsc_ratio_hw != ratio, 0))
        nested_tsc_ratio_write(v, ratio);
}
