/* What a vCPU does at the top of its run loop for requests other CPUs
 * left: an INIT resets it to the architectural INIT state and keeps it in
 * the hypervisor until a SIPI, which starts it in real mode at vector *
 * 4096 (APM Vol. 2, 14.1.3 "Processor Initialization State"; 16.5). */
#pragma once
#include "hv/core/vcpu.h"

void vcpu_service_requests_slow(struct vcpu *v);
/* The run loop's check, before every VMRUN: one load each when nothing
 * waits (the usual case). */
static inline void vcpu_service_requests(struct vcpu *v)
{
    if (__builtin_expect(__atomic_load_n(&v->requests, __ATOMIC_ACQUIRE) != 0 ||
                             __atomic_load_n(&v->ap.word, __ATOMIC_ACQUIRE) != AP_RUNNING,
                         0))
        vcpu_service_requests_slow(v);
}
/* An NMI exit: the NMI is taken by the host (STGI/CLGI) and true when it
 * was another CPU's kick, nothing for the guest. */
bool vcpu_nmi_was_kick(struct vcpu *v);
