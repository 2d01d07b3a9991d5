#include "hv/memory/guest_mem.h"
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "arch/x86/svm.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/memory/npt.h"
#include "hv/nested/npt02.h"
#include "hv/core/percpu.h"
#include "hv/tlb/tlb.h"
#include "hv/nested/nested.h"
#include "hv/nested/nested_maps.h"
#include "hv/smp/apic.h"
#include "hv/core/exception.h"
#include "lib/spinlock.h"

#define NPT_MAX_PHYS_BITS 48 /* 4-level nested paging */
#define DECOY_FILL 0xFFFFFFFFFFFFFFFFULL

static uint64_t npt01_root, phys_limit, host_map_top;
static bool gbpages; /* 1 GiB pages, for NPT01 and as L1 sees them in NPT12 */
static uint64_t decoy_pa, hv_access_count;
/* NPT01 is shared by every vCPU: its changes (a decoy page, a write
 * protection) are made under this lock. */
static struct spinlock npt01_lock;
static struct hv_ram_range ram[HV_MAX_RAM_RANGES]; /* sorted by base */
static uint32_t nram;
/* MMIO that only the hypervisor may reach (the IOMMUs' registers): out of
 * NPT01 like the region, with the same decoy outcome for L1. */
#define MAX_PROTECTED_MMIO HV_MAX_IOMMUS
static struct hv_ram_range protected_mmio[MAX_PROTECTED_MMIO];
static uint32_t nprotected_mmio;

static void *npt_alloc_page(void *ctx, uint64_t *pa)
{
    (void)ctx;
    return hv_alloc_zeroed(1, pa);
}

static void *npt_pa_to_va(void *ctx, uint64_t pa)
{
    (void)ctx;
    return hv_pa_to_va(pa);
}

static const struct npt_mem npt_mem = { npt_alloc_page, npt_pa_to_va, 0 };

/* The whole guest-physical space the CPU can address (CPUID 0x80000008),
 * not just RAM: PCI BARs may sit anywhere below MAXPHYADDR. */
static uint64_t phys_space_top(void)
{
    unsigned bits = cpuid(0x80000008u, 0).eax & 0xFF;
    if (bits > NPT_MAX_PHYS_BITS || bits < 32)
        bits = NPT_MAX_PHYS_BITS;
    return 1ULL << bits;
}

/* The firmware's list, sorted by base (the UEFI spec does not promise an
 * order), so l1_ram_ok() can search it by halves. */
static void ram_sort(const struct hv_boot_info *info)
{
    nram = info->nram < HV_MAX_RAM_RANGES ? info->nram : HV_MAX_RAM_RANGES;
    for (uint32_t i = 0; i < nram; i++) {
        struct hv_ram_range r = info->ram[i];
        uint32_t j = i;
        for (; j > 0 && ram[j - 1].base > r.base; j--)
            ram[j] = ram[j - 1];
        ram[j] = r;
    }
}

bool guest_mem_init(const struct hv_boot_info *info)
{
    ram_sort(info);
    host_map_top = info->phys_map_top;
    phys_limit = phys_space_top();
    gbpages = cpu_has_1g_pages();
    npt01_root = npt_build_identity(&npt_mem, phys_limit, info->region_pa,
                                    info->region_size, gbpages);
    uint64_t *decoy = npt_alloc_page(0, &decoy_pa);
    if (!npt01_root || !decoy)
        return false;
    for (int i = 0; i < 512; i++)
        decoy[i] = DECOY_FILL;
    pr_info("NPT01: identity map of %lu GiB guest-physical, %s pages, "
            "hypervisor region %#lx-%#lx left out, %lu table pages",
            phys_limit >> 30, gbpages ? "1 GiB" : "2 MiB", info->region_pa,
            info->region_pa + info->region_size - 1, npt_table_pages(&npt_mem, npt01_root));
    return true;
}

uint64_t guest_mem_npt01_root(void) { return npt01_root; }
uint64_t guest_phys_limit(void) { return phys_limit; }
uint64_t guest_mem_host_map_top(void) { return host_map_top; }
uint64_t guest_mem_hv_accesses(void) { return hv_access_count; }
uint64_t guest_mem_table_pages(void) { return npt_table_pages(&npt_mem, npt01_root); }

static bool in_range(uint32_t i, uint64_t gpa, uint64_t len)
{
    return gpa >= ram[i].base && gpa + len <= ram[i].base + ram[i].size;
}

/* The range that matched last comes first (a nested VMRUN asks about the
 * same VMCB12 every time), then a search by halves of the sorted list. */
bool l1_ram_ok(uint64_t gpa, uint64_t len)
{
    static uint32_t last; /* a hint only: any CPU may overwrite it */
    if (len == 0 || gpa + len < gpa || guest_mem_l1_barred(gpa, len))
        return false;
    uint32_t hint = __atomic_load_n(&last, __ATOMIC_RELAXED);
    if (hint < nram && in_range(hint, gpa, len))
        return true;
    uint32_t lo = 0, hi = nram; /* the last range with base <= gpa */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (ram[mid].base <= gpa)
            lo = mid;
        else
            hi = mid;
    }
    if (nram && in_range(lo, gpa, len)) {
        __atomic_store_n(&last, lo, __ATOMIC_RELAXED);
        return true;
    }
    return false;
}

/* The defined outcome of an L1 access to the hypervisor's memory (or to
 * MMIO it protects, guest_mem_protect_mmio()): the page
 * is logged once and then backed, for L1, by a decoy page (filled with
 * all-ones, like a read from non-existent memory; L1's writes land there
 * and nowhere else). The instruction then completes normally, so no
 * instruction decoding is needed, and L1 never sees the hypervisor's data.
 * The region is also reserved in the UEFI memory map, so a correct OS never
 * goes there. */
bool guest_mem_protect_mmio(uint64_t pa, uint64_t size)
{
    if (nprotected_mmio == MAX_PROTECTED_MMIO)
        return false;
    /* Recorded first, so that a failure half way is undone whole. */
    protected_mmio[nprotected_mmio++] = (struct hv_ram_range){ pa & ~0xFFFULL, size };
    spin_lock(&npt01_lock);
    bool ok = true;
    for (uint64_t p = pa & ~0xFFFULL; ok && p < pa + size; p += 4096)
        ok = npt_map_4k(&npt_mem, npt01_root, p, 0, 0);
    spin_unlock(&npt01_lock);
    return ok;
}

void guest_mem_unprotect_mmio(void)
{
    spin_lock(&npt01_lock);
    for (uint32_t i = 0; i < nprotected_mmio; i++) {
        const struct hv_ram_range *r = &protected_mmio[i];
        for (uint64_t p = r->base; p < r->base + r->size; p += 4096)
            if (!npt_map_4k(&npt_mem, npt01_root, p, p, NPT_RWX))
                break; /* the split is there: cannot fail for pages it made */
    }
    nprotected_mmio = 0;
    spin_unlock(&npt01_lock);
}

bool guest_mem_l1_barred(uint64_t gpa, uint64_t len)
{
    if (hv_owns_pa(gpa, len))
        return true;
    for (uint32_t i = 0; i < nprotected_mmio; i++)
        if (gpa < protected_mmio[i].base + protected_mmio[i].size &&
            gpa + len > protected_mmio[i].base)
            return true;
    return false;
}

bool guest_mem_hv_access(uint64_t gpa, uint64_t rip, bool write)
{
    if (!guest_mem_l1_barred(gpa, 1))
        return false;
    __atomic_fetch_add(&hv_access_count, 1, __ATOMIC_RELAXED);
    pr_warn("L1 %s hypervisor memory at GPA %#lx (RIP %#lx): given a decoy page",
            write ? "wrote" : "read", gpa, rip);
    spin_lock(&npt01_lock);
    bool ok = npt_map_4k(&npt_mem, npt01_root, gpa & ~0xFFFULL, decoy_pa, NPT_RWX);
    spin_unlock(&npt01_lock);
    if (!ok) {
        pr_err("out of hypervisor memory mapping the decoy page");
        hv_fatal_stop();
    }
    return true;
}

/* --- L2 on the shadow NPT02 (hv/nested/npt02.c), one per vCPU ----------------- */
/* An L2 can make NPT02 grow without end (one table per 2 MiB it touches):
 * each vCPU's NPT02 may hold at most its share of the pool, recycled past
 * that (BRIEF 3: a loop stays local). 1024 pages map 2 GiB of L2 memory
 * touched 4 KiB apiece; with little memory, half the pool split between
 * the vCPUs. */
#define NPT02_MAX_PAGES 1024
#define NPT02_MIN_PAGES 16
static uint64_t npt02_budget(void)
{
    static uint64_t budget;
    if (!budget) {
        budget = page_alloc_free_pages(hv_pages()) / (2 * vcpu_count());
        budget = budget > NPT02_MAX_PAGES ? NPT02_MAX_PAGES : budget;
        budget = budget < NPT02_MIN_PAGES ? NPT02_MIN_PAGES : budget;
        pr_info("NPT02: at most %lu table pages per vCPU (shared by its L2 entries), recycled beyond", budget);
    }
    return budget;
}

bool guest_mem_npt02_init(struct npt02 *npt02)
{
    bool host_nx = (rdmsr(MSR_EFER) & EFER_NXE) != 0;
    if (!npt02_init(npt02, &npt_mem, npt01_root, host_nx))
        return false;
    npt02->max_pages = npt02_budget();
    return true;
}

/* The L2 entries of a vCPU share its budget: the current entry may grow
 * to what the others leave. */
static struct npt02 *npt02_with_budget(struct vcpu *v)
{
    struct npt02 *s = nested_npt02(v);
    uint64_t others = 0, budget = npt02_budget();
    for (unsigned i = 0; i < v->nested.npt02_count; i++)
        if (&v->nested.npt02[i] != s)
            others += v->nested.npt02[i].pages;
    s->max_pages = others + 1 < budget ? budget - others : 1; /* 0 would mean no cap */
    return s;
}

/* Out of budget: the least recently used other entry that holds table
 * pages beyond its root gives them to the current one. Its tree is
 * dropped, so its ASID owes a flush before it runs again (the page-walk
 * caches may point into the pages, now another tree's, APM 15.25).
 * false: no other entry has any, the caller recycles the current one. */
static bool npt02_evict_lru(struct vcpu *v)
{
    const struct tlb_policy *p = &v->tlb;
    unsigned victim = TLB_L2_MAX;
    for (unsigned i = 0; i < v->nested.npt02_count; i++) {
        if (i == p->cur || v->nested.npt02[i].pages <= 1)
            continue;
        if (victim == TLB_L2_MAX || p->l2[i].last_used < p->l2[victim].last_used)
            victim = i;
    }
    if (victim == TLB_L2_MAX)
        return false;
    npt02_reset(&v->nested.npt02[victim]);
    npt02_move_free(&v->nested.npt02[victim], nested_npt02(v));
    tlb_npt02_evicted(v, victim);
    return true;
}

/* NPT12 is read from L1's RAM only; anything else reads as all-ones. */
static bool npt12_read(void *ctx, uint64_t gpa, uint64_t *val)
{
    (void)ctx;
    if ((gpa & 7) || !l1_ram_ok(gpa, 8))
        return false;
    *val = *(volatile uint64_t *)gpa;
    return true;
}

static bool npt12_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t val)
{
    (void)ctx;
    if ((gpa & 7) || !l1_ram_ok(gpa, 8))
        return false;
    return __atomic_compare_exchange_n((uint64_t *)gpa, &old, val, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

enum npt02_fill guest_mem_npt02_fault(struct vcpu *v, uint64_t npt12_root, uint64_t l2_gpa,
                                      uint64_t info1, uint64_t *reflect_info1)
{
    const struct vmcb_save *l1 = &v->vmcb01.va->save;
    struct npt12 n = {
        .read = npt12_read,
        .cmpxchg = npt12_cmpxchg,
        .root = npt12_root,
        .phys_limit = phys_limit,
        .nxe = (l1->efer & EFER_NXE) != 0,
        .smep = (l1->cr4 & CR4_SMEP) != 0,
        .gbpages = gbpages,
        .la57 = (l1->cr4 & CR4_LA57) != 0,
    };
    bool map_write = false;
    /* 3 tries, plus one per other entry that may give pages. */
    for (int attempt = 0; attempt < 3 + TLB_L2_MAX; attempt++) {
        struct npt02_result r;
        uint64_t size;
        struct npt02 *s = npt02_with_budget(v);
        bool was_mapped = npt_lookup(&npt_mem, s->root, l2_gpa, &size) != 0;
        switch (npt02_fault(s, &n, l2_gpa, info1, &r)) {
        case NPT02_MAPPED:
            /* A new entry needs no flush (absent entries are not cached);
             * one that gained rights (dirty, writable) does. */
            if (was_mapped)
                tlb_npt02_changed(v);
            return map_write ? NPT02_FILLED_MAP_WRITE : NPT02_FILLED;
        case NPT02_RETRY:
            return map_write ? NPT02_FILLED_MAP_WRITE : NPT02_FILLED;
        case NPT02_REFLECT:
            *reflect_info1 = r.exitinfo1;
            return NPT02_TO_L1;
        case NPT02_HV_REGION:
            /* A page L0 write-protects (L1's permission maps), or memory L1
             * does not have (the hypervisor's region): the write goes
             * through as for L1 / the same decoy page L1 would get. */
            if (apic_mmio_fault(v, r.l1_gpa, info1))
                return NPT02_APIC_WRITE;
            if ((info1 & 2) && nested_maps_l1_write(v, r.l1_gpa)) {
                map_write = true;
                continue;
            }
            if (!guest_mem_hv_access(r.l1_gpa, v->vmcb.va->save.rip, info1 & 2))
                return NPT02_TO_L1_NOT_MAPPED;
            continue;
        case NPT02_NO_MEMORY:
            if (npt02_evict_lru(v))
                continue;
            npt02_reset(s);
            tlb_npt02_changed(v);
            continue;
        }
    }
    return NPT02_TO_L1_NOT_MAPPED;
}

void guest_mem_set_writable(uint64_t gpa, bool writable)
{
    if (guest_mem_l1_barred(gpa & ~0xFFFULL, 4096))
        return; /* never mapped for L1: no caller may bring it back */
    uint64_t flags = writable ? NPT_RWX : (PTE_P | PTE_U);
    spin_lock(&npt01_lock);
    bool ok = npt_map_4k(&npt_mem, npt01_root, gpa & ~0xFFFULL, gpa & ~0xFFFULL, flags);
    spin_unlock(&npt01_lock);
    if (!ok) {
        pr_err("out of hypervisor memory changing NPT01");
        hv_fatal_stop();
    }
}

/* Where L2's guest-physical gpa is in L1's (= host) physical space, for
 * reading L2's instructions and page tables: through what NPT02 maps now
 * (L2 just ran there: its code and the tables its walk used are mapped),
 * or one to one when L2 runs on NPT01. */
bool guest_mem_l2_to_l1(const struct vcpu *v, uint64_t gpa, uint64_t *l1_gpa)
{
    if (!v->nested.npt12_root) {
        *l1_gpa = gpa;
        return true;
    }
    uint64_t size, e = npt_lookup(&npt_mem, v->nested.npt02[v->tlb.cur].root, gpa, &size);
    if (!(e & PTE_P))
        return false;
    *l1_gpa = (e & PTE_ADDR_MASK & ~(size - 1)) | (gpa & (size - 1));
    return true;
}
