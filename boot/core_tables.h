/* What the loader builds inside the region for the core: boot info, one IDT,
 * per CPU a GDT with its own TSS and a stack (plus an IST stack), and the
 * core's page tables. */
#pragma once
#include <efi.h>
#include <efilib.h>
#include "boot/core_load.h"
#include "arch/x86/desc.h"

struct core_layout {
    struct hv_boot_info *info;  /* physical = identity-mapped pointer */
    UINT64 info_va;
    UINT64 cr3;                 /* physical address of the PML4 */
    struct desc_ptr idtr;
    struct desc_ptr gdtr[HV_MAX_CPUS]; /* each CPU's GDT (its TSS inside) */
};

/* Lays out everything after the image; fails if the region is too small. */
EFI_STATUS core_tables_build(UINT64 region_pa, UINT64 region_size,
                             const struct core_image *img, UINT32 ncpus,
                             UINT64 phys_map_top, struct core_layout *out);
