/* Unit tests for lib/page_alloc.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/page_alloc.h"

#define PG 4096ull
#define MAXWORDS 64
#define SENTINEL 0xdeadbeefcafef00dull

/* Bitmap storage with a sentinel word right after the words in use. */
static uint64_t bm[MAXWORDS + 1];

static void setup_pa(struct page_alloc *pa, uint64_t base, uint64_t n)
{
    size_t w = page_alloc_bitmap_words(n);
    assert_true(w <= MAXWORDS);
    memset(bm, 0xa5, sizeof(bm));
    bm[w] = SENTINEL;
    page_alloc_init(pa, base, n, bm);
}

static void check_sentinel(const struct page_alloc *pa)
{
    assert_true(bm[page_alloc_bitmap_words(pa->npages)] == SENTINEL);
}

static void test_bitmap_words(void **state)
{
    (void)state;
    assert_int_equal(page_alloc_bitmap_words(0), 0);
    assert_int_equal(page_alloc_bitmap_words(1), 1);
    assert_int_equal(page_alloc_bitmap_words(63), 1);
    assert_int_equal(page_alloc_bitmap_words(64), 1);
    assert_int_equal(page_alloc_bitmap_words(65), 2);
    assert_int_equal(page_alloc_bitmap_words(128), 2);
    assert_int_equal(page_alloc_bitmap_words(129), 3);
}

static void test_alloc_all_then_fail(void **state)
{
    (void)state;
    struct page_alloc pa;
    const uint64_t base = 0x100000, n = 100;

    setup_pa(&pa, base, n);
    assert_int_equal(page_alloc_free_pages(&pa), n);
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(page_alloc(&pa, 1, 1), base + i * PG);
        assert_int_equal(page_alloc_free_pages(&pa), n - i - 1);
    }
    assert_int_equal(page_alloc(&pa, 1, 1), 0);
    assert_int_equal(page_alloc(&pa, 1, 1), 0);
    assert_int_equal(page_alloc_free_pages(&pa), 0);
    check_sentinel(&pa);
}

static void test_free_and_reuse(void **state)
{
    (void)state;
    struct page_alloc pa;
    const uint64_t base = 0x200000, n = 70;

    setup_pa(&pa, base, n);
    for (uint64_t i = 0; i < n; i++)
        assert_int_not_equal(page_alloc(&pa, 1, 1), 0);

    assert_true(page_free(&pa, base + 65 * PG, 1));
    assert_true(page_free(&pa, base + 37 * PG, 1));
    assert_true(page_free(&pa, base + 3 * PG, 1));
    assert_int_equal(page_alloc_free_pages(&pa), 3);
    /* First fit: lowest free page first. */
    assert_int_equal(page_alloc(&pa, 1, 1), base + 3 * PG);
    assert_int_equal(page_alloc(&pa, 1, 1), base + 37 * PG);
    assert_int_equal(page_alloc(&pa, 1, 1), base + 65 * PG);
    assert_int_equal(page_alloc(&pa, 1, 1), 0);

    /* Free a run and get the same run back. */
    assert_true(page_free(&pa, base + 10 * PG, 20));
    assert_int_equal(page_alloc(&pa, 20, 1), base + 10 * PG);
    check_sentinel(&pa);
}

static void test_whole_region_and_too_big(void **state)
{
    (void)state;
    struct page_alloc pa;
    const uint64_t base = 0x400000, n = 130;

    setup_pa(&pa, base, n);
    assert_int_equal(page_alloc(&pa, n + 1, 1), 0);
    assert_int_equal(page_alloc(&pa, UINT64_MAX, 1), 0);
    assert_int_equal(page_alloc(&pa, 0, 1), 0);
    assert_int_equal(page_alloc_free_pages(&pa), n);
    assert_int_equal(page_alloc(&pa, n, 1), base);
    assert_int_equal(page_alloc_free_pages(&pa), 0);
    assert_true(page_free(&pa, base, n));
    assert_int_equal(page_alloc_free_pages(&pa), n);
    check_sentinel(&pa);
}

static void test_alignment(void **state)
{
    (void)state;
    struct page_alloc pa;
    /* Region deliberately not 2 MiB aligned. */
    const uint64_t base = 0x1000, n = 2048;
    const uint64_t two_mib = 512;

    setup_pa(&pa, base, n);
    uint64_t small = page_alloc(&pa, 1, 1);
    assert_int_equal(small, base);

    uint64_t big = page_alloc(&pa, two_mib, two_mib);
    assert_int_equal(big, 0x200000);
    assert_int_equal(big % (two_mib * PG), 0);

    uint64_t big2 = page_alloc(&pa, two_mib, two_mib);
    assert_int_equal(big2, 0x400000);

    /* Only 0x600000..0x801000 (513 pages) is left above; 0x600000 fits,
     * 0x800000 would need pages past the end. */
    uint64_t big3 = page_alloc(&pa, two_mib, two_mib);
    assert_int_equal(big3, 0x600000);
    assert_int_equal(page_alloc(&pa, two_mib, two_mib), 0);

    /* The gap below 0x200000 is still usable by unaligned allocations. */
    assert_int_equal(page_alloc(&pa, 1, 1), base + PG);

    /* Smaller alignments. */
    uint64_t a8 = page_alloc(&pa, 3, 8);
    assert_int_equal(a8 % (8 * PG), 0);
    assert_int_equal(a8, 0x8000);
    check_sentinel(&pa);
}

static void test_bad_alignment_args(void **state)
{
    (void)state;
    struct page_alloc pa;

    setup_pa(&pa, 0x10000, 64);
    assert_int_equal(page_alloc(&pa, 1, 3), 0);
    assert_int_equal(page_alloc(&pa, 1, 6), 0);
    assert_int_equal(page_alloc(&pa, 1, 0x8000000000000001ull), 0);
    assert_int_equal(page_alloc_free_pages(&pa), 64);
    /* 0 is treated as 1. */
    assert_int_equal(page_alloc(&pa, 1, 0), 0x10000);
    /* Alignment larger than the whole region: no fit. */
    assert_int_equal(page_alloc(&pa, 1, 1ull << 40), 0);
    check_sentinel(&pa);
}

static void test_runs_across_word_boundaries(void **state)
{
    (void)state;
    struct page_alloc pa;
    const uint64_t base = 0x800000, n = 200;

    setup_pa(&pa, base, n);
    assert_int_equal(page_alloc(&pa, 60, 1), base);
    assert_int_equal(page_alloc(&pa, 10, 1), base + 60 * PG);  /* 60..69 */
    assert_int_equal(page_alloc(&pa, 130, 1), base + 70 * PG); /* 70..199 */
    assert_int_equal(page_alloc_free_pages(&pa), 0);

    /* Free 62..193 except page 128: the 100-page run must skip it. */
    assert_true(page_free(&pa, base + 62 * PG, 132));
    page_alloc_reserve(&pa, base + 128 * PG, 1);
    assert_int_equal(page_alloc(&pa, 100, 1), 0);
    /* 67 pages do not fit below page 128 (62..127 is 66 pages). */
    assert_int_equal(page_alloc(&pa, 67, 1), 0);
    assert_int_equal(page_alloc(&pa, 66, 1), base + 62 * PG);  /* 62..127 */
    assert_int_equal(page_alloc(&pa, 65, 1), base + 129 * PG); /* 129..193 */
    assert_int_equal(page_alloc_free_pages(&pa), 0);
    check_sentinel(&pa);
}

static void test_fragmentation(void **state)
{
    (void)state;
    struct page_alloc pa;
    const uint64_t base = 0x100000, n = 16;

    setup_pa(&pa, base, n);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(page_alloc(&pa, 1, 1), base + i * PG);
    for (uint64_t i = 0; i < n; i += 2)
        assert_true(page_free(&pa, base + i * PG, 1));
    assert_int_equal(page_alloc_free_pages(&pa), 8);
    /* 8 pages free, but no two adjacent. */
    assert_int_equal(page_alloc(&pa, 2, 1), 0);
    assert_int_equal(page_alloc_free_pages(&pa), 8);
    assert_int_equal(page_alloc(&pa, 1, 1), base);
    /* Free page 3: pages 2..3 now form a run of 2. */
    assert_true(page_free(&pa, base + 3 * PG, 1));
    assert_int_equal(page_alloc(&pa, 2, 1), base + 2 * PG);
    check_sentinel(&pa);
}

static void test_reserve(void **state)
{
    (void)state;
    struct page_alloc pa;
    const uint64_t base = 0x1000000, n = 100;

    setup_pa(&pa, base, n);
    page_alloc_reserve(&pa, base, 10); /* core image at the start */
    assert_int_equal(page_alloc_free_pages(&pa), 90);
    assert_int_equal(page_alloc(&pa, 1, 1), base + 10 * PG);

    /* Overlapping an already used range counts only new pages. */
    page_alloc_reserve(&pa, base + 5 * PG, 10); /* 5..14, new: 11..14 */
    assert_int_equal(page_alloc_free_pages(&pa), 85);
    assert_int_equal(page_alloc(&pa, 1, 1), base + 15 * PG);

    /* Unaligned address: rounded down to its page. */
    page_alloc_reserve(&pa, base + 20 * PG + 123, 1);
    assert_int_equal(page_alloc_free_pages(&pa), 83);
    assert_int_equal(page_alloc(&pa, 5, 1), base + 21 * PG);

    /* Partly below and partly above the region: clipped. */
    page_alloc_reserve(&pa, base - 4 * PG, 5); /* only page 0 in region */
    assert_int_equal(page_alloc_free_pages(&pa), 78);
    page_alloc_reserve(&pa, base + 98 * PG, 50); /* pages 98, 99 */
    assert_int_equal(page_alloc_free_pages(&pa), 76);

    /* Wholly outside, zero length, huge length: no harm. */
    page_alloc_reserve(&pa, 0, 16);
    page_alloc_reserve(&pa, base + n * PG, 16);
    page_alloc_reserve(&pa, base + 50 * PG, 0);
    assert_int_equal(page_alloc_free_pages(&pa), 76);
    page_alloc_reserve(&pa, base + 90 * PG, UINT64_MAX);
    assert_int_equal(page_alloc_free_pages(&pa), 68);

    /* Reserved pages can be freed back (e.g. loader scratch). */
    assert_true(page_free(&pa, base, 5));
    assert_int_equal(page_alloc(&pa, 5, 1), base);
    check_sentinel(&pa);
}

static void test_double_free_rejected(void **state)
{
    (void)state;
    struct page_alloc pa;
    const uint64_t base = 0x100000, n = 64;

    setup_pa(&pa, base, n);
    uint64_t a = page_alloc(&pa, 3, 1);
    uint64_t b = page_alloc(&pa, 1, 1);
    assert_int_equal(a, base);
    assert_int_equal(b, base + 3 * PG);

    assert_true(page_free(&pa, a, 3));
    assert_false(page_free(&pa, a, 3));
    assert_false(page_free(&pa, a + PG, 1));
    assert_int_equal(page_alloc_free_pages(&pa), 63);

    /* A range that is partly used, partly free: rejected, nothing freed. */
    assert_false(page_free(&pa, a + 2 * PG, 2)); /* page 2 free, 3 used */
    assert_int_equal(page_alloc_free_pages(&pa), 63);
    assert_int_equal(page_alloc(&pa, 3, 1), base); /* 0..2 */
    assert_int_equal(page_alloc(&pa, 1, 1), base + 4 * PG); /* 3 still used */

    /* Never-allocated page. */
    assert_false(page_free(&pa, base + 40 * PG, 1));
    check_sentinel(&pa);
}

static void test_bad_free_rejected(void **state)
{
    (void)state;
    struct page_alloc pa;
    const uint64_t base = 0x100000, n = 10;

    setup_pa(&pa, base, n);
    assert_int_equal(page_alloc(&pa, n, 1), base);

    assert_false(page_free(&pa, base - PG, 1));      /* below */
    assert_false(page_free(&pa, 0, 1));              /* far below */
    assert_false(page_free(&pa, base + n * PG, 1));  /* just past the end */
    assert_false(page_free(&pa, base + 9 * PG, 2));  /* straddles the end */
    assert_false(page_free(&pa, base, UINT64_MAX));  /* overflow */
    assert_false(page_free(&pa, base + 1, 1));       /* misaligned */
    assert_false(page_free(&pa, base + PG + 8, 1));  /* misaligned */
    assert_false(page_free(&pa, base, 0));           /* empty */
    assert_false(page_free(&pa, UINT64_MAX & ~(PG - 1), 1));
    assert_int_equal(page_alloc_free_pages(&pa), 0);
    assert_true(page_free(&pa, base + 9 * PG, 1));
    assert_int_equal(page_alloc_free_pages(&pa), 1);
    check_sentinel(&pa);
}

static void test_base_zero_never_returns_zero(void **state)
{
    (void)state;
    struct page_alloc pa;

    setup_pa(&pa, 0, 8);
    assert_int_equal(page_alloc_free_pages(&pa), 7);
    for (uint64_t i = 1; i < 8; i++)
        assert_int_equal(page_alloc(&pa, 1, 1), i * PG);
    assert_int_equal(page_alloc(&pa, 1, 1), 0);
    check_sentinel(&pa);
}

static void test_misaligned_base_is_empty(void **state)
{
    (void)state;
    struct page_alloc pa;

    setup_pa(&pa, 0x100800, 16);
    assert_int_equal(pa.npages, 0);
    assert_int_equal(page_alloc_free_pages(&pa), 0);
    assert_int_equal(page_alloc(&pa, 1, 1), 0);
    assert_false(page_free(&pa, 0x100000, 1));
    page_alloc_reserve(&pa, 0x100000, 4);
    assert_int_equal(page_alloc_free_pages(&pa), 0);
}

static void test_empty_region(void **state)
{
    (void)state;
    struct page_alloc pa;

    setup_pa(&pa, 0x100000, 0);
    assert_int_equal(page_alloc_free_pages(&pa), 0);
    assert_int_equal(page_alloc(&pa, 1, 1), 0);
    assert_false(page_free(&pa, 0x100000, 1));
    check_sentinel(&pa);
}

/* ---- randomized test against a reference model ---- */

#define RN 300 /* not a multiple of 64 */
#define RBASE (0x40000000ull + 0x3000ull)
#define RMAXBLK 400

static bool model[RN];
struct blk { uint64_t addr, n; };

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Lowest index whose physical page number is align-aligned and whose run of
 * n pages is free in the model; RN when none. */
static uint64_t model_fit(uint64_t n, uint64_t align)
{
    for (uint64_t i = 0; i + n <= RN; i++) {
        if (((RBASE / PG) + i) % align)
            continue;
        uint64_t j = 0;
        while (j < n && !model[i + j])
            j++;
        if (j == n)
            return i;
    }
    return RN;
}

static uint64_t model_free_count(void)
{
    uint64_t c = 0;
    for (int i = 0; i < RN; i++)
        c += !model[i];
    return c;
}

static void test_random_against_model(void **state)
{
    (void)state;
    struct page_alloc pa;
    static struct blk blks[RMAXBLK];
    int nblk = 0;
    uint32_t seed = 0x1234567;
    int n_ok = 0, n_fail = 0, n_aligned = 0, n_free = 0;

    setup_pa(&pa, RBASE, RN);
    memset(model, 0, sizeof(model));

    for (int op = 0; op < 30000; op++) {
        uint32_t r = rng(&seed) % 100;

        if (r < 50 && nblk < RMAXBLK) {
            uint64_t n = 1 + rng(&seed) % (r < 5 ? 64 : 8);
            uint64_t align = 1ull << (rng(&seed) % 6);
            uint64_t want = model_fit(n, align);
            uint64_t got = page_alloc(&pa, n, align);
            if (want == RN) {
                assert_int_equal(got, 0);
                n_fail++;
            } else {
                n_ok++;
                n_aligned += align > 1;
                assert_int_equal(got, RBASE + want * PG);
                for (uint64_t j = 0; j < n; j++)
                    model[want + j] = true;
                blks[nblk++] = (struct blk){ got, n };
            }
        } else if (r < 90 && nblk > 0) {
            int k = (int)(rng(&seed) % (uint32_t)nblk);
            assert_true(page_free(&pa, blks[k].addr, blks[k].n));
            uint64_t i = (blks[k].addr - RBASE) / PG;
            for (uint64_t j = 0; j < blks[k].n; j++)
                model[i + j] = false;
            /* Freeing it again must fail and change nothing. */
            assert_false(page_free(&pa, blks[k].addr, blks[k].n));
            blks[k] = blks[--nblk];
            n_free++;
        } else if (r < 95) {
            /* Free a random small range. If any page in it is free or it
             * leaves the region it must be rejected. Fully used ranges are
             * skipped: freeing them would break the block bookkeeping. */
            uint64_t i = rng(&seed) % RN;
            uint64_t n = 1 + rng(&seed) % 4;
            bool any_free = false;
            for (uint64_t j = i; j < i + n && j < RN; j++)
                any_free |= !model[j];
            if (any_free || i + n > RN)
                assert_false(page_free(&pa, RBASE + i * PG, n));
        } else {
            /* Out-of-region and misaligned frees. */
            assert_false(page_free(&pa, RBASE - PG, 1));
            assert_false(page_free(&pa, RBASE + RN * PG, 1));
            assert_false(page_free(&pa, RBASE + 7, 1));
        }
        assert_int_equal(page_alloc_free_pages(&pa), model_free_count());
    }
    /* The mix must really have exercised every path. */
    assert_true(n_ok > 1000 && n_fail > 1000 && n_aligned > 500);
    assert_true(n_free > 1000);

    /* Release everything: the allocator must be back to all free. */
    while (nblk > 0) {
        nblk--;
        assert_true(page_free(&pa, blks[nblk].addr, blks[nblk].n));
    }
    assert_int_equal(page_alloc_free_pages(&pa), RN);
    assert_int_equal(page_alloc(&pa, RN, 1), RBASE);
    check_sentinel(&pa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bitmap_words),
        cmocka_unit_test(test_alloc_all_then_fail),
        cmocka_unit_test(test_free_and_reuse),
        cmocka_unit_test(test_whole_region_and_too_big),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_bad_alignment_args),
        cmocka_unit_test(test_runs_across_word_boundaries),
        cmocka_unit_test(test_fragmentation),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_double_free_rejected),
        cmocka_unit_test(test_bad_free_rejected),
        cmocka_unit_test(test_base_zero_never_returns_zero),
        cmocka_unit_test(test_misaligned_base_is_empty),
        cmocka_unit_test(test_empty_region),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
