/* Fuzz target: the shadow NPT02 of L2 (hv/nested/npt02.c over hv/memory/npt.c):
 * arbitrary NPT12 tables in a fake L1 memory, L2 faults through them.
 *
 * L1's RAM is [0, 4 GiB) minus the hypervisor's region; NPT01 identity-maps
 * [0, 6 GiB) minus the region (npt_build_identity, as hv/memory/guest_mem.c
 * builds it; 2 MiB or 1 GiB pages), table pages from the unit tests' fake
 * page pool (tests/unit/fake_page_pool.h: made-up physical addresses, so a
 * PA used as a pointer is caught). NPT12 lives in 8 pages of L1 RAM; every
 * other RAM page reads as zeros, addresses outside the RAM are refused by
 * the read callback (the walk then sees all-ones).
 *
 * Input: a header (L1's NXE, SMEP, 1 GiB pages, LA57, MAXPHYADDR, A/D
 * maintained or not, the host's NX, NPT01's page size, how many table pages
 * NPT02 may take), then operations: write an NPT12 entry (pointers to the
 * table pages - loops included -, leaves at the region's edges, NPT01's top,
 * anything; any flags, reserved bits, large pages), L2 faults (an address
 * through the entries just written, or anything; any access bits; "another
 * L1 CPU" rewriting NPT12 entries while the walk sets A/D bits), NPT02
 * resets, NPT01 write protection (as for merged maps) and decoy pages (as
 * for an L1 access to the region).
 *
 * Invariants:
 *   - NPT02 never maps the hypervisor's region, and never grants more than
 *     NPT12 and NPT01 together allow: every leaf NPT02 gains is justified by
 *     NPT12 as it was at some moment of that fault (before it, or after one
 *     of the writes during it) composed with NPT01 - present and U at every
 *     level, the host page NPT01's translation of NPT12's, W only if every
 *     NPT12 level, the NPT12 leaf's D bit (when A/D are kept) and NPT01 allow
 *     writes, executable only if NPT12 (with NXE) and NPT01 allow it (with
 *     the host's NX), NPT12's memory type, no address bit of NPT12 at or
 *     above L1's MAXPHYADDR, no NX without NXE, no 1 GiB page without
 *     1 GiB pages; a MAPPED fault lets the faulting access through;
 *   - NPT02 changes only by MAPPED (exactly that one 4 KiB leaf) and reset
 *     (to an empty root); its non-leaf entries are P|W|U, its leaves 4 KiB;
 *   - a reflected fault carries an architectural EXITINFO1 (US, exactly one
 *     of bits 32/33, RW and bit 33 as accessed) and NPT12 really forbids the
 *     access (unless reserved bits, which the check does not model, were
 *     reported); HV_REGION only where NPT01 refuses the access; RETRY only
 *     when NPT12 entries changed under the walk;
 *   - the walk changes NPT12 only by setting A on entries it read and D
 *     on a write, only with A/D maintained. */
#include "arch/x86/svm.h"
#include "hv/nested/npt02.h"
#include "tests/fuzz/fuzz_check.h"

/* The unit tests' fake page pool, with its checks as invariants. */
#define KB4 PAGE_SIZE
#define assert_true(c) FUZZ_CHECK((c), "table pages are reached only through the pool")
#define assert_int_equal(a, b) FUZZ_CHECK((a) == (b), "table pages are pool pages")
#include "tests/unit/fake_page_pool.h"

#define GB(x) ((uint64_t)(x) << 30)
#define HV_LO 0x7E003000ULL /* 4 KiB aligned, inside a 2 MiB page */
#define HV_HI 0x7F001000ULL
#define L1_TOP GB(4)
#define NPT01_TOP GB(6)
#define TABLES_BASE GB(3)
#define NTABLES 8
#define DECOY_PA 0x0000DEC000000000ULL
#define POOL_PAGES 1024u
#define MAX_LEAVES 128
#define MAX_LOG 16

static bool in_hv(uint64_t pa) { return pa >= HV_LO && pa < HV_HI; }

/* --- L1 memory: NPT12's pages ----------------------------------------- */
static uint64_t tables[NTABLES][PT_ENTRIES];

static uint64_t table_gpa(unsigned k) { return TABLES_BASE + (uint64_t)k * PAGE_SIZE; }

static uint64_t *entry_at(uint64_t gpa)
{
    if (gpa < TABLES_BASE || gpa >= table_gpa(NTABLES))
        return NULL;
    return &tables[(gpa - TABLES_BASE) / PAGE_SIZE][(gpa % PAGE_SIZE) / 8];
}

static bool l1_ram(uint64_t gpa) { return gpa < L1_TOP && !in_hv(gpa); }

/* Every change of NPT12 during one fault, in order: the walk's A/D bits
 * and "another CPU's" rewrites. */
static struct {
    unsigned n;
    uint64_t gpa[MAX_LOG], old[MAX_LOG], new[MAX_LOG];
    bool by_core[MAX_LOG];
} wlog;

static struct {
    unsigned left;             /* rewrites still to do during this fault */
    uint64_t gpa[4], val[4];   /* what they write */
} meddle;

static bool ad_on;             /* the cmpxchg callback is given */
static uint64_t fault_access;  /* EXITINFO1 of the fault under way */

static void log_write(uint64_t gpa, uint64_t old, uint64_t new, bool core)
{
    FUZZ_CHECK(wlog.n < MAX_LOG, "a fault writes NPT12 a bounded number of times");
    wlog.gpa[wlog.n] = gpa;
    wlog.old[wlog.n] = old;
    wlog.new[wlog.n] = new;
    wlog.by_core[wlog.n] = core;
    wlog.n++;
}

static bool l1_read(void *ctx, uint64_t gpa, uint64_t *val)
{
    FUZZ_CHECK(gpa % 8 == 0, "NPT12 entries are read aligned");
    if (!l1_ram(gpa))
        return false;
    uint64_t *p = entry_at(gpa);
    *val = p ? *p : 0;
    return true;
}

static bool l1_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t val)
{
    FUZZ_CHECK(ad_on, "no NPT12 write without A/D maintenance");
    FUZZ_CHECK(gpa % 8 == 0, "NPT12 entries are written aligned");
    if (meddle.left) { /* another CPU of L1 gets there first */
        unsigned i = --meddle.left;
        uint64_t *q = entry_at(meddle.gpa[i]);
        if (q) {
            log_write(meddle.gpa[i], *q, meddle.val[i], false);
            *q = meddle.val[i];
        }
    }
    if (!l1_ram(gpa))
        return false;
    uint64_t *p = entry_at(gpa);
    FUZZ_CHECK(p && old != 0, "A/D bits are set only on entries the walk found present");
    if (*p != old)
        return false;
    uint64_t added = val & ~old;
    FUZZ_CHECK((old & ~val) == 0 && (added & ~(PTE_A | PTE_D)) == 0,
               "the walk only sets A and D in NPT12");
    FUZZ_CHECK(!(added & PTE_D) || (fault_access & SVM_NPF_RW) ||
                   (fault_access & SVM_NPF_GUEST_PT),
               "D only for a write");
    log_write(gpa, old, val, true);
    *p = val;
    return true;
}

/* NPT12 as it was after the first `upto` logged writes of this fault. */
static uint64_t entry_then(uint64_t gpa, unsigned upto, bool *readable)
{
    *readable = l1_ram(gpa);
    if (!*readable)
        return ~0ULL;
    uint64_t *p = entry_at(gpa);
    uint64_t v = p ? *p : 0;
    for (unsigned i = wlog.n; i-- > upto;)
        if (wlog.gpa[i] == gpa)
            v = wlog.old[i];
    return v;
}

/* --- the reference: what NPT12 allows, from the APM's rules ------------ */
static struct npt12 n12;
static struct npt02 s02;
static uint64_t npt01;

struct allowed {
    bool ok;          /* translates, U at every level */
    uint64_t l1_gpa;
    bool w, x, d;
    uint64_t mem_type;
    uint64_t leaf_gpa, leaf_val; /* the NPT12 leaf entry */
};

static uint64_t addr_bits_over(uint64_t phys_limit)
{
    unsigned m = 12;
    if (phys_limit == 0 || phys_limit > (1ULL << 52))
        return 0;
    while (m < 52 && (1ULL << m) < phys_limit)
        m++;
    return m >= 52 ? 0 : (((1ULL << 52) - 1) & ~((1ULL << m) - 1));
}

static struct allowed walk_then(uint64_t l2, unsigned upto)
{
    struct allowed a = { 0 };
    bool all_w = true, all_u = true, any_nx = false, readable;
    uint64_t table = n12.root;
    if (l2 >= (1ULL << 48))
        return a;
    for (int level = n12.la57 ? 5 : 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t e = entry_then((table & PTE_ADDR_MASK) + ((l2 >> shift) & 511) * 8, upto, &readable);
        if (!(e & PTE_P) || (e & addr_bits_over(n12.phys_limit)) || ((e & PTE_NX) && !n12.nxe))
            return a;
        bool ps = (e & PTE_PS) != 0;
        if (level >= 4 && ps)
            return a;
        if (level == 3 && ps && !n12.gbpages)
            return a;
        all_w &= (e & PTE_W) != 0;
        all_u &= (e & PTE_U) != 0;
        any_nx |= (e & PTE_NX) != 0;
        if (level == 1 || ps) {
            uint64_t span = 1ULL << shift;
            if (level > 1 && (e & PTE_ADDR_MASK & (span - 1) & ~(1ULL << 12)))
                return a; /* frame bits below the large page's alignment */
            a.l1_gpa = (e & PTE_ADDR_MASK & ~(span - 1)) | (l2 & (span - 1));
            a.d = (e & PTE_D) != 0;
            a.leaf_gpa = (table & PTE_ADDR_MASK) + ((l2 >> shift) & 511) * 8;
            a.leaf_val = e;
            a.mem_type = e & (PTE_PWT | PTE_PCD);
            if (level == 1 ? (e & PTE_PS) : (e & (1ULL << 12)))
                a.mem_type |= PTE_PS; /* PAT: bit 7 of a 4 KiB leaf */
            break;
        }
        table = e;
    }
    a.ok = all_u;
    a.w = all_w;
    a.x = !(n12.nxe && any_nx);
    return a;
}

/* NPT01's leaf for an L1 page (P|U|W|NX and the host page). */
static uint64_t npt01_leaf(uint64_t l1_page, uint64_t *hpa)
{
    uint64_t size;
    uint64_t e = npt_lookup(&mem, npt01, l1_page, &size);
    *hpa = size ? (e & PTE_ADDR_MASK & ~(size - 1)) | (l1_page & (size - 1)) : 0;
    return e;
}

/* The walk set D on this leaf entry itself, as it was then: the CPU's walk
 * also sets D on the entry it read and does not read the levels above
 * again, so the translation is that of the state it read, made dirty. */
static bool walk_set_dirty(const struct allowed *a)
{
    for (unsigned i = 0; i < wlog.n; i++)
        if (wlog.by_core[i] && wlog.gpa[i] == a->leaf_gpa && (wlog.old[i] & ~PTE_A) == (a->leaf_val & ~PTE_A) &&
            (wlog.new[i] & PTE_D))
            return true;
    return false;
}

/* The NPT02 leaf for l2's page is justified by NPT12 after `upto` writes. */
static bool leaf_justified(uint64_t l2, uint64_t leaf, unsigned upto)
{
    struct allowed a = walk_then(l2, upto);
    if (!a.ok)
        return false;
    a.d = a.d || walk_set_dirty(&a);
    uint64_t hpa, e01 = npt01_leaf(a.l1_gpa & ~(PAGE_SIZE - 1), &hpa);
    if ((e01 & (PTE_P | PTE_U)) != (PTE_P | PTE_U) || (leaf & PTE_ADDR_MASK) != hpa)
        return false;
    if ((leaf & PTE_W) && !(a.w && (a.d || !ad_on) && (e01 & PTE_W)))
        return false;
    if (!(leaf & PTE_NX) && s02.host_nx && !(a.x && !(e01 & PTE_NX)))
        return false;
    return (leaf & (PTE_PWT | PTE_PCD | PTE_PS)) == a.mem_type;
}

/* --- NPT02 as the harness expects it ---------------------------------- */
static struct {
    unsigned n;
    uint64_t page[MAX_LEAVES], leaf[MAX_LEAVES];
} shadow;

static void shadow_set(uint64_t page, uint64_t leaf)
{
    for (unsigned i = 0; i < shadow.n; i++)
        if (shadow.page[i] == page) {
            shadow.leaf[i] = leaf;
            return;
        }
    FUZZ_CHECK(shadow.n < MAX_LEAVES, "harness: shadow full");
    shadow.page[shadow.n] = page;
    shadow.leaf[shadow.n++] = leaf;
}

static uint64_t lookup02(uint64_t l2, uint64_t *size)
{
    return npt_lookup(&mem, s02.root, l2 & ~(PAGE_SIZE - 1), size);
}

/* Every leaf the harness knows is still there, as it was made. */
static void check_shadow(void)
{
    for (unsigned i = 0; i < shadow.n; i++) {
        uint64_t size;
        FUZZ_CHECK(lookup02(shadow.page[i], &size) == shadow.leaf[i] && size == PAGE_SIZE,
                   "NPT02 changes only by MAPPED and reset");
    }
}

/* The whole tree: structure, leaves all known, none in the region. */
static unsigned check_tree(uint64_t pa, int level)
{
    const uint64_t *t = pool_pa_to_va(&pool, pa);
    unsigned leaves = 0;
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        uint64_t e = t[i];
        if (!(e & PTE_P)) {
            FUZZ_CHECK(e == 0, "a not-present NPT02 entry is zero");
            continue;
        }
        if (level > 1) {
            FUZZ_CHECK((e & ~PTE_ADDR_MASK) == NPT_RWX, "NPT02's non-leaf entries are P|W|U");
            leaves += check_tree(e & PTE_ADDR_MASK, level - 1);
            continue;
        }
        uint64_t hpa = e & PTE_ADDR_MASK;
        FUZZ_CHECK(!in_hv(hpa), "NPT02 never maps the hypervisor's region");
        FUZZ_CHECK(hpa == DECOY_PA || hpa < NPT01_TOP, "NPT02 maps only what NPT01 maps");
        FUZZ_CHECK((e & ~(PTE_ADDR_MASK | PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_PS |
                          PTE_NX)) == 0 && (e & PTE_U),
                   "an NPT02 leaf has P|U, W, NX and the memory type only");
        leaves++;
    }
    return leaves;
}

/* --- operations ----------------------------------------------------------- */
static uint64_t recent[8]; /* L2 addresses through entries just written */
static unsigned nrecent;

/* An address for an NPT12 entry: a table page, the region's edges, NPT01's
 * and L1 RAM's tops, 1 GiB steps, or anything. */
static uint64_t entry_addr(uint8_t sel, uint64_t raw)
{
    switch (sel % 16) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
        return table_gpa(sel % 8);
    case 8: return HV_LO + (raw % ((HV_HI - HV_LO) / PAGE_SIZE)) * PAGE_SIZE;
    case 9: return raw & 1 ? HV_LO - PAGE_SIZE : HV_HI;
    case 10: return (raw & 1 ? NPT01_TOP - PAGE_SIZE : NPT01_TOP) - (raw & 2 ? GB(1) : 0);
    case 11: return L1_TOP + (raw % 64) * PAGE_2M;
    case 12: return (raw % 8) * GB(1) + (raw & 8 ? HV_LO & ~(PAGE_2M - 1) : 0);
    default: return raw;
    }
}

static void op_write(struct fuzz_in *in)
{
    uint8_t where = in_u8(in), sel = in_u8(in);
    uint16_t idx = in_u16(in) % PT_ENTRIES;
    uint16_t flags = in_u16(in);
    uint64_t raw = sel % 16 >= 8 ? in_u64(in) : 0;
    uint64_t e = (entry_addr(sel, raw) & PTE_ADDR_MASK) | (flags & 0x1FFF);
    if (flags & 0x8000)
        e |= PTE_NX;
    if (flags & 0x4000) /* an address bit somewhere up to bit 51 */
        e |= 1ULL << (36 + (flags >> 13 & 1) * 8 + (sel >> 4));
    tables[where % NTABLES][idx] = e;
    /* An L2 address that goes through this slot at every level: faults
     * then walk the entries just written. */
    recent[nrecent++ % 8] = ((uint64_t)idx << 39) | ((uint64_t)idx << 30) |
                            ((uint64_t)idx << 21) | ((uint64_t)idx << 12);
}

static uint64_t fault_address(struct fuzz_in *in)
{
    uint8_t how = in_u8(in);
    if (how & 0x80)
        return in_u64(in);
    /* Each level's index from a recently written slot, plus an offset. */
    uint64_t a = 0;
    for (int level = 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t from = nrecent ? recent[in_u8(in) % (nrecent < 8 ? nrecent : 8)] : 0;
        a |= from & (511ULL << shift);
    }
    return a | (in_u16(in) & 0xFFF) | (how & 1 ? (uint64_t)in_u8(in) << 12 : 0);
}

static void check_reflect(const struct npt02_result *r, uint64_t l2, uint64_t access)
{
    uint64_t e = r->exitinfo1;
    bool final = e & SVM_NPF_FINAL_ADDR, walk = e & SVM_NPF_GUEST_PT;
    FUZZ_CHECK((e & SVM_NPF_US) && final != walk &&
                   walk == ((access & SVM_NPF_GUEST_PT) != 0) &&
                   (e & SVM_NPF_RW) == (access & SVM_NPF_RW) &&
                   (!(e & SVM_NPF_ID) || (access & SVM_NPF_ID)) &&
                   !(e & ~(SVM_NPF_P | SVM_NPF_RW | SVM_NPF_US | SVM_NPF_RSV | SVM_NPF_ID |
                           SVM_NPF_FINAL_ADDR | SVM_NPF_GUEST_PT)),
               "a reflected #NPF carries an architectural EXITINFO1");
    if (e & SVM_NPF_RSV)
        return; /* reserved bits: the reference does not model them all */
    bool write = access & (SVM_NPF_RW | SVM_NPF_GUEST_PT), fetch = access & SVM_NPF_ID;
    bool denied_once = false;
    for (unsigned j = 0; j <= wlog.n; j++) {
        struct allowed a = walk_then(l2, j);
        denied_once |= !a.ok || (write && !a.w) || (fetch && !a.x);
    }
    FUZZ_CHECK(denied_once, "a fault is reflected only when NPT12 forbids the access");
}

static void op_fault(struct fuzz_in *in)
{
    uint64_t l2 = fault_address(in);
    uint8_t acc = in_u8(in);
    uint64_t access = SVM_NPF_US | (acc & 1 ? SVM_NPF_RW : 0) | (acc & 2 ? SVM_NPF_ID : 0) |
                      (acc & 4 ? SVM_NPF_GUEST_PT : SVM_NPF_FINAL_ADDR) |
                      (acc & 8 ? SVM_NPF_P | SVM_NPF_RSV : 0);
    if (access & SVM_NPF_GUEST_PT) /* the CPU reports L2's table walks as writes */
        access |= SVM_NPF_RW;
    meddle.left = (acc >> 4) % 5;
    for (unsigned i = 0; i < meddle.left; i++) {
        meddle.gpa[i] = table_gpa(in_u8(in) % NTABLES) + (in_u16(in) % PT_ENTRIES) * 8;
        meddle.val[i] = in_u64(in);
    }
    unsigned meddles = meddle.left;
    wlog.n = 0;
    fault_access = access;
    struct npt02_result r;
    enum npt02_outcome o = npt02_fault(&s02, &n12, l2, access, &r);
    bool meddled = meddle.left < meddles;
    meddle.left = 0;
    bool write = access & SVM_NPF_RW, fetch = access & SVM_NPF_ID;

    switch (o) {
    case NPT02_MAPPED: {
        uint64_t size, leaf = lookup02(l2, &size);
        FUZZ_CHECK(leaf == (r.hpa | r.flags) && size == PAGE_SIZE,
                   "MAPPED: NPT02 now holds that 4 KiB leaf");
        FUZZ_CHECK(!in_hv(r.hpa), "NPT02 never maps the hypervisor's region");
        bool justified = false;
        for (unsigned j = 0; j <= wlog.n && !justified; j++)
            justified = leaf_justified(l2, leaf, j);
        FUZZ_CHECK(justified, "NPT02 never grants more than NPT12 and NPT01 allow");
        FUZZ_CHECK((!write || (leaf & PTE_W)) && (!fetch || !(leaf & PTE_NX)),
                   "MAPPED lets the faulting access through");
        shadow_set(l2 & ~(PAGE_SIZE - 1), leaf);
        break;
    }
    case NPT02_REFLECT:
        check_reflect(&r, l2, access);
        break;
    case NPT02_HV_REGION: {
        uint64_t hpa, e01 = npt01_leaf(r.l1_gpa & ~(PAGE_SIZE - 1), &hpa);
        FUZZ_CHECK((e01 & (PTE_P | PTE_U)) != (PTE_P | PTE_U) || (write && !(e01 & PTE_W)) ||
                       (fetch && (e01 & PTE_NX)),
                   "HV_REGION only where NPT01 refuses L1 the access");
        break;
    }
    case NPT02_RETRY:
        FUZZ_CHECK(meddled, "RETRY only when NPT12 changed under the walk");
        break;
    case NPT02_NO_MEMORY:
        FUZZ_CHECK(pool.used >= pool.limit && s02.free_list == 0,
                   "NO_MEMORY only when no table page is left");
        break;
    }
    if (!meddled)
        for (unsigned i = 0; i < wlog.n; i++)
            FUZZ_CHECK(wlog.by_core[i] && (o == NPT02_MAPPED || o == NPT02_HV_REGION ||
                                           o == NPT02_NO_MEMORY),
                       "A/D bits only after a walk that translated");
    check_shadow();
}

static void op_reset(void)
{
    npt02_reset(&s02);
    shadow.n = 0;
    FUZZ_CHECK(npt02_table_pages(&s02) == 1, "a reset leaves an empty root");
}

/* NPT01 loses or regains W on a page (merged maps, hv/nested/nested_maps.c),
 * or an L1 access to the region gets its decoy page (hv/memory/guest_mem.c).
 * Fewer rights: NPT02 is dropped, as tlb_npt01_changed() does. */
static void op_npt01(struct fuzz_in *in)
{
    uint8_t sel = in_u8(in);
    uint64_t page = (entry_addr(sel, in_u64(in)) & PTE_ADDR_MASK) % NPT01_TOP;
    if (sel & 0x10) {
        if (in_hv(page))
            npt_map_4k(&mem, npt01, page, DECOY_PA, NPT_RWX);
        return;
    }
    if (in_hv(page))
        return;
    npt_map_4k(&mem, npt01, page, page, sel & 0x20 ? NPT_RWX : PTE_P | PTE_U);
    op_reset();
}

/* NPT01 as hv/memory/guest_mem.c builds it, with 2 MiB and with 1 GiB pages:
 * built once, its pool pages saved, and put back for every input (the
 * build costs more than most inputs). */
static uint64_t npt01_root[2];
static size_t npt01_pages;
static uint8_t *npt01_saved;

static void npt01_restore(bool gb_pages)
{
    if (!pool.mem) {
        pool.mem = aligned_alloc(PAGE_SIZE, POOL_PAGES * PAGE_SIZE);
        pool_reset(POOL_PAGES);
        for (int i = 0; i < 2; i++) {
            npt01_root[i] = npt_build_identity(&mem, NPT01_TOP, HV_LO, HV_HI - HV_LO, i);
            FUZZ_CHECK(npt01_root[i] != 0, "harness: NPT01 built");
        }
        npt01_pages = pool.used;
        npt01_saved = malloc(npt01_pages * PAGE_SIZE);
        memcpy(npt01_saved, pool.mem, npt01_pages * PAGE_SIZE);
    }
    memcpy(pool.mem, npt01_saved, npt01_pages * PAGE_SIZE);
    pool_reset(POOL_PAGES);
    pool.used = npt01_pages;
    npt01 = npt01_root[gb_pages];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    static const uint64_t limits[] = { 1ULL << 36, 1ULL << 40, 1ULL << 46, 1ULL << 52, 0,
                                       (1ULL << 39) + 1, 1ULL << 33, 1ULL << 63 };
    uint8_t h = in_u8(&in), h2 = in_u8(&in), room = in_u8(&in);
    memset(tables, 0, sizeof tables);
    memset(&shadow, 0, sizeof shadow);
    nrecent = 0;
    ad_on = h & 0x10;
    n12 = (struct npt12){
        .read = l1_read, .cmpxchg = ad_on ? l1_cmpxchg : NULL,
        .root = h2 & 0x80 ? in_u64(&in) : table_gpa(h2 % NTABLES) | (h2 & 0x08 ? 0xFFF : 0),
        .phys_limit = limits[(h >> 5) & 7],
        .nxe = h & 1, .smep = h & 2, .gbpages = h & 4, .la57 = h & 8,
    };
    npt01_restore(h2 & 0x40);
    FUZZ_CHECK(npt02_init(&s02, &mem, npt01, h2 & 0x20), "harness: NPT02 root");
    /* Table pages NPT02 may take: few enough to run out, sometimes. */
    pool.limit = room & 0x80 ? POOL_PAGES : pool.used + room % 16;

    for (int ops = 0; ops < 64 && !in_empty(&in); ops++) {
        switch (in_u8(&in) % 8) {
        case 0: case 1: case 2: op_write(&in); break;
        case 3: case 4: case 5: op_fault(&in); break;
        case 6: op_reset(); break;
        case 7: op_npt01(&in); break;
        }
    }
    FUZZ_CHECK(check_tree(s02.root, 4) == shadow.n, "NPT02 holds exactly the leaves it mapped");
    return 0;
}
