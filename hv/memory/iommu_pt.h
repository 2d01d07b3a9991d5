/* The I/O page table every device's DMA goes through once the hypervisor
 * owns the IOMMU (docs/design.md, "DMA protection"): an identity map of the
 * physical address space below `top`, except the hypervisor's region,
 * covered by entries with neither read nor write permission, so a device's
 * access to it is refused and logged as an IO_PAGE_FAULT event (AMD IOMMU
 * spec 2.2.3).
 *
 * The AMD-Vi "v1" format with 4 levels (48-bit addresses): 1 GiB leaves
 * where a whole 1 GiB is allowed, 2 MiB and 4 KiB ones only around the
 * hole. Pure: table pages come from struct npt_mem, like the NPT builder's,
 * so a host unit test checks it with made-up physical addresses. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "hv/memory/npt.h"

/* Returns the root table's PA (the DTE's Page Table Root Pointer, mode 4),
 * 0 when out of memory. top is rounded up to 1 GiB and at most 2^48. */
uint64_t iommu_pt_build(const struct npt_mem *m, uint64_t top, uint64_t hole_pa,
                        uint64_t hole_size);

/* What a device gets at addr, walked as the IOMMU walks (2.2.3): the
 * translated address in *pa and true when both read and write are allowed;
 * false when the walk ends at a missing entry or one without permission. */
bool iommu_pt_lookup(const struct npt_mem *m, uint64_t root, uint64_t addr, uint64_t *pa);
