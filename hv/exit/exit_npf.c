/* Nested page faults in L1. NPT01 maps all of the guest-physical space but
 * the hypervisor's region, and write-protects the permission maps L1 gave
 * for its L2 while their merge is cached (hv/nested/nested_maps.c): those are the
 * only expected #NPFs, with writes to the local APIC's page, which NPT01
 * makes read-only so that L1's INIT and SIPI can be emulated (hv/smp/apic.c). */
#include "hv/exit/exit_dispatch.h"
#include "arch/x86/svm.h"
#include "hv/smp/apic.h"
#include "hv/core/exception.h"
#include "hv/memory/guest_mem.h"
#include "hv/memory/iommu.h"
#include "hv/nested/nested_maps.h"

#define NPF_WRITE (1ULL << 1) /* EXITINFO1 bit 1: the access was a write */

void exit_npf(struct vcpu *v)
{
    const struct vmcb_control *c = &v->vmcb.va->control;
    iommu_poll(); /* a slow exit anyway: report what devices were refused */
    if (apic_mmio_fault(v, c->exitinfo2, c->exitinfo1))
        return; /* the write was performed (or refused) for L1 */
    if ((c->exitinfo1 & NPF_WRITE) && nested_maps_l1_write(v, c->exitinfo2))
        return; /* the write retries on the now writable page */
    if (guest_mem_hv_access(c->exitinfo2, v->vmcb.va->save.rip, c->exitinfo1 & NPF_WRITE))
        return; /* the access retries and now completes on the decoy page */
    vcpu_dump(v, "unexpected nested page fault in L1");
    hv_fatal_stop();
}
