/* The IOMMU's event log as the hypervisor reads it (AMD IOMMU spec 2.5):
 * a ring of 16-byte entries the IOMMU fills. Pure, so a host unit test
 * drives it with a ring of its own: QEMU 10.0's AMD IOMMU model writes no
 * entries at all (its check of the overflow bit is always true), so this
 * substrate cannot show the log working end to end. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/amd_iommu.h"

typedef void (*iommu_event_fn)(const struct amdvi_event *e, void *ctx);

/* Hands each new entry from *head on to fn, oldest first, clears it and
 * moves *head (a byte offset) past it; at most one lap of the ring of
 * `entries` entries. New entries are found in memory, not through the
 * tail register: an entry is never all zero (its event code is not), and
 * the IOMMU writes it before it moves the tail. Returns how many. */
uint32_t iommu_events_drain(volatile struct amdvi_event *ring, uint32_t entries,
                            uint32_t *head, iommu_event_fn fn, void *ctx);

/* The n-th refused access (from 1) is logged: the first `first` of them,
 * then only every power of two, so a device that keeps trying cannot
 * flood the serial line. */
bool iommu_fault_logged(uint64_t n, uint64_t first);
