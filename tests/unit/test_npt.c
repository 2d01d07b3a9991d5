/* Unit tests for hv/memory/npt.c (APM Vol. 2 15.25 nested paging). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hv/memory/npt.h"

#define KB4 PAGE_SIZE
#define MB2 PAGE_2M
#define GB1 PAGE_1G
#define GB(x) ((uint64_t)(x) * GB1)
#define MB(x) ((uint64_t)(x) << 20)

/*
 * Table pages come from a pool whose "physical" addresses are made up and
 * unrelated to the host VAs, so any place the code under test uses a PA as
 * a pointer (or a VA as a PA) crashes or fails the range check below.
 */
#define POOL_PAGES 2048u
#include "tests/unit/fake_page_pool.h"
#include "tests/unit/xorshift.h"

static int setup(void **state)
{
    (void)state;
    pool.mem = aligned_alloc(KB4, (size_t)POOL_PAGES * KB4);
    assert_non_null(pool.mem);
    pool_reset(POOL_PAGES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(pool.mem);
    return 0;
}

static uint64_t xs = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    return xorshift64s(&xs);
}

/* ------------------------------------------------- independent walker */

struct leaf_stats {
    uint64_t n4k, n2m, n1g;
    uint64_t mapped;  /* bytes */
    uint64_t tables;
};

struct expect {
    uint64_t top;      /* already rounded */
    uint64_t hole_lo, hole_hi;
};

static bool in_hole(const struct expect *x, uint64_t a)
{
    return a >= x->hole_lo && a < x->hole_hi;
}

/*
 * Visits every entry of every table (written from the APM format, not from
 * npt.c): every leaf must be an identity P|W|U(+PS) mapping of a range that
 * lies inside [0, top) and clear of the hole; every non-leaf must be
 * P|W|U with nothing else.
 */
static void walk(const struct expect *x, uint64_t pa, int level,
                 uint64_t base, struct leaf_stats *st)
{
    const uint64_t *t = pool_pa_to_va(&pool, pa);
    uint64_t span = KB4 << (9 * (level - 1));

    st->tables++;
    for (unsigned i = 0; i < 512; i++) {
        uint64_t e = t[i], s = base + i * span;
        bool leaf = level == 1 || (level <= 3 && (e & PTE_PS));

        if (!(e & PTE_P)) {
            assert_int_equal(e, 0);
            continue;
        }
        if (!leaf) {
            assert_int_equal(e & ~PTE_ADDR_MASK, NPT_RWX);
            walk(x, e & PTE_ADDR_MASK, level - 1, s, st);
            continue;
        }
        assert_true(level <= 3);
        assert_int_equal(e, s | NPT_RWX | (level > 1 ? PTE_PS : 0));
        assert_true(s + span <= x->top);
        assert_false(x->hole_lo < s + span && s < x->hole_hi);
        st->mapped += span;
        if (level == 1)
            st->n4k++;
        else if (level == 2)
            st->n2m++;
        else
            st->n1g++;
    }
}

/* What the mapping should be: top clamped to 2^48 and rounded up to
 * 2 MiB, the hole widened to whole pages and saturated at 2^64 - 1. */
static struct expect make_expect(uint64_t top, uint64_t hp, uint64_t hs)
{
    struct expect x = { 0 };

    if (top > NPT_GPA_LIMIT)
        top = NPT_GPA_LIMIT;
    x.top = (top + MB2 - 1) & ~(MB2 - 1);
    if (hs) {
        x.hole_lo = hp & ~(KB4 - 1);
        if (hp + hs < hp || hp + hs > UINT64_MAX - KB4)
            x.hole_hi = UINT64_MAX;
        else
            x.hole_hi = (hp + hs + KB4 - 1) & ~(KB4 - 1);
    }
    return x;
}

/* Builds, then checks the whole structure; returns the stats. */
static struct leaf_stats build_and_check(uint64_t top, uint64_t hole_pa,
                                         uint64_t hole_size, bool use_1g,
                                         uint64_t *root_out)
{
    struct expect x = make_expect(top, hole_pa, hole_size);
    struct leaf_stats st = { 0 };
    uint64_t root, hole_in_range = 0;

    pool_reset(POOL_PAGES);
    root = npt_build_identity(&mem, top, hole_pa, hole_size, use_1g);
    assert_true(root != 0);
    walk(&x, root, 4, 0, &st);
    assert_int_equal(st.tables, pool.used);
    assert_int_equal(npt_table_pages(&mem, root), pool.used);
    if (x.hole_hi > x.hole_lo && x.hole_lo < x.top)
        hole_in_range = (x.hole_hi < x.top ? x.hole_hi : x.top) - x.hole_lo;
    /* Leaves never overlap (tree), so this means exact coverage. */
    assert_int_equal(st.mapped, x.top - hole_in_range);
    if (!use_1g)
        assert_int_equal(st.n1g, 0);
    if (root_out)
        *root_out = root;
    return st;
}

/* Reference for one address. */
static void check_lookup(uint64_t root, const struct expect *x, bool use_1g,
                         uint64_t gpa)
{
    uint64_t size = 12345;
    uint64_t e = npt_lookup(&mem, root, gpa, &size);

    if (gpa >= x->top || in_hole(x, gpa)) {
        assert_int_equal(e, 0);
        /* The missing entry spans only unmapped space: the part of
         * [s, s + size) below top lies inside the hole. */
        assert_true(size >= KB4);
        uint64_t s = gpa & ~(size - 1), e = s + size;
        uint64_t below = e < x->top ? e : x->top;
        if (s < below)
            assert_true(x->hole_lo <= s && below <= x->hole_hi);
        return;
    }
    /* Expected page size: the largest aligned page clear of the hole. */
    uint64_t want = KB4;
    uint64_t b2 = gpa & ~(MB2 - 1), b1 = gpa & ~(GB1 - 1);
    if (!(x->hole_lo < b2 + MB2 && b2 < x->hole_hi))
        want = MB2;
    if (use_1g && b1 + GB1 <= x->top &&
        !(x->hole_lo < b1 + GB1 && b1 < x->hole_hi))
        want = GB1;
    assert_int_equal(size, want);
    assert_int_equal(e, (gpa & ~(want - 1)) | NPT_RWX |
                            (want > KB4 ? PTE_PS : 0));
    assert_int_equal(e & PTE_NX, 0);
}

/* ----------------------------------------------------------- building */

static void test_identity_4g_1g_pages(void **state)
{
    (void)state;
    uint64_t root;
    struct leaf_stats st = build_and_check(GB(4), 0, 0, true, &root);

    assert_int_equal(st.n1g, 4);
    assert_int_equal(st.n2m, 0);
    assert_int_equal(st.n4k, 0);
    assert_int_equal(pool.used, 2); /* PML4 + PDPT */

    uint64_t size;
    /* APM 15.25.5: U=1 on every level; spelled out as raw bits. */
    assert_int_equal(NPT_RWX, 0x7);
    assert_int_equal(npt_lookup(&mem, root, 0, &size), 0x87);
    assert_int_equal(size, GB1);
    {
        const uint64_t *pml4 = pool_pa_to_va(&pool, root);
        assert_int_equal(pml4[0] & 0xFFF, 0x7);
        assert_int_equal(pml4[0] & ~0x000FFFFFFFFFF000ull, 0x7);
    }
    assert_int_equal(npt_lookup(&mem, root, GB(4) - 1, &size),
                     GB(3) | NPT_RWX | PTE_PS);
    assert_int_equal(npt_lookup(&mem, root, GB(4), &size), 0);
    assert_int_equal(size, GB1);
    assert_int_equal(npt_lookup(&mem, root, GB(512), &size), 0);
    assert_int_equal(size, GB(512));
    /* NULL size is allowed; beyond 48 bits is never mapped. */
    assert_true(npt_lookup(&mem, root, 0x1000, NULL) != 0);
    assert_int_equal(npt_lookup(&mem, root, NPT_GPA_LIMIT, &size), 0);
    assert_int_equal(size, 0);
}

static void test_identity_4g_2m_pages(void **state)
{
    (void)state;
    uint64_t root;
    struct leaf_stats st = build_and_check(GB(4), 0, 0, false, &root);

    assert_int_equal(st.n1g, 0);
    assert_int_equal(st.n2m, 2048);
    assert_int_equal(st.n4k, 0);
    assert_int_equal(pool.used, 6); /* PML4 + PDPT + 4 PD */
    uint64_t size;
    assert_int_equal(npt_lookup(&mem, root, GB(3) + MB(5), &size),
                     (GB(3) + MB(4)) | NPT_RWX | PTE_PS);
    assert_int_equal(size, MB2);
}

static void test_top_not_1g_multiple(void **state)
{
    (void)state;
    uint64_t root;
    /* 5 GiB + 6 MiB + 1 rounds up to 5 GiB + 8 MiB. */
    uint64_t top = GB(5) + MB(6) + 1;
    struct leaf_stats st = build_and_check(top, 0, 0, true, &root);

    assert_int_equal(st.n1g, 5);
    assert_int_equal(st.n2m, 4);
    assert_int_equal(st.n4k, 0);
    assert_int_equal(pool.used, 3);
    uint64_t size;
    assert_true(npt_lookup(&mem, root, GB(5) + MB(8) - 1, &size) != 0);
    assert_int_equal(size, MB2);
    assert_int_equal(npt_lookup(&mem, root, GB(5) + MB(8), &size), 0);
    assert_int_equal(size, MB2);

    st = build_and_check(top, 0, 0, false, NULL);
    assert_int_equal(st.n2m, 5 * 512 + 4);
    assert_int_equal(pool.used, 1 + 1 + 6);

    /* Small tops: 0 maps nothing, 1 byte rounds to one 2 MiB page. */
    st = build_and_check(0, 0, 0, true, &root);
    assert_int_equal(st.mapped, 0);
    assert_int_equal(pool.used, 1);
    assert_int_equal(npt_lookup(&mem, root, 0, NULL), 0);
    st = build_and_check(1, 0, 0, true, NULL);
    assert_int_equal(st.n2m, 1);
    assert_int_equal(pool.used, 3);
}

static void test_large_top(void **state)
{
    (void)state;
    uint64_t root;
    /* Crosses a PML4 boundary (512 GiB). */
    struct leaf_stats st = build_and_check(GB(513), 0, 0, true, &root);
    assert_int_equal(st.n1g, 513);
    assert_int_equal(pool.used, 3);
    assert_int_equal(npt_lookup(&mem, root, GB(512) + 5, NULL),
                     GB(512) | NPT_RWX | PTE_PS);

    /* Clamped at 2^48 instead of wrapping. */
    st = build_and_check(UINT64_MAX, 0, 0, true, &root);
    assert_int_equal(st.n1g, 512 * 512);
    assert_int_equal(pool.used, 1 + 512);
    assert_true(npt_lookup(&mem, root, NPT_GPA_LIMIT - 1, NULL) != 0);
}

static void test_hole_2m_aligned(void **state)
{
    (void)state;
    uint64_t root;
    /* 4 MiB hole at 3 GiB + 2 MiB: the 1 GiB page splits, no 4K at all. */
    uint64_t hp = GB(3) + MB(2), hs = MB(4);
    struct leaf_stats st = build_and_check(GB(4), hp, hs, true, &root);

    assert_int_equal(st.n4k, 0);
    assert_int_equal(st.n1g, 3);
    assert_int_equal(st.n2m, 510);
    assert_int_equal(pool.used, 3);
    assert_int_equal(npt_lookup(&mem, root, hp, NULL), 0);
    assert_int_equal(npt_lookup(&mem, root, hp + hs - 1, NULL), 0);
    assert_true(npt_lookup(&mem, root, hp - 1, NULL) != 0);
    assert_true(npt_lookup(&mem, root, hp + hs, NULL) != 0);

    /* A whole 1 GiB hole costs no table at all in either mode. */
    st = build_and_check(GB(4), GB(1), GB(1), true, &root);
    assert_int_equal(st.n1g, 3);
    assert_int_equal(pool.used, 2);
    st = build_and_check(GB(4), GB(1), GB(1), false, &root);
    assert_int_equal(st.n2m, 3 * 512);
    assert_int_equal(pool.used, 5);
    uint64_t size;
    assert_int_equal(npt_lookup(&mem, root, GB(1) + 12345, &size), 0);
    assert_int_equal(size, GB1);
}

static void test_hole_unaligned(void **state)
{
    (void)state;
    uint64_t root;
    /* Five 4 KiB pages inside one 2 MiB page. */
    uint64_t hp = 0xB0003000ull, hs = 0x5000;
    struct leaf_stats st = build_and_check(GB(4), hp, hs, true, &root);

    assert_int_equal(st.n4k, 512 - 5);
    assert_int_equal(st.n2m, 511);
    assert_int_equal(st.n1g, 3);
    for (uint64_t a = hp; a < hp + hs; a += KB4)
        assert_int_equal(npt_lookup(&mem, root, a, NULL), 0);
    uint64_t size;
    assert_int_equal(npt_lookup(&mem, root, hp - KB4, &size),
                     (hp - KB4) | NPT_RWX);
    assert_int_equal(size, KB4);
    assert_int_equal(npt_lookup(&mem, root, hp + hs, &size),
                     (hp + hs) | NPT_RWX);
    assert_int_equal(size, KB4);

    /* A hole straddling 2 MiB boundaries: 4 KiB only at the two edges. */
    hp = MB(10) - 0x3000;             /* 3 pages before the 10 MiB line */
    hs = 0x3000 + MB(4) + 0x1000;     /* ... two whole 2 MiB, 1 page after */
    st = build_and_check(GB(2), hp, hs, false, &root);
    assert_int_equal(st.n4k, (512 - 3) + (512 - 1));
    assert_int_equal(st.n2m, 1024 - 4);
    assert_int_equal(npt_lookup(&mem, root, hp - 1, &size),
                     (hp - KB4) | NPT_RWX);
    assert_int_equal(npt_lookup(&mem, root, hp + hs, &size),
                     (hp + hs) | NPT_RWX);
    assert_int_equal(npt_lookup(&mem, root, MB(11), &size), 0);
    assert_int_equal(size, MB2);

    /* Unaligned hole bounds are widened to whole pages. */
    st = build_and_check(MB(4), 0x1801, 0x10, false, &root);
    assert_int_equal(npt_lookup(&mem, root, 0x1000, NULL), 0);
    assert_true(npt_lookup(&mem, root, 0x0FFF, NULL) != 0);
    assert_true(npt_lookup(&mem, root, 0x2000, NULL) != 0);
}

static void test_hole_edges(void **state)
{
    (void)state;
    uint64_t root;
    struct leaf_stats st;

    /* Page 0 unmapped (null-pointer trap). */
    st = build_and_check(GB(1), 0, KB4, true, &root);
    assert_int_equal(st.n4k, 511);
    assert_int_equal(st.n2m, 511);
    assert_int_equal(npt_lookup(&mem, root, 0, NULL), 0);
    assert_int_equal(npt_lookup(&mem, root, KB4, NULL), KB4 | NPT_RWX);

    /* The hole runs past top. */
    st = build_and_check(MB(8), MB(7), GB(1), true, &root);
    assert_int_equal(st.mapped, MB(7));
    assert_int_equal(st.n4k, 256);

    /* The hole covers everything. */
    st = build_and_check(GB(2), 0, GB(2), true, &root);
    assert_int_equal(st.mapped, 0);
    assert_int_equal(pool.used, 2);

    /* hole_pa + hole_size overflows: everything from hole_pa on is out. */
    st = build_and_check(GB(2), GB(1), UINT64_MAX, true, &root);
    assert_int_equal(st.mapped, GB(1));
    assert_int_equal(npt_lookup(&mem, root, GB(1), NULL), 0);

    /* A hole entirely past top changes nothing. */
    st = build_and_check(GB(2), GB(3), MB(2), true, &root);
    assert_int_equal(st.n1g, 2);
}

/* ----------------------------------------------------------- map_4k */

/* Every 4 KiB page of [lo, hi) other than `skip` still identity-maps with
 * the flags of the original leaf. */
static void check_identity_range(uint64_t root, uint64_t lo, uint64_t hi,
                                 uint64_t skip)
{
    for (uint64_t a = lo; a < hi; a += KB4) {
        uint64_t size, e;
        if (a == skip)
            continue;
        e = npt_lookup(&mem, root, a, &size);
        assert_true(e & PTE_P);
        assert_int_equal(e & PTE_ADDR_MASK & ~(size - 1), a & ~(size - 1));
        assert_int_equal(e & ~PTE_ADDR_MASK & ~PTE_PS, NPT_RWX);
    }
}

static void test_map_4k_splits_1g(void **state)
{
    (void)state;
    uint64_t root, size, e;
    uint64_t gpa = GB(1) + MB(6) + 0x3000, hpa = 0x123456789000ull;
    const uint64_t fl = PTE_P | PTE_U | PTE_NX | PTE_PCD;

    build_and_check(GB(4), 0, 0, true, &root);
    assert_int_equal(pool.used, 2);
    assert_true(npt_map_4k(&mem, root, gpa + 0x123, hpa | 0xABC, fl | PTE_ADDR_MASK));
    assert_int_equal(pool.used, 4); /* + PD + PT */
    assert_int_equal(npt_table_pages(&mem, root), 4);

    e = npt_lookup(&mem, root, gpa + 5, &size);
    assert_int_equal(size, KB4);
    assert_int_equal(e, hpa | fl);

    /* Same 2 MiB: 4 KiB identity pieces; other 2 MiB: 2 MiB pages. */
    e = npt_lookup(&mem, root, gpa - KB4, &size);
    assert_int_equal(e, (gpa - KB4) | NPT_RWX);
    assert_int_equal(size, KB4);
    e = npt_lookup(&mem, root, GB(1), &size);
    assert_int_equal(e, GB(1) | NPT_RWX | PTE_PS);
    assert_int_equal(size, MB2);
    e = npt_lookup(&mem, root, GB(2) - 1, &size);
    assert_int_equal(e, (GB(2) - MB2) | NPT_RWX | PTE_PS);
    /* Other 1 GiB pages untouched. */
    e = npt_lookup(&mem, root, GB(2), &size);
    assert_int_equal(e, GB(2) | NPT_RWX | PTE_PS);
    assert_int_equal(size, GB1);
    check_identity_range(root, GB(1), GB(2), gpa);

    /* Remapping the same page allocates nothing. */
    assert_true(npt_map_4k(&mem, root, gpa, gpa, NPT_RWX));
    assert_int_equal(pool.used, 4);
    check_identity_range(root, GB(1), GB(2), ~0ull);
    /* Unmapping with flags 0. */
    assert_true(npt_map_4k(&mem, root, gpa, 0, 0));
    assert_int_equal(npt_lookup(&mem, root, gpa, &size), 0);
    assert_int_equal(size, KB4);
}

static void test_map_4k_splits_2m(void **state)
{
    (void)state;
    uint64_t root, size, e;
    uint64_t gpa = MB(100) + 0x7000;

    build_and_check(GB(1), 0, 0, false, &root);
    assert_int_equal(pool.used, 3);
    assert_true(npt_map_4k(&mem, root, gpa, 0x5000, NPT_RWX));
    assert_int_equal(pool.used, 4);
    e = npt_lookup(&mem, root, gpa, &size);
    assert_int_equal(e, 0x5000 | NPT_RWX);
    assert_int_equal(size, KB4);
    check_identity_range(root, MB(96), MB(104), gpa);
    e = npt_lookup(&mem, root, MB(102), &size);
    assert_int_equal(e, MB(102) | NPT_RWX | PTE_PS);
}

static void test_map_4k_unmapped_region(void **state)
{
    (void)state;
    uint64_t root, size;

    /* Inside the hole (a 2 MiB hole, no PT exists yet). */
    build_and_check(GB(1), MB(2), MB(2), false, &root);
    assert_int_equal(pool.used, 3);
    assert_true(npt_map_4k(&mem, root, MB(3), 0x77000, NPT_RWX));
    assert_int_equal(pool.used, 4);
    assert_int_equal(npt_lookup(&mem, root, MB(3), &size), 0x77000 | NPT_RWX);
    assert_int_equal(npt_lookup(&mem, root, MB(3) + KB4, &size), 0);
    assert_int_equal(size, KB4);

    /* Far beyond top: PDPT, PD and PT are all new. */
    assert_true(npt_map_4k(&mem, root, GB(700), 0x1000, NPT_RWX));
    assert_int_equal(pool.used, 7);
    assert_int_equal(npt_table_pages(&mem, root), 7);
    assert_int_equal(npt_lookup(&mem, root, GB(700), NULL), 0x1000 | NPT_RWX);
    assert_false(npt_map_4k(&mem, root, NPT_GPA_LIMIT, 0, NPT_RWX));
}

/* Attributes of a large page survive both splits; PAT moves from bit 12
 * (large leaf) to bit 7 (4 KiB leaf). */
static void test_split_keeps_attributes(void **state)
{
    (void)state;
    uint64_t root, size, e;
    const uint64_t extra = PTE_PCD | PTE_PWT | PTE_A | PTE_D | PTE_NX |
                           (1ull << 12) /* PAT */;

    build_and_check(GB(2), 0, 0, true, &root);
    uint64_t *pml4 = pool_pa_to_va(&pool, root);
    uint64_t *pdpt = pool_pa_to_va(&pool, pml4[0] & PTE_ADDR_MASK);
    pdpt[1] |= extra;

    assert_true(npt_map_4k(&mem, root, GB(1) + MB(4), GB(1) + MB(4), NPT_RWX));
    e = npt_lookup(&mem, root, GB(1) + MB(8), &size);
    assert_int_equal(size, MB2);
    assert_int_equal(e, (GB(1) + MB(8)) | NPT_RWX | PTE_PS | extra);
    e = npt_lookup(&mem, root, GB(1) + MB(4) + KB4, &size);
    assert_int_equal(size, KB4);
    assert_int_equal(e, (GB(1) + MB(4) + KB4) | NPT_RWX | (extra & ~(1ull << 12)) |
                            (1ull << 7));
    /* Untouched first 1 GiB. */
    assert_int_equal(npt_lookup(&mem, root, 0, &size), NPT_RWX | PTE_PS);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    static const struct { uint64_t top, hp, hs; bool g; } cases[] = {
        { GB(4), 0, 0, true },
        { GB(4), 0, 0, false },
        { GB(3), 0xB0003000ull, 0x5000, true },
        { GB(600), MB(10) - 0x3000, MB(4) + 0x4000, true },
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        pool_reset(POOL_PAGES);
        uint64_t root = npt_build_identity(&mem, cases[c].top, cases[c].hp,
                                           cases[c].hs, cases[c].g);
        size_t need = pool.used;
        assert_true(root != 0);
        for (size_t lim = 0; lim < need; lim++) {
            pool_reset(lim);
            assert_int_equal(npt_build_identity(&mem, cases[c].top,
                                                cases[c].hp, cases[c].hs,
                                                cases[c].g), 0);
            assert_int_equal(pool.used, lim);
        }
        pool_reset(need);
        assert_true(npt_build_identity(&mem, cases[c].top, cases[c].hp,
                                       cases[c].hs, cases[c].g) != 0);
    }

    /* map_4k running out half way leaves the mapping as it was. */
    for (size_t spare = 0; spare < 2; spare++) {
        uint64_t root;
        build_and_check(GB(2), 0, 0, true, &root);
        pool.limit = pool.used + spare;
        assert_false(npt_map_4k(&mem, root, GB(1) + 0x5000, 0x9000, NPT_RWX));
        check_identity_range(root, GB(1), GB(1) + MB(4), ~0ull);
        assert_int_equal(npt_lookup(&mem, root, GB(1) + MB(600), NULL) &
                             ~PTE_ADDR_MASK & ~PTE_PS, NPT_RWX);
        pool.limit = POOL_PAGES;
        assert_true(npt_map_4k(&mem, root, GB(1) + 0x5000, 0x9000, NPT_RWX));
        assert_int_equal(npt_lookup(&mem, root, GB(1) + 0x5000, NULL),
                         0x9000 | NPT_RWX);
    }
}

/* Random tops, holes and modes; full structure check + random lookups. */
static void test_randomized(void **state)
{
    (void)state;
    for (int iter = 0; iter < 300; iter++) {
        uint64_t r = rnd();
        bool use_1g = r & 1;
        /* Up to 6 GiB, sometimes exactly aligned. */
        uint64_t top = rnd() % GB(6);
        if (r & 2)
            top &= ~(MB2 - 1);
        uint64_t hp = 0, hs = 0;
        switch ((r >> 2) % 4) {
        case 0:
            break; /* no hole */
        case 1:    /* small, 4 KiB granular */
            hp = (rnd() % GB(6)) & ~(KB4 - 1);
            hs = ((rnd() % 64) + 1) * KB4;
            break;
        case 2:    /* medium, 2 MiB aligned */
            hp = (rnd() % GB(6)) & ~(MB2 - 1);
            hs = ((rnd() % 700) + 1) * MB2;
            break;
        default:   /* big and ragged */
            hp = (rnd() % GB(6)) & ~(KB4 - 1);
            hs = (rnd() % GB(2)) & ~(KB4 - 1);
            break;
        }
        uint64_t root;
        build_and_check(top, hp, hs, use_1g, &root);

        struct expect x = make_expect(top, hp, hs);
        for (int k = 0; k < 200; k++) {
            uint64_t gpa;
            switch (rnd() % 4) {
            case 0: /* near the hole edges */
                gpa = (rnd() & 1 ? x.hole_lo : x.hole_hi) +
                      (rnd() % (4 * KB4)) - 2 * KB4;
                break;
            case 1: /* near top */
                gpa = x.top + (rnd() % (4 * KB4)) - 2 * KB4;
                break;
            default:
                gpa = rnd() % GB(7);
                break;
            }
            if (gpa >= NPT_GPA_LIMIT)
                continue;
            check_lookup(root, &x, use_1g, gpa);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_4g_1g_pages),
        cmocka_unit_test(test_identity_4g_2m_pages),
        cmocka_unit_test(test_top_not_1g_multiple),
        cmocka_unit_test(test_large_top),
        cmocka_unit_test(test_hole_2m_aligned),
        cmocka_unit_test(test_hole_unaligned),
        cmocka_unit_test(test_hole_edges),
        cmocka_unit_test(test_map_4k_splits_1g),
        cmocka_unit_test(test_map_4k_splits_2m),
        cmocka_unit_test(test_map_4k_unmapped_region),
        cmocka_unit_test(test_split_keeps_attributes),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_randomized),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
