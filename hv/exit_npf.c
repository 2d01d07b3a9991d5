/* Nested page faults in L1. NPT01 maps all of the guest-physical space but
 * the hypervisor's region, and write-protects the permission maps L1 gave
 * for its L2 while their merge is cached (hv/nested_maps.c): those are the
 * only expected #NPFs. */
#include "hv/exit_dispatch.h"
#include "arch/x86/svm.h"
#include "hv/exception.h"
#include "hv/guest_mem.h"
#include "hv/nested_maps.h"

#define NPF_WRITE (1ULL << 1) /* EXITINFO1 bit 1: the access was a write */

void exit_npf(struct vcpu *v)
{
    const struct vmcb_control *c = &v->vmcb->control;
    if ((c->exitinfo1 & NPF_WRITE) && nested_maps_l1_write(v, c->exitinfo2))
        return; /* the write retries on the now writable page */
    if (guest_mem_hv_access(c->exitinfo2, v->vmcb->save.rip, c->exitinfo1 & NPF_WRITE))
        return; /* the access retries and now completes on the decoy page */
    vcpu_dump(v, "unexpected nested page fault in L1");
    hv_fatal_stop();
}
