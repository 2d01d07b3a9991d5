#include "hv/nested_maps.h"
#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"
#include "hv/guest_mem.h"
#include "hv/tlb.h"

#define MAX_PROTECTED ((MSRPM_SIZE + IOPM_SIZE) / 4096)

static const uint8_t *l0_msrpm; /* what L0 protects in L1 (and in L2) */
static uint64_t protected_pages[MAX_PROTECTED];
static unsigned nprotected;
static uint64_t merges;

void nested_maps_init(const uint8_t *msrpm)
{
    l0_msrpm = msrpm;
}

uint64_t nested_maps_merges(void)
{
    return merges;
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

static void protect(struct vcpu *v, uint64_t pa, uint64_t size)
{
    for (uint64_t off = 0; off < size && nprotected < MAX_PROTECTED; off += 4096) {
        protected_pages[nprotected++] = pa + off;
        guest_mem_set_writable(pa + off, false);
    }
    tlb_npt01_changed(v); /* fewer rights: cached writable translations go */
}

static void unprotect_all(void)
{
    for (unsigned i = 0; i < nprotected; i++)
        guest_mem_set_writable(protected_pages[i], true);
    nprotected = 0; /* more rights need no flush: a stale entry just faults */
}

bool nested_maps_l1_write(struct vcpu *v, uint64_t gpa)
{
    (void)v;
    for (unsigned i = 0; i < nprotected; i++) {
        if (page_of(gpa) == protected_pages[i]) {
            unprotect_all();
            v->nested.merged_msrpm12 = v->nested.merged_iopm12 = NESTED_MAPS_NONE;
            return true;
        }
    }
    return false;
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
    unprotect_all();
    merge_msrpm(v, msrpm12);
    merge_iopm(v, iopm12);
    n->merged_msrpm12 = msrpm12;
    n->merged_iopm12 = iopm12;
    merges++;
    if (msrpm12)
        protect(v, msrpm12, MSRPM_SIZE);
    if (iopm12)
        protect(v, iopm12, IOPM_SIZE);
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
