/* VMCB02's MSR and I/O permission maps: L1's maps (from VMCB12) merged
 * with L0's own intercepts. The merge is cached and redone only when L1
 * points VMCB12 at other maps or writes to the ones merged: their pages are
 * write-protected in NPT01 while cached, so a nested VMRUN costs no copy of
 * 20 KiB of maps (docs/design.md, "Nested SVM"). */
#pragma once
#include <stdbool.h>
#include "hv/core/vcpu.h"

void nested_maps_init(const uint8_t *l0_msrpm);
/* Validates L1's map addresses: false (-> VMEXIT_INVALID) if a map VMCB12
 * asks for does not fit below the physical-address limit. Map bytes outside
 * L1's RAM (the hypervisor's region included) read as all ones. */
bool nested_maps_valid(const struct vmcb_control *c12);
void nested_maps_merge(struct vcpu *v, const struct vmcb_control *c12);
/* No merge cached (none yet, or L1 wrote to a merged map since). */
#define NESTED_MAPS_NONE (~0ULL)
static inline bool nested_maps_dropped(const struct nested *n)
{
    return n->merged_msrpm12 == NESTED_MAPS_NONE;
}
/* L1's own map bits, read from L1 memory (VMCB12's addresses), for
 * routing an L2 exit. */
bool nested_maps_l1_msr(struct vcpu *v, uint32_t msr, bool write);
bool nested_maps_l1_io(struct vcpu *v, uint64_t ioio_exitinfo1);
/* An L1 write hit a write-protected map page: drop the cache, unprotect.
 * False if gpa is not such a page. */
bool nested_maps_l1_write(struct vcpu *v, uint64_t gpa);
/* L0 itself wrote L1's page at gpa on L1's behalf (a #VMEXIT into VMCB12,
 * VMSAVE): through the identity map, not NPT01, so no write fault told the
 * merges. A merge that read the page is dropped as an L1 write drops it.
 * Every reflected #VMEXIT writes VMCB12: the usual answer (its page is no
 * map) is remembered until some vCPU protects a page (a generation count
 * of protections, read before the lists are), so the fast path is inline
 * and walks no vCPU's list. */
extern uint64_t nested_maps_protect_gen;
void nested_maps_l0_wrote_slow(struct vcpu *v, uint64_t page, uint64_t gen);
static inline void nested_maps_l0_wrote(struct vcpu *v, uint64_t gpa)
{
    uint64_t page = gpa & ~0xFFFULL;
    uint64_t gen = __atomic_load_n(&nested_maps_protect_gen, __ATOMIC_ACQUIRE);
    if (page != v->nested.unprotected_page || gen != v->nested.unprotected_gen)
        nested_maps_l0_wrote_slow(v, page, gen);
}
uint64_t nested_maps_merges(void);
/* L2 wrote a merged map: step it over the write, merge again after it. */
void nested_maps_step_begin(struct vcpu *v);
bool nested_maps_step_end(struct vcpu *v, uint64_t exitcode);
