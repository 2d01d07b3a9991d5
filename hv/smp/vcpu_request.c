#include "hv/smp/vcpu_request.h"
#include "hv/smp/apic.h"
#include "hv/core/percpu.h"
#include "hv/tlb/tlb.h"
#include "hv/core/log.h"
#include "lib/spinlock.h"

/* About a second on a current CPU; far longer than any answer takes. */
#define REQUEST_SLOW_SPINS 100000000ULL

/* Served first, cleared after: a requester that sees its bit clear knows
 * the work is recorded (the flush owed before this CPU's next VMRUN). */
void vcpu_serve_requests(struct vcpu *v)
{
    uint32_t req = __atomic_load_n(&v->requests, __ATOMIC_ACQUIRE);
    if (!req)
        return;
    if (req & VCPU_REQ_NPT01_FLUSH)
        tlb_npt01_changed(v);
    __atomic_fetch_and(&v->requests, ~req, __ATOMIC_ACQ_REL);
}

void vcpu_request_all(struct vcpu *self, uint32_t request)
{
    unsigned n = vcpu_count();
    for (unsigned i = 0; i < n; i++) {
        struct vcpu *t = vcpu_by_index(i);
        if (t == self || !__atomic_load_n(&t->launched, __ATOMIC_ACQUIRE))
            continue;
        __atomic_fetch_or(&t->requests, request, __ATOMIC_ACQ_REL);
        apic_kick(t);
    }
    for (unsigned i = 0; i < n; i++) {
        struct vcpu *t = vcpu_by_index(i);
        if (t == self)
            continue;
        /* A target that does not answer (its NMI could not be sent, e.g.
         * L1 disabled this CPU's APIC) is named once, and still waited for:
         * going on would trust a TLB it may still hold. */
        for (uint64_t spins = 0; __atomic_load_n(&t->launched, __ATOMIC_ACQUIRE) &&
                                 (__atomic_load_n(&t->requests, __ATOMIC_ACQUIRE) & request);
             spins++) {
            vcpu_serve_requests(self);
            cpu_relax();
            if (spins == REQUEST_SLOW_SPINS)
                pr_warn("cpu%u has not taken a request after %lu spins: still waiting",
                        t->id, spins);
        }
    }
}
