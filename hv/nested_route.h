/* Exit routing for L2: does L1's VMCB12 intercept this exit? Pure, so it
 * is unit-tested on the host (tests/unit/test_nested_route.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

/* code: the exit code L0 got while L2 ran. map_bit: for MSR and IOIO exits,
 * the bit of L1's own MSRPM/IOPM for this access (the caller reads it from
 * L1 memory only for those codes); ignored otherwise. Intercept bit n of
 * each vector maps to an exit code range (APM Appendix C): CR 00h-1Fh, DR
 * 20h-3Fh, exceptions 40h-5Fh, vector 0Ch 60h-7Fh, 10h 80h-9Fh, 14h
 * A0h-BFh. NPF and the codes above are not intercept bits: false. */
bool nested_l1_intercepts(const struct vmcb_control *c12, uint64_t code, bool map_bit);
/* An exit whose L1 intercept depends on L1's permission map. */
bool nested_exit_uses_map(uint64_t code);
