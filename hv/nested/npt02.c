/*
 * npt02.c - NPT12 walker and the shadow NPT02 for L2.  See npt02.h.
 * Pure and freestanding: no libc; L1 memory only through the npt12
 * callbacks, table pages only through struct npt_mem.
 *
 * Levels as in npt.c (APM 5.3): 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT, and
 * 5 = PML5 for an NPT12 in the 5-level format (struct npt12's la57).
 */
#include "hv/nested/npt02.h"

#include "arch/x86/svm.h"

#define PTE_PAT_4K    (1ULL << 7)
#define PTE_PAT_LARGE (1ULL << 12)
#define MEM_TYPE_4K   (PTE_PWT | PTE_PCD | PTE_PAT_4K)

/* Bits m..n inclusive. */
#define BITS(n, m) (((~0ULL) >> (63 - (n))) & ~((1ULL << (m)) - 1))

/* How often a walk restarts because L1 changed an entry under the A/D
 * update before giving up (NPT12_BUSY).  A correct L1 changes an entry in
 * use rarely; this only bounds the time L0 spends on a hostile one. */
#define AD_TRIES 4

static uint64_t entry_span(int level)
{
    return PAGE_SIZE << (9 * (level - 1));
}

static uint64_t entry_gpa(uint64_t table, int level, uint64_t gpa)
{
    unsigned idx = (unsigned)(gpa >> (12 + 9 * (level - 1))) & (PT_ENTRIES - 1);

    return (table & PTE_ADDR_MASK) + idx * 8u;
}

/* ------------------------------------------------------------ NPT12 walk */

/* Bits 51:M of an entry's address field, M = log2(phys_limit) rounded up;
 * M = 52 (no such bits) when phys_limit is 0 or too large. */
static uint64_t addr_rsvd(uint64_t phys_limit)
{
    unsigned m = 12;

    if (phys_limit == 0 || phys_limit > (1ULL << 52))
        return 0;
    while (m < 52 && (1ULL << m) < phys_limit)
        m++;
    return m >= 52 ? 0 : BITS(51, m);
}

/*
 * Reserved (must-be-zero) bits of a present long-mode entry at `level`
 * (APM 5.3.3-5.3.5 entry formats; nested tables use the same format and
 * checks, 15.25.5; kvm-unit-tests svm_npt_rsvd_bits_test uses these):
 *   all levels: address bits 51:M; NX (bit 63) when EFER.NXE=0;
 *   PML5E, PML4E: bits 8:7 (PS is not allowed there; bit 8 is MBZ);
 *   PDPE with PS: bits 29:13 of the 1 GiB frame, or PS itself without
 *   1 GiB page support; PDE with PS: bits 20:13 of the 2 MiB frame.
 * Bit 12 of a large leaf is PAT, bit 7 of a PTE is PAT: not reserved.
 */
static uint64_t rsvd_bits(const struct npt12 *n, int level, uint64_t e)
{
    uint64_t r = addr_rsvd(n->phys_limit) | (n->nxe ? 0 : PTE_NX);

    switch (level) {
    case 5:
    case 4:
        r |= BITS(8, 7);
        break;
    case 3:
        if (e & PTE_PS)
            r |= n->gbpages ? BITS(29, 13) : PTE_PS;
        break;
    case 2:
        if (e & PTE_PS)
            r |= BITS(20, 13);
        break;
    default:
        break;
    }
    return r;
}

/*
 * The #NPF error code for L1 (15.25.6): the #PF-style low bits plus bit 32
 * (final translation) or 33 (walk of L2's page tables).  US is always set:
 * nested walks are user accesses.  I/D is reported, as in a #PF error code
 * (APM 8.4.2), only with EFER.NXE or CR4.SMEP - here L1's, the "host" of
 * NPT12; kvm-unit-tests' svm_npt_rsvd_bits_test checks this on hardware.
 */
static uint64_t npf_code(const struct npt12 *n, uint64_t access,
                         uint64_t status)
{
    uint64_t code = status | SVM_NPF_US | (access & SVM_NPF_RW);

    if ((access & SVM_NPF_ID) && (n->nxe || n->smep))
        code |= SVM_NPF_ID;
    code |= (access & SVM_NPF_GUEST_PT) ? SVM_NPF_GUEST_PT : SVM_NPF_FINAL_ADDR;
    return code;
}

static struct npt12_walk fault(const struct npt12 *n, uint64_t access,
                               uint64_t status)
{
    struct npt12_walk w = { .status = NPT12_FAULT };

    w.exitinfo1 = npf_code(n, access, status);
    return w;
}

/* The entries one walk used, for the A/D update. */
struct path {
    int levels;          /* entries used: the top level down to the leaf */
    uint64_t gpa[5];
    uint64_t val[5];
};

static uint64_t read_entry(const struct npt12 *n, uint64_t gpa)
{
    uint64_t v;

    /* Unreadable: all-ones, see npt12_read_fn. */
    if (!n->read(n->ctx, gpa, &v))
        return ~0ULL;
    return v;
}

static struct npt12_walk walk_once(const struct npt12 *n, uint64_t l2_gpa,
                                   uint64_t access, struct path *p)
{
    struct npt12_walk w = { .status = NPT12_OK };
    uint64_t table = n->root;
    uint64_t all = PTE_W | PTE_U; /* AND of W and U over the levels */
    uint64_t any_nx = 0;          /* OR of NX */
    bool write = (access & SVM_NPF_RW) != 0;
    bool fetch = (access & SVM_NPF_ID) != 0;

    p->levels = 0;
    if (l2_gpa >= NPT_GPA_LIMIT)
        return fault(n, access, 0);

    for (int level = n->la57 ? 5 : 4; level >= 1; level--) {
        uint64_t gpa = entry_gpa(table, level, l2_gpa);
        uint64_t e = read_entry(n, gpa);

        p->gpa[p->levels] = gpa;
        p->val[p->levels] = e;
        p->levels++;
        if (!(e & PTE_P))
            return fault(n, access, 0);
        if (e & rsvd_bits(n, level, e))
            return fault(n, access, SVM_NPF_P | SVM_NPF_RSV);
        all &= e;
        any_nx |= e & PTE_NX;

        if (level == 1 || ((level == 3 || level == 2) && (e & PTE_PS))) {
            uint64_t span = entry_span(level);

            w.page_size = span;
            w.l1_gpa = (e & PTE_ADDR_MASK & ~(span - 1)) | (l2_gpa & (span - 1));
            w.mem_type = e & (PTE_PWT | PTE_PCD);
            if (level == 1)
                w.mem_type |= e & PTE_PAT_4K;
            else if (e & PTE_PAT_LARGE)
                w.mem_type |= PTE_PAT_4K;
            w.dirty = (e & PTE_D) != 0;
            break;
        }
        table = e;
    }

    /* Protection, over the whole path (APM 5.6; U required, 15.25.5). */
    w.writable = (all & PTE_W) != 0;
    w.executable = !(n->nxe && any_nx);
    if (!(all & PTE_U) || (write && !w.writable) || (fetch && !w.executable))
        return fault(n, access, SVM_NPF_P);
    return w;
}

/*
 * Sets A on every entry of the path and D on the leaf for a write; false
 * if an entry no longer holds what the walk read (the walk is redone).
 * The hardware sets them for the translation it uses; entries already
 * updated before a mismatch keep A, which the hardware may also do.
 */
static bool set_ad(const struct npt12 *n, const struct path *p, bool write)
{
    for (int i = 0; i < p->levels; i++) {
        uint64_t want = PTE_A | ((write && i == p->levels - 1) ? PTE_D : 0);
        uint64_t old = p->val[i];

        if ((old & want) == want)
            continue;
        if (!n->cmpxchg(n->ctx, p->gpa[i], old, old | want))
            return false;
    }
    return true;
}

struct npt12_walk npt12_walk(const struct npt12 *n, uint64_t l2_gpa,
                             uint64_t access)
{
    bool write = (access & SVM_NPF_RW) != 0;

    for (int tries = 0; tries < AD_TRIES; tries++) {
        struct path p;
        struct npt12_walk w = walk_once(n, l2_gpa, access, &p);

        if (w.status != NPT12_OK)
            return w;
        if (!n->cmpxchg) {
            /* No A/D tracking: nothing can learn of writes from D, so
             * treat the page as dirty and map writes at once. */
            w.dirty = true;
            return w;
        }
        if (set_ad(n, &p, write)) {
            w.dirty = w.dirty || write;
            return w;
        }
    }
    return (struct npt12_walk){ .status = NPT12_BUSY };
}

/* ----------------------------------------------------------------- NPT02 */

static uint64_t *table_va(const struct npt_mem *m, uint64_t pa)
{
    return (uint64_t *)m->pa_to_va(m->ctx, pa & PTE_ADDR_MASK);
}

/* Allocation for npt_map_4k on NPT02: recycled pages first, new ones
 * only within max_pages. */
static void *recycle_alloc(void *ctx, uint64_t *pa)
{
    struct npt02 *s = ctx;
    uint64_t *t;

    if (!s->free_list) {
        if (s->max_pages && s->pages >= s->max_pages)
            return NULL;
        t = s->mem->alloc_page(s->mem->ctx, pa);
        if (t)
            s->pages++;
        return t;
    }
    *pa = s->free_list;
    t = table_va(s->mem, *pa);
    s->free_list = t[0];
    s->free_pages--;
    for (unsigned i = 0; i < PT_ENTRIES; i++)
        t[i] = 0;
    return t;
}

static void *recycle_pa_to_va(void *ctx, uint64_t pa)
{
    struct npt02 *s = ctx;

    return s->mem->pa_to_va(s->mem->ctx, pa);
}

bool npt02_init(struct npt02 *s, const struct npt_mem *mem,
                uint64_t npt01_root, bool host_nx)
{
    uint64_t pa;
    uint64_t *t;

    s->mem = mem;
    s->npt01_root = npt01_root;
    s->host_nx = host_nx;
    s->free_list = 0;
    s->free_pages = 0;
    s->root = 0;
    s->pages = 0;
    s->max_pages = 0;
    t = mem->alloc_page(mem->ctx, &pa);
    if (!t)
        return false;
    s->pages = 1;
    for (unsigned i = 0; i < PT_ENTRIES; i++)
        t[i] = 0;
    s->root = pa;
    return true;
}

enum npt02_outcome npt02_fault(struct npt02 *s, const struct npt12 *n,
                               uint64_t l2_gpa, uint64_t exitinfo1,
                               struct npt02_result *r)
{
    const struct npt_mem wrap = { recycle_alloc, recycle_pa_to_va, s };
    bool write = (exitinfo1 & SVM_NPF_RW) != 0;
    bool fetch = (exitinfo1 & SVM_NPF_ID) != 0;
    struct npt12_walk w;
    uint64_t e01, size01, page, flags;

    r->exitinfo1 = r->l1_gpa = r->hpa = r->flags = 0;
    w = npt12_walk(n, l2_gpa, exitinfo1);
    if (w.status == NPT12_FAULT) {
        r->exitinfo1 = w.exitinfo1;
        return NPT02_REFLECT;
    }
    if (w.status == NPT12_BUSY)
        return NPT02_RETRY;
    r->l1_gpa = w.l1_gpa;

    /*
     * The host page is whatever NPT01 gives L1 at that L1 GPA, looked up
     * for this 4 KiB page alone: a larger NPT12 or NPT01 page is never
     * copied whole, so the hypervisor's region (a 4 KiB-granular hole in
     * NPT01) cannot leak in through a large page that spans it.  NPT01's
     * non-leaf entries are all P|W|U (npt.h), so its leaf has all rights.
     */
    e01 = npt_lookup(s->mem, s->npt01_root, w.l1_gpa & ~(PAGE_SIZE - 1),
                     &size01);
    if ((e01 & (PTE_P | PTE_U)) != (PTE_P | PTE_U) ||
        (write && !(e01 & PTE_W)) || (fetch && (e01 & PTE_NX)))
        return NPT02_HV_REGION;
    page = (e01 & PTE_ADDR_MASK & ~(size01 - 1)) |
           (w.l1_gpa & (size01 - 1) & ~(PAGE_SIZE - 1));

    /*
     * Rights: the intersection.  W also waits for NPT12's D bit, so that
     * the first write to a clean page faults here and sets it, as the
     * hardware walk would.  A write access always leaves here writable
     * (the walk allowed it and set D), so it cannot fault forever.
     */
    flags = PTE_P | PTE_U | w.mem_type;
    if (w.writable && w.dirty && (e01 & PTE_W))
        flags |= PTE_W;
    if (s->host_nx && (!w.executable || (e01 & PTE_NX)))
        flags |= PTE_NX;

    if (!npt_map_4k(&wrap, s->root, l2_gpa & ~(PAGE_SIZE - 1), page, flags))
        return NPT02_NO_MEMORY;
    r->hpa = page;
    r->flags = flags;
    return NPT02_MAPPED;
}

/* Puts the table at pa and every table below it on the free list.  Leaves
 * (level 1, or PS in a PDPE/PDE) own no table. */
static void recycle_tree(struct npt02 *s, uint64_t pa, int level)
{
    uint64_t *t = table_va(s->mem, pa);

    if (level > 1) {
        for (unsigned i = 0; i < PT_ENTRIES; i++) {
            uint64_t e = t[i];

            if ((e & PTE_P) && !(level <= 3 && (e & PTE_PS)))
                recycle_tree(s, e, level - 1);
        }
    }
    t[0] = s->free_list;
    s->free_list = pa & PTE_ADDR_MASK;
    s->free_pages++;
}

void npt02_reset(struct npt02 *s)
{
    uint64_t *root;

    if (!s->root)
        return;
    root = table_va(s->mem, s->root);
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        uint64_t e = root[i];

        if (!(e & PTE_P))
            continue;
        /* Unhook first, then recycle: the subtree is never reachable
         * from the root while its first words become free-list links. */
        *(volatile uint64_t *)&root[i] = 0;
        __asm__ __volatile__("" ::: "memory");
        recycle_tree(s, e, 3);
    }
}

void npt02_move_free(struct npt02 *from, struct npt02 *to)
{
    while (from->free_list) {
        uint64_t pa = from->free_list;
        uint64_t *t = table_va(from->mem, pa);
        from->free_list = t[0];
        from->free_pages--;
        from->pages--;
        t[0] = to->free_list;
        to->free_list = pa;
        to->free_pages++;
        to->pages++;
    }
}

uint64_t npt02_table_pages(const struct npt02 *s)
{
    return npt_table_pages(s->mem, s->root);
}
