/* I/O page table builder and walker; see iommu_pt.h. Levels as in the AMD
 * IOMMU spec (2.2.3): level 4 is the root, a level-L entry covers
 * 4 KiB << 9(L-1); an entry whose Next Level field is 0 is a leaf, of the
 * level's default page size. */
#include "hv/memory/iommu_pt.h"
#include "arch/x86/amd_iommu.h"
#include "arch/x86/paging.h"

#define RW (AMDVI_PTE_IR | AMDVI_PTE_IW)
#define TOP_MAX (1ULL << 48)

static uint64_t span(int level)
{
    return PAGE_SIZE << (9 * (level - 1));
}

static unsigned slot(int level, uint64_t addr)
{
    return (unsigned)(addr >> (12 + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

struct build {
    const struct npt_mem *m;
    uint64_t top, hole_lo, hole_hi;
    uint64_t empty_pa; /* a table with no entries, below refused spans */
};

static bool overlaps_hole(const struct build *b, uint64_t lo, uint64_t hi)
{
    return lo < b->hole_hi && hi > b->hole_lo;
}

static bool inside_hole(const struct build *b, uint64_t lo, uint64_t hi)
{
    return lo >= b->hole_lo && hi <= b->hole_hi;
}

/* The table at `level` whose first entry maps `base`: its PA, 0 when out
 * of memory. Each entry is a leaf when its whole span is allowed (identity,
 * RW) or refused (present, no permission), else it points to a table one
 * level down. Past top, entries stay absent. */
static uint64_t build_table(const struct build *b, int level, uint64_t base)
{
    uint64_t pa;
    uint64_t *t = b->m->alloc_page(b->m->ctx, &pa);
    if (!t)
        return 0;
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        uint64_t lo = base + i * span(level), hi = lo + span(level);
        if (lo >= b->top)
            break;
        bool leaf_ok = level <= 3; /* no 512 GiB pages at the root */
        if (leaf_ok && !overlaps_hole(b, lo, hi)) {
            t[i] = lo | AMDVI_PTE_PR | RW;
        } else if (level > 1 && inside_hole(b, lo, hi)) {
            /* Refused: a table entry without read or write permission,
             * which denies everything below it (2.2.3: the permissions of
             * the whole walk apply), over an empty table. Not a leaf
             * without permission: QEMU's model checks the permissions of
             * table entries only, and refuses such a leaf without logging
             * an event. */
            t[i] = b->empty_pa | AMDVI_PTE_PR | ((uint64_t)(level - 1) << AMDVI_PTE_NEXT_SHIFT);
        } else if (inside_hole(b, lo, hi)) {
            t[i] = lo | AMDVI_PTE_PR; /* a 4 KiB page: a leaf without permission */
        } else {
            uint64_t next = build_table(b, level - 1, lo);
            if (!next)
                return 0;
            t[i] = next | AMDVI_PTE_PR | RW | ((uint64_t)(level - 1) << AMDVI_PTE_NEXT_SHIFT);
        }
    }
    return pa;
}

uint64_t iommu_pt_build(const struct npt_mem *m, uint64_t top, uint64_t hole_pa,
                        uint64_t hole_size)
{
    if (top > TOP_MAX || top == 0)
        top = TOP_MAX;
    struct build b = {
        .m = m,
        .top = (top + PAGE_1G - 1) & ~(PAGE_1G - 1),
        .hole_lo = hole_pa & ~(PAGE_SIZE - 1),
        .hole_hi = (hole_pa + hole_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1),
    };
    if (!hole_size)
        b.hole_lo = b.hole_hi = 0;
    if (!m->alloc_page(m->ctx, &b.empty_pa))
        return 0;
    return build_table(&b, AMDVI_LEVELS, 0);
}

bool iommu_pt_lookup(const struct npt_mem *m, uint64_t root, uint64_t addr, uint64_t *pa)
{
    if (addr >> 48)
        return false; /* beyond what 4 levels reach: a fault (2.2.3) */
    uint64_t e = root | AMDVI_PTE_PR | RW | ((uint64_t)AMDVI_LEVELS << AMDVI_PTE_NEXT_SHIFT);
    for (int level = AMDVI_LEVELS; level >= 1; level--) {
        if (!(e & AMDVI_PTE_PR) || (e & RW) != RW)
            return false;
        const uint64_t *t = m->pa_to_va(m->ctx, e & AMDVI_ADDR_MASK);
        e = t[slot(level, addr)];
        if (!(e & AMDVI_PTE_PR) || (e & RW) != RW)
            return false;
        unsigned next = (e >> AMDVI_PTE_NEXT_SHIFT) & 7;
        if (next == 0) {
            *pa = (e & AMDVI_ADDR_MASK & ~(span(level) - 1)) | (addr & (span(level) - 1));
            return true;
        }
        if (next != (unsigned)level - 1)
            return false; /* level skipping: never built here */
    }
    return false;
}
