/* Bitmap physical page allocator. See page_alloc.h. No libc. */
#include "lib/page_alloc.h"

#define WORD_BITS 64u

/*
 * Population count without __builtin_popcountll, which becomes a libgcc
 * call (__popcountdi2) on baseline x86-64 and the EFI loader has no libgcc.
 */
static unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/* Mask of bits [lo, hi) within one word, 0 <= lo < hi <= 64. */
static uint64_t word_mask(unsigned lo, unsigned hi)
{
    uint64_t upto_hi = hi == WORD_BITS ? ~0ull : ((1ull << hi) - 1);
    return upto_hi & ~((1ull << lo) - 1);
}

/*
 * First index in [lo, hi) whose bit equals 'used', or hi if none. Works a
 * word at a time so long used/free stretches are skipped quickly.
 */
static uint64_t find_bit(const uint64_t *bm, uint64_t lo, uint64_t hi,
                         bool used)
{
    while (lo < hi) {
        uint64_t w = lo / WORD_BITS;
        unsigned b = (unsigned)(lo % WORD_BITS);
        uint64_t left = hi - lo;
        unsigned e = left < WORD_BITS - b ? b + (unsigned)left : WORD_BITS;
        uint64_t bits = used ? bm[w] : ~bm[w];

        bits &= word_mask(b, e);
        if (bits != 0)
            return w * WORD_BITS + (uint64_t)__builtin_ctzll(bits);
        lo = w * WORD_BITS + e;
    }
    return hi;
}

/* Set or clear bits [lo, hi); returns how many bits actually changed. */
static uint64_t set_range(uint64_t *bm, uint64_t lo, uint64_t hi, bool used)
{
    uint64_t changed = 0;

    while (lo < hi) {
        uint64_t w = lo / WORD_BITS;
        unsigned b = (unsigned)(lo % WORD_BITS);
        uint64_t left = hi - lo;
        unsigned e = left < WORD_BITS - b ? b + (unsigned)left : WORD_BITS;
        uint64_t m = word_mask(b, e);
        uint64_t flip = used ? (~bm[w] & m) : (bm[w] & m);

        changed += popcount64(flip);
        bm[w] ^= flip;
        lo = w * WORD_BITS + e;
    }
    return changed;
}

size_t page_alloc_bitmap_words(uint64_t npages)
{
    return (size_t)((npages + WORD_BITS - 1) / WORD_BITS);
}

void page_alloc_init(struct page_alloc *pa, uint64_t base, uint64_t npages,
                     uint64_t *bitmap)
{
    if (base & (PAGE_ALLOC_PAGE_SIZE - 1))
        npages = 0; /* caller bug: manage nothing rather than misalign */

    size_t words = page_alloc_bitmap_words(npages);

    pa->base = base;
    pa->npages = npages;
    pa->nfree = npages;
    pa->bitmap = bitmap;
    pa->hint = 0;
    for (size_t i = 0; i < words; i++)
        bitmap[i] = 0;
    /* Padding bits past the last page read as used, never as free. */
    if (npages % WORD_BITS)
        bitmap[words - 1] = ~word_mask(0, (unsigned)(npages % WORD_BITS));

    /* Keep 0 unambiguous as the failure value. */
    if (base == 0 && npages > 0)
        page_alloc_reserve(pa, 0, 1);
}

void page_alloc_reserve(struct page_alloc *pa, uint64_t addr, uint64_t npages)
{
    uint64_t page = addr >> PAGE_ALLOC_PAGE_SHIFT;
    uint64_t first = pa->base >> PAGE_ALLOC_PAGE_SHIFT;
    uint64_t lo, hi;

    if (npages == 0)
        return;
    /* Clip [page, page + npages) to [first, first + pa->npages). */
    lo = page > first ? page - first : 0;
    if (page < first && first - page >= npages)
        return; /* wholly below the region */
    hi = npages > UINT64_MAX - page ? UINT64_MAX : page + npages;
    hi = hi - first < pa->npages ? hi - first : pa->npages;
    if (lo >= hi)
        return;

    pa->nfree -= set_range(pa->bitmap, lo, hi, true);
    if (lo <= pa->hint && pa->hint < hi)
        pa->hint = hi;
}

/* Lowest index >= i whose physical page number is a multiple of align. */
static uint64_t align_index(const struct page_alloc *pa, uint64_t i,
                            uint64_t align)
{
    uint64_t pfn = (pa->base >> PAGE_ALLOC_PAGE_SHIFT) + i;
    uint64_t up = (pfn + align - 1) & ~(align - 1);
    return up - (pa->base >> PAGE_ALLOC_PAGE_SHIFT);
}

uint64_t page_alloc(struct page_alloc *pa, uint64_t npages,
                    uint64_t align_pages)
{
    if (align_pages == 0)
        align_pages = 1;
    if (npages == 0 || npages > pa->nfree || (align_pages & (align_pages - 1)))
        return 0;

    /* Tighten the hint to the first free page: keeps first-fit cheap. */
    pa->hint = find_bit(pa->bitmap, pa->hint, pa->npages, false);

    uint64_t pos = align_index(pa, pa->hint, align_pages);

    /* pos <= npages - n also guards the addition below against overflow. */
    while (pos < pa->npages && npages <= pa->npages - pos) {
        uint64_t used = find_bit(pa->bitmap, pos, pos + npages, true);
        if (used == pos + npages) {
            set_range(pa->bitmap, pos, pos + npages, true);
            pa->nfree -= npages;
            if (pos == pa->hint)
                pa->hint = pos + npages;
            return pa->base + (pos << PAGE_ALLOC_PAGE_SHIFT);
        }
        /* Skip the used stretch, then realign. */
        uint64_t next_free = find_bit(pa->bitmap, used, pa->npages, false);
        pos = align_index(pa, next_free, align_pages);
    }
    return 0;
}

bool page_free(struct page_alloc *pa, uint64_t addr, uint64_t npages)
{
    if (npages == 0 || (addr & (PAGE_ALLOC_PAGE_SIZE - 1)) || addr < pa->base)
        return false;

    uint64_t lo = (addr - pa->base) >> PAGE_ALLOC_PAGE_SHIFT;

    if (lo >= pa->npages || npages > pa->npages - lo)
        return false;
    /* Reject double frees before touching anything. */
    if (find_bit(pa->bitmap, lo, lo + npages, false) != lo + npages)
        return false;

    set_range(pa->bitmap, lo, lo + npages, false);
    pa->nfree += npages;
    if (lo < pa->hint)
        pa->hint = lo;
    return true;
}

uint64_t page_alloc_free_pages(const struct page_alloc *pa)
{
    return pa->nfree;
}
