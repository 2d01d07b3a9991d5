#include "hv/guest_mem.h"
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "hv/log.h"
#include "hv/memory.h"
#include "hv/npt.h"
#include "hv/exception.h"

#define CPUID_EXT1_EDX_PAGE1GB (1u << 26)
#define NPT_MAX_PHYS_BITS 48 /* 4-level nested paging */
#define DECOY_FILL 0xFFFFFFFFFFFFFFFFULL

static uint64_t npt01_root, phys_limit;
static uint64_t decoy_pa, hv_access_count;
static const struct hv_ram_range *ram;
static uint32_t nram;

static void *npt_alloc_page(void *ctx, uint64_t *pa)
{
    (void)ctx;
    *pa = page_alloc(hv_pages(), 1, 1);
    if (!*pa)
        return 0;
    uint64_t *p = hv_pa_to_va(*pa);
    for (int i = 0; i < 512; i++)
        p[i] = 0;
    return p;
}

static void *npt_pa_to_va(void *ctx, uint64_t pa)
{
    (void)ctx;
    return hv_pa_to_va(pa);
}

static const struct npt_mem npt_mem = { npt_alloc_page, npt_pa_to_va, 0 };

/* The whole guest-physical space the CPU can address (CPUID 0x80000008),
 * not just RAM: PCI BARs may sit anywhere below MAXPHYADDR. */
static uint64_t phys_space_top(void)
{
    unsigned bits = cpuid(0x80000008u, 0).eax & 0xFF;
    if (bits > NPT_MAX_PHYS_BITS || bits < 32)
        bits = NPT_MAX_PHYS_BITS;
    return 1ULL << bits;
}

bool guest_mem_init(const struct hv_boot_info *info)
{
    ram = info->ram;
    nram = info->nram;
    phys_limit = phys_space_top();
    bool gb = (cpuid(0x80000001u, 0).edx & CPUID_EXT1_EDX_PAGE1GB) != 0;
    npt01_root = npt_build_identity(&npt_mem, phys_limit, info->region_pa,
                                    info->region_size, gb);
    uint64_t *decoy = npt_alloc_page(0, &decoy_pa);
    if (!npt01_root || !decoy)
        return false;
    for (int i = 0; i < 512; i++)
        decoy[i] = DECOY_FILL;
    pr_info("NPT01: identity map of %lu GiB guest-physical, %s pages, "
            "hypervisor region %#lx-%#lx left out, %lu table pages",
            phys_limit >> 30, gb ? "1 GiB" : "2 MiB", info->region_pa,
            info->region_pa + info->region_size - 1, npt_table_pages(&npt_mem, npt01_root));
    return true;
}

uint64_t guest_mem_npt01_root(void) { return npt01_root; }
uint64_t guest_phys_limit(void) { return phys_limit; }
uint64_t guest_mem_hv_accesses(void) { return hv_access_count; }
uint64_t guest_mem_table_pages(void) { return npt_table_pages(&npt_mem, npt01_root); }

bool l1_ram_ok(uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa || hv_owns_pa(gpa, len))
        return false;
    for (uint32_t i = 0; i < nram; i++)
        if (gpa >= ram[i].base && gpa + len <= ram[i].base + ram[i].size)
            return true;
    return false;
}

/* The defined outcome of an L1 access to the hypervisor's memory: the page
 * is logged once and then backed, for L1, by a decoy page (filled with
 * all-ones, like a read from non-existent memory; L1's writes land there
 * and nowhere else). The instruction then completes normally, so no
 * instruction decoding is needed, and L1 never sees the hypervisor's data.
 * The region is also reserved in the UEFI memory map, so a correct OS never
 * goes there. */
bool guest_mem_hv_access(uint64_t gpa, uint64_t rip, bool write)
{
    if (!hv_owns_pa(gpa, 1))
        return false;
    hv_access_count++;
    pr_warn("L1 %s hypervisor memory at GPA %#lx (RIP %#lx): given a decoy page",
            write ? "wrote" : "read", gpa, rip);
    if (!npt_map_4k(&npt_mem, npt01_root, gpa & ~0xFFFULL, decoy_pa, NPT_RWX)) {
        pr_err("out of hypervisor memory mapping the decoy page");
        hv_fatal_stop();
    }
    return true;
}
