#include "hv/nested_maps.h"
#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"
#include "hv/guest_mem.h"
#include "hv/percpu.h"
#include "hv/tlb.h"
#include "hv/vcpu_request.h"
#include "lib/spinlock.h"

static const uint8_t *l0_msrpm; /* what L0 protects in L1 (and in L2) */
/* Each vCPU keeps its own list of protected pages, but NPT01 is shared:
 * one vCPU's L1 may write a page another vCPU protects, and two vCPUs may
 * protect the same page. The lists and the protection change under this
 * lock; merges are rare (a new pair of maps), so one lock is enough. */
static struct spinlock maps_lock;

void nested_maps_init(const uint8_t *msrpm)
{
    l0_msrpm = msrpm;
}

uint64_t nested_maps_merges(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < vcpu_count(); i++)
        total += vcpu_by_index(i)->nested.merges;
    return total;
}

static uint64_t page_of(uint64_t pa) { return pa & ~0xFFFULL; }

bool nested_maps_valid(const struct vmcb_control *c12)
{
    if ((c12->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) &&
        !l1_ram_ok(page_of(c12->msrpm_base_pa), MSRPM_SIZE))
        return false;
    if ((c12->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) &&
        !l1_ram_ok(page_of(c12->iopm_base_pa), IOPM_SIZE))
        return false;
    return true;
}

static bool protected_by(const struct nested *n, uint64_t page)
{
    for (unsigned i = 0; i < n->nprotected; i++)
        if (n->protected_pages[i] == page)
            return true;
    return false;
}

/* Is the page protected for any vCPU but `except`? */
static bool protected_by_other(const struct vcpu *except, uint64_t page)
{
    for (unsigned i = 0; i < vcpu_count(); i++) {
        const struct vcpu *o = vcpu_by_index(i);
        if (o != except && protected_by(&o->nested, page))
            return true;
    }
    return false;
}

static void protect(struct vcpu *v, uint64_t pa, uint64_t size)
{
    struct nested *n = &v->nested;
    for (uint64_t off = 0; off < size && n->nprotected < NESTED_MAX_PROTECTED; off += 4096) {
        n->protected_pages[n->nprotected++] = pa + off;
        guest_mem_set_writable(pa + off, false);
    }
    tlb_npt01_changed(v); /* fewer rights: cached writable translations go */
}

/* The other CPUs may hold writable translations of the pages just
 * protected: they flush before this CPU relies on the protection (its
 * next VMRUN of L2 with the merge). Called with no lock held. */
static void protect_everywhere(struct vcpu *v)
{
    vcpu_request_all(v, VCPU_REQ_NPT01_FLUSH);
}

/* Drops v's protections (a page another vCPU still protects stays so). */
static void unprotect_all(struct vcpu *v)
{
    struct nested *n = &v->nested;
    unsigned count = n->nprotected;
    n->nprotected = 0;
    for (unsigned i = 0; i < count; i++)
        if (!protected_by_other(v, n->protected_pages[i]))
            guest_mem_set_writable(n->protected_pages[i], true);
    /* more rights need no flush: a stale entry just faults */
}

/* A write (by any vCPU's L1 or L2) to a protected page: every vCPU that
 * merged it drops its merge, and the page becomes writable again. */
bool nested_maps_l1_write(struct vcpu *v, uint64_t gpa)
{
    (void)v;
    bool hit = false;
    spin_lock(&maps_lock);
    for (unsigned i = 0; i < vcpu_count(); i++) {
        struct vcpu *o = vcpu_by_index(i);
        if (!protected_by(&o->nested, page_of(gpa)))
            continue;
        hit = true;
        unprotect_all(o);
        __atomic_store_n(&o->nested.merged_iopm12, NESTED_MAPS_NONE, __ATOMIC_RELAXED);
        __atomic_store_n(&o->nested.merged_msrpm12, NESTED_MAPS_NONE, __ATOMIC_RELEASE);
    }
    spin_unlock(&maps_lock);
    return hit;
}

/* L0's MSR bits always; L1's only when it sets MSR_PROT. I/O: only L1's
 * (L0 watches no port in L2). */
static void merge_msrpm(struct vcpu *v, uint64_t msrpm12)
{
    const volatile uint8_t *l1 = (const volatile uint8_t *)msrpm12;
    for (unsigned i = 0; i < MSRPM_SIZE; i++)
        v->nested.msrpm02[i] = l0_msrpm[i] | (msrpm12 ? l1[i] : 0);
}

static void merge_iopm(struct vcpu *v, uint64_t iopm12)
{
    const volatile uint8_t *l1 = (const volatile uint8_t *)iopm12;
    for (unsigned i = 0; i < IOPM_SIZE; i++)
        v->nested.iopm02[i] = iopm12 ? l1[i] : 0;
}

void nested_maps_merge(struct vcpu *v, const struct vmcb_control *c12)
{
    uint64_t msrpm12 = (c12->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) ? page_of(c12->msrpm_base_pa) : 0;
    uint64_t iopm12 = (c12->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) ? page_of(c12->iopm_base_pa) : 0;
    struct nested *n = &v->nested;
    if (msrpm12 == n->merged_msrpm12 && iopm12 == n->merged_iopm12)
        return; /* the cached merge is still L1's maps */
    spin_lock(&maps_lock);
    unprotect_all(v);
    /* Protected before the merge reads them: a write from another CPU
     * in between drops this merge again instead of going unseen. */
    n->merged_msrpm12 = msrpm12;
    n->merged_iopm12 = iopm12;
    if (msrpm12)
        protect(v, msrpm12, MSRPM_SIZE);
    if (iopm12)
        protect(v, iopm12, IOPM_SIZE);
    spin_unlock(&maps_lock);
    if (msrpm12 || iopm12)
        protect_everywhere(v);
    merge_msrpm(v, msrpm12);
    merge_iopm(v, iopm12);
    n->merges++;
}

bool nested_maps_l1_msr(struct vcpu *v, uint32_t msr, bool write)
{
    return msrpm_intercepts((const uint8_t *)v->nested.merged_msrpm12, msr, write);
}

bool nested_maps_l1_io(struct vcpu *v, uint64_t info1)
{
    unsigned size = (info1 & SVM_IOIO_SZ32) ? 4 : (info1 & SVM_IOIO_SZ16) ? 2 : 1;
    return iopm_intercepts((const uint8_t *)v->nested.merged_iopm12,
                           (uint16_t)(info1 >> SVM_IOIO_PORT_SHIFT), size);
}
