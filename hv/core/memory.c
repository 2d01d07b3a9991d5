#include "hv/core/memory.h"
#include "hv/core/log.h"
#include "lib/newlib_glue.h"
#include "lib/spinlock.h"

#define MIB (1024ULL * 1024)
#define HEAP_MAX (4 * MIB)
#define REGION_MAX_PAGES (1024 * MIB / 4096) /* memory_mb is at most 1024 */

static uint64_t region_pa, region_size, image_size, pool_offset;
static uint64_t heap_size;
static struct page_alloc pages;
static uint64_t page_bitmap[REGION_MAX_PAGES / 64];
static struct spinlock pages_lock; /* every CPU allocates (NPT02 pages) */

uint64_t hv_va_to_pa(const void *va)
{
    return (uint64_t)va - HV_VBASE + region_pa;
}

void *hv_pa_to_va(uint64_t pa)
{
    return (void *)(pa - region_pa + HV_VBASE);
}

bool hv_owns_pa(uint64_t pa, uint64_t len)
{
    return pa < region_pa + region_size && pa + len > region_pa;
}

struct page_alloc *hv_pages(void)
{
    return &pages;
}

void memory_init(const struct hv_boot_info *info)
{
    region_pa = info->region_pa;
    region_size = info->region_size;
    image_size = info->image_size;
    pool_offset = info->pool_offset;

    /* newlib's heap first (a small fixed share), pages after it. */
    uint64_t pool = region_size - pool_offset;
    heap_size = pool / 8 < HEAP_MAX ? (pool / 8) & ~4095ULL : HEAP_MAX;
    heap_init(hv_pa_to_va(region_pa + pool_offset), heap_size);

    uint64_t pages_pa = region_pa + pool_offset + heap_size;
    uint64_t npages = (region_pa + region_size - pages_pa) / 4096;
    if (npages > REGION_MAX_PAGES)
        npages = REGION_MAX_PAGES;
    page_alloc_init(&pages, pages_pa, npages, page_bitmap);
}

void memory_report(void)
{
    pr_info("memory: region %#lx-%#lx (%lu KiB): core image %lu KiB, "
            "tables+stacks %lu KiB, heap %lu KiB, page pool %lu KiB free",
            region_pa, region_pa + region_size - 1, region_size / 1024,
            image_size / 1024, (pool_offset - image_size) / 1024, heap_size / 1024,
            page_alloc_free_pages(&pages) * 4);
}

uint64_t hv_region_pa(void) { return region_pa; }
uint64_t hv_region_size(void) { return region_size; }

void *hv_alloc_zeroed(uint64_t npages, uint64_t *pa)
{
    spin_lock(&pages_lock);
    *pa = page_alloc(&pages, npages, 1);
    spin_unlock(&pages_lock);
    if (!*pa)
        return 0;
    uint64_t *p = hv_pa_to_va(*pa);
    for (uint64_t i = 0; i < npages * 512; i++)
        p[i] = 0;
    return p;
}
