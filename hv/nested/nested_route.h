/* Exit routing for L2: does L1's VMCB12 intercept this exit? Pure, so it
 * is unit-tested on the host (tests/unit/test_nested_route.c); inline,
 * since every L2 exit asks it first. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/svm.h"
#include "arch/x86/vmcb.h"

/* code: the exit code L0 got while L2 ran. map_bit: for MSR and IOIO exits,
 * the bit of L1's own MSRPM/IOPM for this access (the caller reads it from
 * L1 memory only for those codes); ignored otherwise. Intercept bit n of
 * each vector maps to an exit code range (APM Appendix C): CR 00h-1Fh, DR
 * 20h-3Fh, exceptions 40h-5Fh, vector 0Ch 60h-7Fh, 10h 80h-9Fh, 14h
 * A0h-BFh. NPF and the codes above are not intercept bits: false. */
static inline bool nested_l1_intercepts(const struct vmcb_control *c12, uint64_t code,
                                        bool map_bit)
{
    if (code == VMEXIT_MSR)
        return (c12->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) && map_bit;
    if (code == VMEXIT_IOIO)
        return (c12->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) && map_bit;
    if (code < 0x20)
        return (c12->intercept_cr >> code) & 1;
    if (code < 0x40)
        return (c12->intercept_dr >> (code - 0x20)) & 1;
    if (code < 0x60)
        return (c12->intercept_exceptions >> (code - 0x40)) & 1;
    if (code < 0x80)
        return (c12->intercept_misc1 >> (code - 0x60)) & 1;
    if (code < 0xA0)
        return (c12->intercept_misc2 >> (code - 0x80)) & 1;
    if (code < 0xC0)
        return (c12->intercept_misc3 >> (code - 0xA0)) & 1;
    return false;
}

/* An exit whose L1 intercept depends on L1's permission map. */
static inline bool nested_exit_uses_map(uint64_t code)
{
    return code == VMEXIT_MSR || code == VMEXIT_IOIO;
}
