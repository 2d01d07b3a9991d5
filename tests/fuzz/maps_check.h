/* What VMCB02's merged maps must be, read from L1's memory as it is now:
 * shared by the targets around hv/nested/nested_maps.c. Include after
 * fake_l1_ram.h. */
#pragma once
#include "arch/x86/svm_bitmaps.h"
#include "tests/fuzz/fake_l1_ram.h"

/* One byte of L1's map at base: all ones outside L1's RAM. */
static inline uint8_t l1_byte(uint64_t base, uint32_t off)
{
    uint64_t pa = base + off;
    return l1_ram_ok(pa & ~0xFFFULL, 4096) ? *(const uint8_t *)(uintptr_t)pa : 0xFF;
}

static inline uint8_t l1_map_get(const void *base, uint32_t off)
{
    return l1_byte((uint64_t)(uintptr_t)base, off);
}

/* merged == l0 | L1's map at base now (base 0: none; l0 NULL: zeros),
 * page by page. */
static inline bool map_is(const uint8_t *merged, const uint8_t *l0, uint64_t base, uint32_t size)
{
    static const uint8_t zeros[IOPM_SIZE];
    if (!l0)
        l0 = zeros;
    for (uint32_t pg = 0; pg < size; pg += 4096) {
        const uint8_t *m = merged + pg, *z = l0 + pg;
        const uint8_t *l1 = (const uint8_t *)(uintptr_t)(base + pg);
        uint8_t diff = 0;
        if (!base)
            return !memcmp(merged, l0, size);
        if (l1_ram_ok(base + pg, 4096))
            for (uint32_t i = 0; i < 4096; i++)
                diff |= m[i] ^ (z[i] | l1[i]);
        else
            for (uint32_t i = 0; i < 4096; i++)
                diff |= m[i] ^ 0xFF;
        if (diff)
            return false;
    }
    return true;
}

