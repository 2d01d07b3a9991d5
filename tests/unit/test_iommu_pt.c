/* The I/O page table of DMA protection (hv/memory/iommu_pt.c): every device
 * address below top is identity-mapped read/write except the hypervisor's
 * region, which is refused; nothing above top is mapped; few table pages.
 * Checked by walking the built table as the IOMMU walks it, at every 4 KiB
 * around the hole and at random addresses elsewhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/amd_iommu.h"
#include "hv/memory/iommu_pt.h"

#define KB4 PAGE_SIZE
#define GB(x) ((uint64_t)(x) << 30)
#define MB(x) ((uint64_t)(x) << 20)
#define POOL_PAGES 600u /* a 2^48 map: root and 512 PDPTs */
#include "tests/unit/fake_page_pool.h"
#include "tests/unit/xorshift.h"

static int setup(void **state)
{
    (void)state;
    pool.mem = aligned_alloc(KB4, (size_t)POOL_PAGES * KB4);
    pool_reset(POOL_PAGES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(pool.mem);
    return 0;
}

static void expect_allowed(uint64_t root, uint64_t addr)
{
    uint64_t pa = ~0ULL;
    if (!iommu_pt_lookup(&mem, root, addr, &pa) || pa != addr)
        fail_msg("DMA to %#lx should reach %#lx, got %s %#lx", addr, addr,
                 pa == ~0ULL ? "refused" : "", pa);
}

static void expect_refused(uint64_t root, uint64_t addr)
{
    uint64_t pa;
    if (iommu_pt_lookup(&mem, root, addr, &pa))
        fail_msg("DMA to %#lx should be refused, reaches %#lx", addr, pa);
}

/* A region as the loader makes it: 2 MiB aligned and sized. */
static void test_hole_refused_rest_identity(void **state)
{
    (void)state;
    const uint64_t hole = GB(3) + MB(10), size = MB(64), top = GB(64);
    uint64_t root = iommu_pt_build(&mem, top, hole, size);
    assert_true(root);
    for (uint64_t a = hole - MB(4); a < hole + size + MB(4); a += KB4) {
        if (a >= hole && a < hole + size)
            expect_refused(root, a + (a & 0xFF8));
        else
            expect_allowed(root, a + 0x18);
    }
    uint64_t r = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 100000; i++) {
        uint64_t a = xorshift64s(&r) % top;
        if (a >= hole && a < hole + size)
            expect_refused(root, a);
        else
            expect_allowed(root, a);
    }
    expect_refused(root, top);
    expect_refused(root, top + GB(1) + 5);
    /* the empty table, root, one PDPT, the PD around the hole: 1 GiB pages
     * elsewhere */
    assert_true(pool.used <= 4);
}

/* Unaligned edges still refuse every byte of the hole (widened to pages)
 * and allow the rest of the pages around it. */
static void test_unaligned_hole(void **state)
{
    (void)state;
    const uint64_t hole = GB(1) - KB4 * 3 + 100, size = KB4 * 5;
    uint64_t root = iommu_pt_build(&mem, GB(4), hole, size);
    assert_true(root);
    uint64_t lo = hole & ~(KB4 - 1), hi = (hole + size + KB4 - 1) & ~(KB4 - 1);
    for (uint64_t a = lo - MB(2); a < hi + MB(2); a += KB4 / 2) {
        if (a >= lo && a < hi)
            expect_refused(root, a);
        else
            expect_allowed(root, a);
    }
}

/* No hole: everything below top allowed, nothing above; and a top past
 * the 4-level limit is clamped to 2^48 (the root's reach). */
static void test_top_and_no_hole(void **state)
{
    (void)state;
    uint64_t root0 = iommu_pt_build(&mem, 1ULL << 52, 0, 0);
    assert_true(root0);
    expect_allowed(root0, (1ULL << 48) - 4096);
    expect_refused(root0, 1ULL << 48); /* outside the table: nothing */
    pool_reset(POOL_PAGES);
    uint64_t root = iommu_pt_build(&mem, GB(2), 0, 0);
    assert_true(root);
    expect_allowed(root, 0);
    expect_allowed(root, GB(2) - 1);
    expect_refused(root, GB(2));
    assert_int_equal(pool.used, 3);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    pool_reset(2);
    assert_int_equal(iommu_pt_build(&mem, GB(64), GB(3), MB(64)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hole_refused_rest_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unaligned_hole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_and_no_hole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
