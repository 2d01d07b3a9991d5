/*
 * npt02.h - shadow nested page tables for L2 (AMD APM Vol. 2 15.25).
 *
 * L0 runs L1 on NPT01 (hv/memory/npt.h: identity map of the guest-physical space
 * minus the hypervisor's region).  When L1 runs L2 with nested paging
 * (VMCB12 NP_ENABLE, nCR3 = NPT12 root in L1 guest-physical space), L0 runs
 * L2 on NPT02 = NPT01 o NPT12, filled 4 KiB at a time from L2's #NPF exits:
 *
 *   npt02_fault() walks NPT12 exactly as the hardware would for L1 (format,
 *   reserved bits, U/W/NX, A/D: 15.25.5, APM 5.3) and either
 *     - maps the faulting 4 KiB page in NPT02 (permissions NPT12's n
 *       NPT01's, memory type NPT12's), or
 *     - returns the #NPF EXITINFO1 the hardware would give L1 (15.25.6), or
 *     - reports that NPT01 gives L1 nothing there (the hypervisor's region).
 *   npt02_reset() drops every mapping (L1 flushed its TLB, changed nCR3...).
 *
 * Isolation: every host-physical address NPT02 maps comes from an NPT01
 * leaf looked up 4 KiB page by 4 KiB page, so NPT02 never maps anything L1
 * itself could not reach - in particular nothing in the hypervisor's
 * region, whatever NPT12 says.  NPT12 itself is read only through the
 * caller's l1 callbacks, which must refuse anything but L1 RAM.
 *
 * Pure and freestanding (no libc): table pages only through struct npt_mem.
 * Not thread-safe: one struct npt02 per vCPU, changed only while that vCPU
 * is in L0.  Changing NPT02 does not flush: the caller flushes L2's ASID
 * (VMCB TLB_CONTROL, APM 15.16.1) before running L2 again after MAPPED
 * (the page may have been mapped before with fewer rights) and after
 * npt02_reset.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/memory/npt.h"

/* ------------------------------------------------------------------ NPT12 */

/*
 * Reads the aligned 8-byte NPT12 entry at L1 guest-physical address gpa.
 * false if gpa is not L1 RAM the hypervisor may read (the hypervisor's
 * region, MMIO, holes; guest_mem.c's l1_ram_ok decides): the walk then
 * sees all-ones there - what L1 reads from its decoy page, and what a read
 * of non-existent memory returns - instead of inventing a fault kind the
 * hardware does not have.  All-ones is a reserved-bit fault (REFLECT, RSV)
 * at every level: bits 8:7 of a PML4E, 29:13 / 20:13 of a PS leaf, 51:M
 * of a PTE, bit 63 without NXE.  Only with MAXPHYADDR 52 and NXE is an
 * all-ones PTE valid: a leaf at 2^52 - 4 KiB, which NPT01 never maps, so
 * NPT02_HV_REGION (or an NX fault for a fetch).  Either way nothing is
 * mapped and L1 learns nothing about the memory it pointed at.
 */
typedef bool (*npt12_read_fn)(void *ctx, uint64_t gpa, uint64_t *val);

/*
 * Atomically: if the entry at gpa still holds old, store val and return
 * true; otherwise (L1 changed it meanwhile, or it is not writable L1 RAM)
 * return false.  Used only to set Accessed/Dirty bits.
 */
typedef bool (*npt12_cmpxchg_fn)(void *ctx, uint64_t gpa, uint64_t old,
                                 uint64_t val);

/* L1's nested paging as of its VMRUN: the "host" state of NPT12 is L1's. */
struct npt12 {
    npt12_read_fn read;
    /* NULL: A/D bits of NPT12 are not maintained (see npt12_walk). */
    npt12_cmpxchg_fn cmpxchg;
    void *ctx;
    uint64_t root;       /* VMCB12 nCR3: bits 51:12 used, the rest ignored */
    /* 1 << MAXPHYADDR as L1 sees it (CPUID 8000_0008h); address bits at and
     * above it are reserved in NPT12 entries.  Rounded up to a power of
     * two; 0 or above 2^52 means 2^52. */
    uint64_t phys_limit;
    bool nxe;            /* L1's EFER.NXE: NX honoured, else bit 63 reserved */
    bool smep;           /* L1's CR4.SMEP: only for reporting I/D (below) */
    bool gbpages;        /* 1 GiB pages for L1 (CPUID 8000_0001h EDX[26]) */
    /* L1's CR4.LA57 at its VMRUN.  The nested page tables have the host's
     * paging mode as of VMRUN (APM Vol. 2 15.25), so NPT12 is a 5-level
     * table (PML5 at nCR3, APM 5.3) when L1 itself runs with 5-level
     * paging - as Linux's KVM builds it on an LA57 CPU. */
    bool la57;
};

enum npt12_status {
    NPT12_OK,     /* translated, access allowed */
    NPT12_FAULT,  /* exitinfo1 holds the #NPF error code for L1 */
    NPT12_BUSY,   /* L1 kept changing the entries while A/D bits were set */
};

struct npt12_walk {
    enum npt12_status status;
    uint64_t exitinfo1;  /* FAULT: EXITINFO1 for L1 (EXITINFO2 = l2_gpa) */
    /* OK: */
    uint64_t l1_gpa;     /* translation of l2_gpa, offset included */
    uint64_t page_size;  /* of the NPT12 leaf: 4K, 2M or 1G */
    bool writable;       /* W at every level */
    bool executable;     /* no NX at any level (always true without nxe) */
    bool dirty;          /* leaf D set (after this walk); true without cmpxchg */
    uint64_t mem_type;   /* PWT, PCD, PAT of the leaf, PAT at bit 7 (4K PTE) */
};

/*
 * Walks NPT12 (long-mode 4-level format, 5-level with la57, APM 5.3, with
 * the nested-paging rules of 15.25.5) for l2_gpa and the access described
 * by `access`: the EXITINFO1 of the #NPF L0 received for L2.  Its RW and
 * I/D bits are the access type and bit 33 tells a walk of L2's own page
 * tables (the hardware reports those as writes, so they need W in NPT12);
 * P, RSV and the rest are ignored.  Nested walks are always user accesses, so an
 * entry without U gives a protection fault (15.25.5; GMET, which changes
 * that for fetches, is not offered to L1).
 *
 * Fault order as in the hardware walk: not-present and reserved-bit faults
 * stop the walk at the entry; protection (U, W, NX over all levels) is
 * checked once the leaf is reached.  The error code: P (0 = not present),
 * RW from the access, US always, RSV, I/D from the access if L1 has NXE or
 * SMEP (as the #PF error code, APM 8.4.2), and bit 33 if the access had it,
 * else bit 32 (15.25.6).  l2_gpa >= 2^48 cannot be mapped by NPT02 (a
 * 4-level table, L0's paging mode): a not-present fault, also with la57.
 *
 * On success with a cmpxchg callback, sets A in every entry used and D in
 * the leaf on a write, as the hardware walk does (APM 5.4); if an entry
 * changes meanwhile the walk restarts, a few times at most (then BUSY).
 */
struct npt12_walk npt12_walk(const struct npt12 *n, uint64_t l2_gpa,
                             uint64_t access);

/* ------------------------------------------------------------------ NPT02 */

struct npt02 {
    /* set by npt02_init: */
    const struct npt_mem *mem;  /* table pages; also how NPT01 is read */
    uint64_t npt01_root;
    /* L0 runs L2 with EFER.NXE=1, so NPT02 may use NX.  Without it NPT12's
     * NX cannot be enforced (the bit would be reserved in NPT02). */
    bool host_nx;
    uint64_t root;              /* NPT02 root: VMCB02 nCR3 */
    /* Table pages npt02_reset took out of the tree, reused before asking
     * mem for new ones; linked through their first word (0 ends it). */
    uint64_t free_list;
    uint64_t free_pages;
    /* Table pages taken from mem (root, tree and free list): at most
     * max_pages, if set, so that one L2 cannot drain a pool that other
     * vCPUs share (an L2 touching ever more 2 MiB regions needs a table
     * for each); past it, npt02_fault() says NO_MEMORY and the caller
     * resets, which recycles every table but the root. 0: no cap. */
    uint64_t pages;
    uint64_t max_pages;
};

/* Allocates the root; false when out of memory. No cap (max_pages 0):
 * the caller may set one, at least 4 (root, PDPT, PD, PT). */
bool npt02_init(struct npt02 *s, const struct npt_mem *mem,
                uint64_t npt01_root, bool host_nx);

enum npt02_outcome {
    /* NPT02 now maps the page: resume L2 (after the TLB flush above). */
    NPT02_MAPPED,
    /* NPT12 forbids it: #VMEXIT(NPF) to L1 with EXITINFO1 = r->exitinfo1,
     * EXITINFO2 = the EXITINFO2 L0 got (the L2 GPA). */
    NPT02_REFLECT,
    /* NPT12 translates to r->l1_gpa, where NPT01 does not give L1 this
     * access: the hypervisor's region, a GPA past NPT01's top, or a page
     * NPT01 write-protects.  Nothing is mapped.  Handle it as L1's own
     * #NPF at r->l1_gpa (the decoy page, or the write-protect's handler),
     * then call again. */
    NPT02_HV_REGION,
    /* Out of table pages (mem gave none, or max_pages are in use and
     * the free list is empty); NPT02 translates as before.  npt02_reset()
     * puts every table but the root on the free list; a page needs at
     * most three (PDPT, PD, PT), so after a reset the call succeeds if
     * any page was ever mapped before. */
    NPT02_NO_MEMORY,
    /* L1 kept rewriting the NPT12 entries (NPT12_BUSY): nothing mapped,
     * resume L2; it faults again. */
    NPT02_RETRY,
};

struct npt02_result {
    uint64_t exitinfo1;  /* REFLECT */
    uint64_t l1_gpa;     /* MAPPED, HV_REGION: NPT12's translation */
    uint64_t hpa;        /* MAPPED: host-physical 4 KiB page */
    uint64_t flags;      /* MAPPED: the NPT02 leaf's attribute bits */
};

/*
 * Handles L2's #NPF at l2_gpa (EXITINFO2) with the hardware's EXITINFO1:
 * walks NPT12, looks the result up in NPT01 and maps the one 4 KiB page
 * (large NPT12 or NPT01 pages are split: only the faulting 4 KiB page is
 * mapped).  The leaf is P|U, W if NPT12 and NPT01 allow writes and the
 * NPT12 leaf is dirty (so the first write faults again and sets D), NX if
 * host_nx and NPT12 or NPT01 forbid execution, and NPT12's memory type
 * (the NPT01 leaves this project builds are all write-back).  r may not be
 * NULL; fields an outcome does not use are 0.
 */
enum npt02_outcome npt02_fault(struct npt02 *s, const struct npt12 *n,
                               uint64_t l2_gpa, uint64_t exitinfo1,
                               struct npt02_result *r);

/*
 * Drops every NPT02 mapping: the root is kept (VMCB02 nCR3 stays valid)
 * and emptied.  Needed whenever L1 may see its NPT12 changes (it flushed
 * L2's ASID, changed nCR3, INVLPGA'd) and whenever NPT01 loses rights or
 * changes a host page: NPT02 leaves are copies and have no reverse map.
 * Every lower table goes to the free list.  The caller must
 * flush L2's ASID before L2 runs again: the TLB and page-walk caches may
 * hold the old translations and the recycled table pages.
 */
void npt02_reset(struct npt02 *s);

/* Moves every page of from's free list to to's (pages and free_pages
 * follow): one vCPU's trees share its budget (hv/memory/guest_mem.c). */
void npt02_move_free(struct npt02 *from, struct npt02 *to);

/* Table pages in the tree, root included (free-list pages not counted). */
uint64_t npt02_table_pages(const struct npt02 *s);
