#include "hv/nested/nested_maps.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "arch/x86/svm_bitmaps.h"
#include "hv/memory/guest_mem.h"
#include "hv/exit/l1_intercepts.h"
#include "hv/nested/nested_gif.h"
#include "hv/core/percpu.h"
#include "hv/tlb/tlb.h"
#include "hv/smp/vcpu_request.h"
#include "lib/spinlock.h"

static const uint8_t *l0_msrpm; /* what L0 protects in L1 (and in L2) */
/* Each vCPU keeps its own list of protected pages, but NPT01 is shared:
 * one vCPU's L1 may write a page another vCPU protects, and two vCPUs may
 * protect the same page. The lists and the protection change under this
 * lock; merges are rare (a new pair of maps), so one lock is enough. */
static struct spinlock maps_lock;
/* Counts the pages ever protected (under maps_lock): a vCPU that found a
 * page unprotected knows the answer still holds while this has not moved
 * (nested_maps_l0_wrote); unprotecting never makes it wrong. */
uint64_t nested_maps_protect_gen;

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

/* The CPU reads a map wherever its base points (APM 15.10, 15.11): only
 * one that does not fit below the physical-address limit is refused
 * (VMEXIT_INVALID, as KVM also checks). Bytes outside L1's RAM (MMIO, no
 * memory, the hypervisor's region) read as all ones: what unbacked memory
 * reads as, and the safe answer (intercept). */
bool nested_maps_valid(const struct vmcb_control *c12)
{
    uint64_t limit = guest_phys_limit();
    if ((c12->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) &&
        page_of(c12->msrpm_base_pa) + MSRPM_SIZE > limit)
        return false;
    if ((c12->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) &&
        page_of(c12->iopm_base_pa) + IOPM_SIZE > limit)
        return false;
    return true;
}

static bool page_is_l1_ram(uint64_t page)
{
    return l1_ram_ok(page, 4096);
}

/* One byte of L1's map at base (all ones outside L1's RAM). */
static uint8_t l1_map_byte(uint64_t base, uint32_t off)
{
    uint64_t pa = base + off;
    return page_is_l1_ram(page_of(pa)) ? *(const volatile uint8_t *)pa : 0xFF;
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
        if (!page_is_l1_ram(pa + off))
            continue; /* read as all ones, whatever is written there */
        n->protected_pages[n->nprotected++] = pa + off;
        __atomic_add_fetch(&nested_maps_protect_gen, 1, __ATOMIC_RELEASE);
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

/* Without the lock: a merge protects its pages, then asks every CPU to
 * serve a request (protect_everywhere), and only then reads the maps. A
 * CPU that wrote before serving it wrote before that read; one that
 * serves it first sees the pages protected here. Taken only on a hit. */
/* gen was read before the lists: a page protected during the walk moves
 * it, and the next write walks again. */
void nested_maps_l0_wrote_slow(struct vcpu *v, uint64_t page, uint64_t gen)
{
    if (protected_by_other(NULL, page)) {
        nested_maps_l1_write(v, page);
        return;
    }
    v->nested.unprotected_page = page;
    v->nested.unprotected_gen = gen;
}

/* dst = l0 | L1's map at l1_base (0: L1 has none, l0 NULL: nothing of
 * L0's), page by page so that a page outside L1's RAM reads as all ones. */
static void merge_map(uint8_t *dst, const uint8_t *l0, uint64_t l1_base, unsigned size)
{
    for (unsigned pg = 0; pg < size; pg += 4096) {
        const volatile uint8_t *l1 = (const volatile uint8_t *)(l1_base + pg);
        bool ram = l1_base && page_is_l1_ram(l1_base + pg);
        uint8_t fill = l1_base ? 0xFF : 0; /* for a page that is not L1's RAM */
        for (unsigned i = pg; i < pg + 4096; i++)
            dst[i] = (l0 ? l0[i] : 0) | (ram ? l1[i - pg] : fill);
    }
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
    /* L0's MSR bits always; L1's only when it sets MSR_PROT. I/O: only
     * L1's (L0 watches no port in L2). */
    merge_map(v->nested.msrpm02, l0_msrpm, msrpm12, MSRPM_SIZE);
    merge_map(v->nested.iopm02, NULL, iopm12, IOPM_SIZE);
    n->merges++;
}

/* Read from L1's memory at each exit (after a write, before the merge
 * catches up, they are the truth): the bits of L1's own maps as VMCB12's
 * copy points at them. */
bool nested_maps_l1_msr(struct vcpu *v, uint32_t msr, bool write)
{
    uint32_t byte;
    unsigned bit;
    if (!msrpm_locate(msr, &byte, &bit))
        return true; /* MSRs the map does not cover always exit (15.11) */
    uint8_t b = l1_map_byte(page_of(v->nested.vmcb12->control.msrpm_base_pa), byte);
    return (b >> (bit + (write ? 1 : 0))) & 1;
}

/* An access exits if any of its ports' bits is set (15.10.2); ports past
 * FFFFh use the map's last bits (IOPM bit 10000h on). */
bool nested_maps_l1_io(struct vcpu *v, uint64_t info1)
{
    unsigned size = (info1 & SVM_IOIO_SZ32) ? 4 : (info1 & SVM_IOIO_SZ16) ? 2 : 1;
    uint32_t port = (uint16_t)(info1 >> SVM_IOIO_PORT_SHIFT);
    uint64_t base = page_of(v->nested.vmcb12->control.iopm_base_pa);
    for (uint32_t p = port; p < port + size; p++)
        if ((l1_map_byte(base, p / 8) >> (p % 8)) & 1)
            return true;
    return false;
}

/* The step relies on #DB exits, which L0 always intercepts in VMCB02. */
_Static_assert(L0_INTERCEPT_EXCEPTIONS & (1u << VEC_DB), "#DB intercepted");

/* L2 wrote a page that L0 write-protects for a merge (hv/nested/nested.c): the
 * write dropped the merge and made the page writable. L2 runs on with TF
 * set and #DB intercepted, and interrupts, V_IRQ and NMIs held as while
 * its GIF is clear (hv/nested/nested_gif.c) so that nothing runs before the
 * write (an exception of the write itself still can: its handler then runs
 * first and the step ends after its IRET); at
 * the single-step trap after it the maps are merged again, from what L1's
 * maps now hold, before L2 goes on: the CPU checks a map as it is at each
 * access (15.10, 15.11), and a stale merge would let L2 pass a port or MSR
 * that L1 has just begun to watch. Other exits meanwhile (an NPF of the
 * write's second page, ...) are handled as usual, the step goes on. */
void nested_maps_step_begin(struct vcpu *v)
{
    struct nested *n = &v->nested;
    struct vmcb *v02 = n->vmcb02.va;
    if (n->map_step)
        return;
    n->map_step = true;
    n->map_step_tf = (v02->save.rflags & RFLAGS_TF) != 0;
    v02->save.rflags |= RFLAGS_TF; /* its trap: a #DB exit, always intercepted */
    nested_hold_update(v);
}

/* The step ends at a #DB exit (code), or when L2 is left (code 0). True
 * when the #DB was the step's own trap and nothing else: consumed. A #DB
 * of L2's own (its TF, or a breakpoint that fired on the write) is routed
 * as any other (hv/nested/nested.c). */
bool nested_maps_step_end(struct vcpu *v, uint64_t code)
{
    struct nested *n = &v->nested;
    struct vmcb *v02 = n->vmcb02.va;
    n->map_step = false;
    if (!n->map_step_tf)
        v02->save.rflags &= ~RFLAGS_TF;
    nested_hold_update(v);
    nested_maps_merge(v, &n->vmcb12->control);
    if (code != VMEXIT_EXCP(VEC_DB) || n->map_step_tf)
        return false;
    bool breakpoints = (v02->save.dr6 & DR6_B0_B3) != 0;
    v02->save.dr6 &= ~DR6_BS;
    return !breakpoints;
}
