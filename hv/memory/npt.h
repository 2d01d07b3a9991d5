/*
 * npt.h - nested page tables (AMD APM Vol. 2 15.25 "Nested Paging").
 *
 * With nested paging enabled (VMCB NP_ENABLE, table root in N_CR3), every
 * guest physical address (GPA) is translated to a host physical address by
 * a second page walk through these tables.  They use the long-mode 4-level
 * format of arch/x86/paging.h (APM 5.3), so one root covers GPAs below
 * 2^48; large pages (PS) work at the PDPE (1 GiB) and PDE (2 MiB) levels.
 *
 * APM 15.25.5: nested table walks are performed as user-mode accesses, so
 * every entry on the path - non-leaf and leaf - needs U=1, or the guest's
 * own supervisor accesses would take nested page faults.
 *
 * The builder reaches table pages only through struct npt_mem, so the same
 * code runs in the hypervisor (real PAs, direct map) and in host unit tests
 * (a pool with made-up PAs).  No libc.
 *
 * Changing a live table (npt_map_4k) does not flush anything: the caller
 * must flush the guest's TLB entries before it runs again (VMCB
 * TLB_CONTROL 01h or 03h, APM 15.16.1).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/paging.h"

/* How the builder gets and reaches table pages. */
struct npt_mem {
    /* A zeroed 4 KiB page: returns its VA and stores its (4 KiB aligned,
     * non-zero) PA; NULL when out of memory. */
    void *(*alloc_page)(void *ctx, uint64_t *pa);
    void *(*pa_to_va)(void *ctx, uint64_t pa);
    void *ctx;
};

/* Full access; also the flags of every non-leaf entry the builder makes
 * (permissions are restricted, if at all, at the leaf). */
#define NPT_RWX (PTE_P | PTE_W | PTE_U)

/* One 4-level root translates GPAs below this. */
#define NPT_GPA_LIMIT (1ULL << 48)

/*
 * Identity map [0, top) with the largest pages that fit (1 GiB if use_1g,
 * else 2 MiB, and 4 KiB only where needed), except the hole
 * [hole_pa, hole_pa + hole_size), which stays not present (both 4 KiB
 * aligned - an unaligned hole is widened to whole pages; hole_size 0 = no
 * hole).  top is rounded up to 2 MiB (after clamping to NPT_GPA_LIMIT).
 * Leaves are P|W|U (+PS for large pages), executable, with no other bits.
 * Returns the root (PML4) PA, or 0 when out of memory (tables allocated
 * before the failure are not given back: npt_mem has no free).
 */
uint64_t npt_build_identity(const struct npt_mem *m, uint64_t top,
                            uint64_t hole_pa, uint64_t hole_size,
                            bool use_1g);

/*
 * Walks the tables: returns the leaf entry mapping gpa (0 if not present)
 * and its page size in *size (4K, 2M or 1G).  On a miss *size is the span
 * the non-present entry covers (up to 512 GiB), so a caller can skip it;
 * gpa >= NPT_GPA_LIMIT gives 0 with *size 0.  size may be NULL.
 */
uint64_t npt_lookup(const struct npt_mem *m, uint64_t root, uint64_t gpa,
                    uint64_t *size);

/*
 * Maps the 4 KiB page at gpa to hpa with flags (the attribute bits of a
 * 4 KiB PTE: bit 7 is PAT here, not PS; the address bits of flags are
 * ignored; flags without PTE_P unmap the page), splitting a large page on
 * the way: the split keeps the large page's mapping and attributes for the
 * other 4 KiB pieces.  Missing intermediate tables are created.  false
 * when out of memory; the existing translations are then unchanged (a
 * split already installed maps exactly what the large page mapped).
 */
bool npt_map_4k(const struct npt_mem *m, uint64_t root, uint64_t gpa,
                uint64_t hpa, uint64_t flags);

/* Number of table pages in use, root included (for the memory footprint);
 * 0 for root 0. */
uint64_t npt_table_pages(const struct npt_mem *m, uint64_t root);
