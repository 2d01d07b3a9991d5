/* DMA protection with the AMD IOMMUs (docs/design.md, "DMA protection").
 *
 * At start the hypervisor takes over every IOMMU the loader found in IVRS:
 * one device table for all 65536 DeviceIDs, each entry pointing at one I/O
 * page table that maps all physical memory one to one except the
 * hypervisor's region (hv/memory/iommu_pt.c), where every device access is
 * refused. The IOMMUs' registers leave NPT01, and the loader hides IVRS, so
 * L1 sees and reaches no IOMMU. Refused accesses arrive as IO_PAGE_FAULT
 * events in an event log that the hypervisor drains when it next takes a
 * slow exit (a nested page fault, a hypercall, the machine's power-off),
 * counting them and logging a few. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "hv/core/boot_info.h"

/* Boot CPU, after NPT01 exists, before L1 runs. Sets info->iommu_owned
 * when every IOMMU translates DMA; otherwise says on the console why DMA
 * is not protected and puts the IOMMUs back as the firmware left them
 * (registers, and their pages in NPT01). */
void iommu_init(struct hv_boot_info *info);

/* The hypervisor does not start after all: the IOMMUs go back as the
 * firmware left them (the OS then finds them in IVRS). */
void iommu_abandon(struct hv_boot_info *info);

/* Drains the event logs (any CPU; returns at once if another CPU is at it
 * or no IOMMU is owned). Reads memory only, no IOMMU register unless there
 * were events: cheap enough for every slow exit. */
void iommu_poll(void);

struct iommu_stats {
    uint32_t owned;      /* IOMMUs the hypervisor owns */
    uint64_t dma_faults; /* device accesses refused (IO_PAGE_FAULT events) */
    uint64_t other_events;
};
void iommu_get_stats(struct iommu_stats *s);

/* The summary line at power-off / reset. */
void iommu_report(void);
