#include "hv/vcpu_request.h"
#include "hv/apic.h"
#include "hv/percpu.h"
#include "hv/tlb.h"
#include "lib/spinlock.h"

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
        while (__atomic_load_n(&t->launched, __ATOMIC_ACQUIRE) &&
               (__atomic_load_n(&t->requests, __ATOMIC_ACQUIRE) & request)) {
            vcpu_serve_requests(self);
            cpu_relax();
        }
    }
}
