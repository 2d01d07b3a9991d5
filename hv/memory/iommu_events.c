#include "hv/memory/iommu_events.h"

uint32_t iommu_events_drain(volatile struct amdvi_event *ring, uint32_t entries,
                            uint32_t *head, iommu_event_fn fn, void *ctx)
{
    uint32_t n = 0;
    while (n < entries) {
        volatile struct amdvi_event *slot = &ring[*head / sizeof *ring];
        struct amdvi_event e;
        for (int i = 0; i < 4; i++)
            e.d[i] = slot->d[i];
        if (!(e.d[1] >> AMDVI_EVENT_CODE_SHIFT))
            break;
        fn(&e, ctx);
        for (int i = 0; i < 4; i++)
            slot->d[i] = 0;
        *head = (*head + (uint32_t)sizeof *ring) % (entries * (uint32_t)sizeof *ring);
        n++;
    }
    return n;
}

bool iommu_fault_logged(uint64_t n, uint64_t first)
{
    return n <= first || (n & (n - 1)) == 0;
}
