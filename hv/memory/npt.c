/*
 * npt.c - nested page table builder and walker.  See npt.h.
 * Pure and freestanding: no libc, tables reached only via struct npt_mem.
 *
 * Levels are numbered as in the APM's long-mode walk (5.3): 4 = PML4,
 * 3 = PDPT, 2 = PD, 1 = PT.  An entry at level L covers 4 KiB << 9(L-1).
 */
#include "hv/memory/npt.h"

/* Address bits of a 1 GiB / 2 MiB leaf (APM 5.3.4, 5.3.5): 51:30 / 51:21.
 * Bit 12 of a large leaf is PAT, not an address bit. */
#define ADDR_MASK_1G  0x000FFFFFC0000000ULL
#define ADDR_MASK_2M  0x000FFFFFFFE00000ULL
#define PTE_PAT_LARGE (1ULL << 12)
#define PTE_PAT_4K    (1ULL << 7)

static uint64_t entry_span(int level)
{
    return PAGE_SIZE << (9 * (level - 1));
}

static unsigned entry_index(int level, uint64_t gpa)
{
    return (unsigned)(gpa >> (12 + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

/* PS is a leaf marker only in PDPEs and PDEs; in a PML4E it is reserved
 * (APM 5.3.3) and a PTE has no lower level anyway. */
static bool is_leaf(int level, uint64_t e)
{
    return level == 1 || ((level == 2 || level == 3) && (e & PTE_PS));
}

static uint64_t *table_va(const struct npt_mem *m, uint64_t pa)
{
    return (uint64_t *)m->pa_to_va(m->ctx, pa & PTE_ADDR_MASK);
}

/*
 * The allocator promises a zeroed page, but a stale non-zero entry would be
 * a silent wrong translation for the guest, so clear it again: 512 stores
 * per table are nothing next to a VMRUN.
 */
static uint64_t *new_table(const struct npt_mem *m, uint64_t *pa)
{
    uint64_t *t = (uint64_t *)m->alloc_page(m->ctx, pa);

    if (!t)
        return NULL;
    for (unsigned i = 0; i < PT_ENTRIES; i++)
        t[i] = 0;
    return t;
}

/*
 * Store an entry into a table the guest may be walking on another CPU.
 * The barrier keeps the compiler from sinking the stores that filled a new
 * subtable below the store that publishes it; x86 keeps stores in program
 * order, and an aligned 64-bit volatile store is not torn.
 */
static void publish(uint64_t *slot, uint64_t e)
{
    __asm__ __volatile__("" ::: "memory");
    *(volatile uint64_t *)slot = e;
}

/* ------------------------------------------------------------ building */

struct build_args {
    const struct npt_mem *m;
    uint64_t top;      /* 2 MiB aligned, <= NPT_GPA_LIMIT */
    uint64_t hole_lo;  /* [hole_lo, hole_hi), 4 KiB aligned; empty if equal */
    uint64_t hole_hi;
    bool use_1g;
};

/*
 * Builds the table at `level` whose first entry maps `base`; returns its PA
 * or 0 when out of memory.  Each entry's span [s, e) is either
 *   - all unmapped (past top, or inside the hole): left 0, no subtable;
 *   - mappable by one leaf of this size (inside [0, top), clear of the
 *     hole, and a leaf size allowed here): one leaf;
 *   - mixed: a subtable one level down.
 * The recursion is at most four deep.
 */
static uint64_t build_table(const struct build_args *a, int level,
                            uint64_t base)
{
    uint64_t pa;
    uint64_t *t = new_table(a->m, &pa);
    uint64_t span = entry_span(level);
    bool leaf_size_ok = level == 1 || level == 2 || (level == 3 && a->use_1g);

    if (!t)
        return 0;
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        uint64_t s = base + (uint64_t)i * span;
        uint64_t e = s + span; /* no overflow: s < 2^48 */
        bool hits_hole = a->hole_lo < e && s < a->hole_hi;

        if (s >= a->top)
            break;
        if (a->hole_lo <= s && e <= a->hole_hi)
            continue;
        if (leaf_size_ok && e <= a->top && !hits_hole) {
            t[i] = s | NPT_RWX | (level > 1 ? PTE_PS : 0);
        } else {
            /* Level 1 never gets here: top is 2 MiB aligned and the hole
             * 4 KiB aligned, so a 4 KiB span is all in or all out. */
            uint64_t sub = build_table(a, level - 1, s);
            if (!sub)
                return 0;
            t[i] = sub | NPT_RWX;
        }
    }
    return pa;
}

uint64_t npt_build_identity(const struct npt_mem *m, uint64_t top,
                            uint64_t hole_pa, uint64_t hole_size,
                            bool use_1g)
{
    struct build_args a = { .m = m, .use_1g = use_1g };

    if (top > NPT_GPA_LIMIT)
        top = NPT_GPA_LIMIT;
    a.top = (top + PAGE_2M - 1) & ~(PAGE_2M - 1);

    /* Widen the hole to whole pages and saturate instead of wrapping, so
     * no byte the caller wanted hidden ever becomes reachable. */
    if (hole_size != 0) {
        uint64_t end = hole_pa + hole_size;

        if (end < hole_pa || end > UINT64_MAX - (PAGE_SIZE - 1))
            end = UINT64_MAX;
        else
            end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        a.hole_lo = hole_pa & ~(PAGE_SIZE - 1);
        a.hole_hi = end;
    }
    return build_table(&a, 4, 0);
}

/* ------------------------------------------------------------- walking */

uint64_t npt_lookup(const struct npt_mem *m, uint64_t root, uint64_t gpa,
                    uint64_t *size)
{
    uint64_t dummy;
    uint64_t *t;

    if (!size)
        size = &dummy;
    *size = 0;
    if (gpa >= NPT_GPA_LIMIT || root == 0)
        return 0;
    t = table_va(m, root);
    for (int level = 4; level >= 1; level--) {
        uint64_t e = t[entry_index(level, gpa)];

        *size = entry_span(level);
        if (!(e & PTE_P))
            return 0;
        if (is_leaf(level, e))
            return e;
        t = table_va(m, e);
    }
    return 0; /* not reached: level 1 is always a leaf */
}

/*
 * Fills the fresh table `t` (one level below a large leaf `e` at `level`)
 * with 512 leaves that map the same range with the same attributes.  The
 * attribute bits are everything outside the address field: bits 12:0 and
 * 63:52 of a large leaf.  A 1 GiB page becomes 2 MiB pages and keeps
 * PS and PAT (bit 12 in both formats); a 2 MiB page becomes 4 KiB pages,
 * where bit 7 is PAT and bit 12 is an address bit, so PAT moves.
 */
static void split_large(uint64_t *t, int level, uint64_t e)
{
    uint64_t child_span = entry_span(level - 1);
    uint64_t base, attrs;

    if (level == 3) {
        base = e & ADDR_MASK_1G;
        /* Bits 29:13 of a 1 GiB leaf are reserved: never carried over. */
        attrs = (e & ~PTE_ADDR_MASK) | (e & PTE_PAT_LARGE);
    } else {
        base = e & ADDR_MASK_2M;
        attrs = e & ~PTE_ADDR_MASK & ~PTE_PS & ~PTE_PAT_LARGE;
        if (e & PTE_PAT_LARGE)
            attrs |= PTE_PAT_4K;
    }
    for (unsigned i = 0; i < PT_ENTRIES; i++)
        t[i] = attrs | (base + (uint64_t)i * child_span);
}

bool npt_map_4k(const struct npt_mem *m, uint64_t root, uint64_t gpa,
                uint64_t hpa, uint64_t flags)
{
    uint64_t *t;

    if (gpa >= NPT_GPA_LIMIT || root == 0)
        return false;
    t = table_va(m, root);
    for (int level = 4; level >= 2; level--) {
        uint64_t *slot = &t[entry_index(level, gpa)];
        uint64_t e = *slot;

        if (!(e & PTE_P) || is_leaf(level, e)) {
            uint64_t pa;
            uint64_t *sub = new_table(m, &pa);

            if (!sub)
                return false;
            if (e & PTE_P)
                split_large(sub, level, e);
            /* The new table is complete before it becomes visible, so a
             * concurrent walk sees either the old or the new mapping. */
            publish(slot, pa | NPT_RWX);
            t = sub;
        } else {
            t = table_va(m, e);
        }
    }
    publish(&t[entry_index(1, gpa)],
            (hpa & PTE_ADDR_MASK) | (flags & ~PTE_ADDR_MASK));
    return true;
}

/* ------------------------------------------------------------ counting */

static uint64_t count_tables(const struct npt_mem *m, uint64_t pa, int level)
{
    const uint64_t *t;
    uint64_t n = 1;

    if (level == 1)
        return 1;
    t = table_va(m, pa);
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        uint64_t e = t[i];
        if ((e & PTE_P) && !is_leaf(level, e))
            n += count_tables(m, e, level - 1);
    }
    return n;
}

uint64_t npt_table_pages(const struct npt_mem *m, uint64_t root)
{
    return root ? count_tables(m, root, 4) : 0;
}
