/* The IOMMU event log reader (hv/memory/iommu_events.c): entries handed on in
 * order across the ring's wrap, each cleared and never handed on twice,
 * at most one lap; and the rate limit of the refusal log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/memory/iommu_events.h"

#define ENTRIES 8u

static struct amdvi_event ring[ENTRIES];
static uint32_t seen[64], nseen;

static void record(const struct amdvi_event *e, void *ctx)
{
    (void)ctx;
    assert_true(nseen < 64);
    seen[nseen++] = e->d[2];
}

/* An IO_PAGE_FAULT for address `tag` in slot i. */
static void put_fault(uint32_t i, uint32_t tag)
{
    ring[i] = (struct amdvi_event){ .d = { 0x18, AMDVI_EVENT_IO_PAGE_FAULT << AMDVI_EVENT_CODE_SHIFT,
                                           tag, 0 } };
}

static void test_in_order_across_the_wrap(void **state)
{
    (void)state;
    memset(ring, 0, sizeof ring);
    nseen = 0;
    uint32_t head = 6 * 16;
    put_fault(6, 100);
    put_fault(7, 101);
    put_fault(0, 102);
    assert_int_equal(iommu_events_drain(ring, ENTRIES, &head, record, NULL), 3);
    assert_int_equal(head, 1 * 16);
    assert_int_equal(nseen, 3);
    assert_int_equal(seen[0], 100);
    assert_int_equal(seen[1], 101);
    assert_int_equal(seen[2], 102);
    for (uint32_t i = 0; i < ENTRIES; i++)
        assert_int_equal(ring[i].d[1], 0); /* consumed entries are cleared */
    assert_int_equal(iommu_events_drain(ring, ENTRIES, &head, record, NULL), 0);
    put_fault(1, 103);
    assert_int_equal(iommu_events_drain(ring, ENTRIES, &head, record, NULL), 1);
    assert_int_equal(seen[3], 103);
    assert_int_equal(head, 2 * 16);
}

/* A ring the IOMMU filled completely: one lap, then the caller's turn. */
static void test_full_ring_one_lap(void **state)
{
    (void)state;
    nseen = 0;
    for (uint32_t i = 0; i < ENTRIES; i++)
        put_fault(i, 200 + i);
    uint32_t head = 3 * 16;
    assert_int_equal(iommu_events_drain(ring, ENTRIES, &head, record, NULL), ENTRIES);
    assert_int_equal(head, 3 * 16);
    for (uint32_t i = 0; i < ENTRIES; i++)
        assert_int_equal(seen[i], 200 + (3 + i) % ENTRIES);
}

static void test_rate_limit(void **state)
{
    (void)state;
    uint64_t logged = 0;
    for (uint64_t n = 1; n <= 1000000; n++)
        logged += iommu_fault_logged(n, 16);
    assert_int_equal(logged, 16 + 15); /* 1..16, then 32, 64, ..., 2^19 */
    assert_true(iommu_fault_logged(16, 16));
    assert_false(iommu_fault_logged(17, 16));
    assert_true(iommu_fault_logged(1024, 16));
    assert_false(iommu_fault_logged(1025, 16));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_across_the_wrap),
        cmocka_unit_test(test_full_ring_one_lap),
        cmocka_unit_test(test_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
