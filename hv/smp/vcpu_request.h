/* Work one CPU asks of the others (docs/design.md, "Several CPUs"). The
 * requester sets a bit in each target's vcpu.requests, makes it leave its
 * guest (an NMI kick, hv/smp/apic.c) and waits until every target has taken
 * the request, which it does at the top of its run loop, before its next
 * VMRUN, and while it waits for a SIPI. A requester serves its own
 * requests while it waits, so two CPUs asking each other never deadlock;
 * it must hold no lock while it waits. */
#pragma once
#include <stdint.h>
#include "hv/core/vcpu.h"

/* NPT01 lost rights: flush both contexts, drop NPT02 (tlb_npt01_changed). */
#define VCPU_REQ_NPT01_FLUSH (1u << 0)

/* Asks every other launched vCPU; returns once all have taken it. */
void vcpu_request_all(struct vcpu *self, uint32_t request);
/* Takes and serves what others asked of v. */
void vcpu_serve_requests(struct vcpu *v);
