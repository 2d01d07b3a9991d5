/* The CPU's own time-stamp counter and TSC_AUX as the hypervisor reads
 * them in host mode, where neither the TSC ratio nor a VMCB's offset
 * applies (APM Vol. 2, 15.30.5: the ratio scales guests' reads only).
 * A seam of its own so that the host-side tests give fixed values. */
#pragma once
#include <stdint.h>

uint64_t host_tsc_read(void);
/* MSR C000_0103h (APM Vol. 3, RDTSCP): L0 never writes it and does not
 * intercept it for L1 (hv/exit/l1_intercepts.h), so it holds what L1 wrote,
 * which is what L2 reads too: VMRUN does not switch it (APM Vol. 2, 15.5.1
 * lists the state it loads; TSC_AUX is not among it). */
uint32_t host_tsc_aux_read(void);
