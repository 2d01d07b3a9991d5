/* TLB-flush requests (BRIEF §4): code that needs a flush records a request
 * on the vCPU; the run loop turns the requests into the TLB_CONTROL of the
 * VMCB it is about to run, where they take effect (APM 15.16). */
#pragma once
#include "hv/vcpu.h"

void tlb_request(struct vcpu *v, uint32_t requests);
void tlb_apply_requests(struct vcpu *v);
void tlb_init(bool flush_by_asid);
uint64_t tlb_flush_count(void);
