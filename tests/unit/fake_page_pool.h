/* A page pool with fake physical addresses for the nested-page-table unit
 * tests (test_npt.c, test_npt02.c): table pages come from host memory, but
 * their "physical" addresses are offset, so any place that uses a PA as a
 * pointer (or a VA as a PA) is caught by pool_pa_to_va's checks. Include
 * once per test, after cmocka and hv/memory/npt.h; define KB4 before. */
#pragma once

#define FAKE_PA_BASE 0x00000ABC00000000ULL

struct pool {
    uint8_t *mem;
    size_t used;
    size_t limit; /* pages the allocator may hand out */
};

static struct pool pool;

static void *pool_alloc(void *ctx, uint64_t *pa)
{
    struct pool *p = ctx;
    uint8_t *va;

    if (p->used >= p->limit)
        return NULL;
    va = p->mem + p->used * KB4;
    memset(va, 0, KB4);
    *pa = FAKE_PA_BASE + p->used * KB4;
    p->used++;
    return va;
}

static void *pool_pa_to_va(void *ctx, uint64_t pa)
{
    struct pool *p = ctx;

    assert_true(pa >= FAKE_PA_BASE);
    assert_int_equal(pa % KB4, 0);
    assert_true((pa - FAKE_PA_BASE) / KB4 < p->used);
    return p->mem + (pa - FAKE_PA_BASE);
}

static const struct npt_mem mem = {
    .alloc_page = pool_alloc,
    .pa_to_va = pool_pa_to_va,
    .ctx = &pool,
};

static void pool_reset(size_t limit)
{
    pool.used = 0;
    pool.limit = limit;
}
