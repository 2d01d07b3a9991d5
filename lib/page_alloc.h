/*
 * Physical page allocator for the hypervisor: a bitmap over one contiguous
 * region [base, base + npages * 4096), normally the memory the UEFI loader
 * reserved for us. Freestanding: no libc.
 *
 * Decisions:
 *  - The bitmap lives in caller-provided storage (page_alloc_bitmap_words()
 *    words), not inside the region, so the region stays fully usable and the
 *    loader can place the bitmap wherever it likes. One bit per page, 1 =
 *    used. Bits past npages in the last word are kept set.
 *  - page_alloc() is first-fit: it returns the lowest suitably aligned run of
 *    free pages. 'hint' is only an accelerator: every page below it is
 *    known to be used.
 *  - 0 means "no memory". A region starting at physical address 0 would make
 *    page 0 indistinguishable from failure, so init reserves page 0 in that
 *    case: page 0 is never handed out.
 *  - The region must not wrap past the top of the 64-bit physical space.
 *  - base must be 4 KiB aligned. A misaligned base is a caller bug; init then
 *    manages an empty region (npages = 0), so every allocation fails and
 *    page_alloc_free_pages() reports 0, which the boot code can detect.
 *  - Allocated and reserved pages are the same state ("used"). The allocator
 *    does not remember run boundaries: page_free may release any range of
 *    used pages, including part of a run or a reserved range.
 *  - page_free of a page that is free, outside the region, or of a misaligned
 *    address is a caller bug: page_free returns false and changes nothing.
 *  - No locking: callers serialize.
 */
#ifndef LIB_PAGE_ALLOC_H
#define LIB_PAGE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_ALLOC_PAGE_SIZE 4096u
#define PAGE_ALLOC_PAGE_SHIFT 12

struct page_alloc {
    uint64_t base;   /* physical address of page 0, 4 KiB aligned */
    uint64_t npages; /* pages managed */
    uint64_t nfree;  /* pages currently free */
    uint64_t *bitmap;
    uint64_t hint;   /* every page index below hint is used */
};

/* Number of 64-bit bitmap words needed for npages pages. */
size_t page_alloc_bitmap_words(uint64_t npages);

/*
 * Manage [base, base + npages*4096). bitmap must have room for
 * page_alloc_bitmap_words(npages) words. All pages start free (except page 0
 * when base == 0, see above).
 */
void page_alloc_init(struct page_alloc *pa, uint64_t base, uint64_t npages,
                     uint64_t *bitmap);

/*
 * Mark npages pages starting at the page containing addr as used (e.g. the
 * core image). Pages already used stay used; the part of the range outside
 * the region is ignored.
 */
void page_alloc_reserve(struct page_alloc *pa, uint64_t addr, uint64_t npages);

/*
 * Allocate a contiguous run of npages pages whose physical start address is
 * a multiple of align_pages * 4096 (align_pages a power of two; 0 is taken
 * as 1). Returns the physical address, or 0 when no run fits, npages is 0,
 * or align_pages is not a power of two.
 */
uint64_t page_alloc(struct page_alloc *pa, uint64_t npages,
                    uint64_t align_pages);

/*
 * Free npages pages starting at addr. Returns false and changes nothing if
 * addr is not page aligned, npages is 0, any page lies outside the region,
 * or any page in the range is already free (double free).
 */
bool page_free(struct page_alloc *pa, uint64_t addr, uint64_t npages);

uint64_t page_alloc_free_pages(const struct page_alloc *pa);

#endif /* LIB_PAGE_ALLOC_H */
