/* Nested page faults in L1. NPT01 maps all of the guest-physical space but
 * the hypervisor's region, so the only expected #NPF is an access there. */
#include "hv/exit_dispatch.h"
#include "arch/x86/svm.h"
#include "hv/exception.h"
#include "hv/guest_mem.h"

#define NPF_WRITE (1ULL << 1) /* EXITINFO1 bit 1: the access was a write */

void exit_npf(struct vcpu *v)
{
    const struct vmcb_control *c = &v->vmcb->control;
    if (guest_mem_hv_access(c->exitinfo2, v->vmcb->save.rip, c->exitinfo1 & NPF_WRITE))
        return; /* the access retries and now completes on the decoy page */
    vcpu_dump(v, "unexpected nested page fault in L1");
    hv_fatal_stop();
}
