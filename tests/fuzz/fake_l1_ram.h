/* L1's RAM for the fuzz targets that let the core read L1 memory through
 * its identity map (hypercall buffers, VMCB12, L1's permission maps): L1
 * "physical" addresses are host pointers, as in the unit tests.
 *
 * The RAM is one host buffer of FAKE_RAM_PAGES pages, and in the middle of
 * it lie FAKE_HV_PAGES pages of "the hypervisor's region": not L1's RAM,
 * and poisoned for ASan, so that any read or write of the core there (or
 * past either end of the buffer) is reported at once. l1_ram_ok() is the
 * stand-in of hv/memory/guest_mem.c's: true only for a range inside the buffer
 * that does not touch the region. Every other address is not RAM (MMIO,
 * nothing), and the core must not dereference it.
 *
 * Include once per fuzz target (it defines l1_ram_ok). */
#pragma once
#include <sanitizer/asan_interface.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAKE_RAM_PAGES
#define FAKE_RAM_PAGES 16u
#endif
#define FAKE_HV_FIRST (FAKE_RAM_PAGES / 2) /* first page of the region */
#define FAKE_HV_PAGES 2u

static uint8_t *fake_ram;

static inline uint64_t fake_ram_base(void) { return (uint64_t)(uintptr_t)fake_ram; }
static inline uint64_t fake_ram_end(void) { return fake_ram_base() + FAKE_RAM_PAGES * 4096ull; }
static inline uint64_t fake_hv_lo(void) { return fake_ram_base() + FAKE_HV_FIRST * 4096ull; }
static inline uint64_t fake_hv_hi(void) { return fake_hv_lo() + FAKE_HV_PAGES * 4096ull; }

static inline bool fake_in_hv(uint64_t pa, uint64_t len)
{
    return pa < fake_hv_hi() && pa + len > fake_hv_lo();
}

bool l1_ram_ok(uint64_t gpa, uint64_t len)
{
    if (gpa + len < gpa)
        return false;
    return gpa >= fake_ram_base() && gpa + len <= fake_ram_end() && !fake_in_hv(gpa, len);
}

/* Once per process: the buffer, and the region poisoned. */
static inline void fake_ram_init(void)
{
    if (fake_ram)
        return;
    fake_ram = aligned_alloc(4096, FAKE_RAM_PAGES * 4096ull);
    ASAN_POISON_MEMORY_REGION((void *)(uintptr_t)fake_hv_lo(), FAKE_HV_PAGES * 4096ull);
}

/* Every RAM page zeroed (per input, so that inputs do not depend on each
 * other). */
static inline void fake_ram_clear(void)
{
    memset(fake_ram, 0, FAKE_HV_FIRST * 4096ull);
    memset((void *)(uintptr_t)fake_hv_hi(), 0, fake_ram_end() - fake_hv_hi());
}

/* A guest-physical address chosen by the input: mostly inside the RAM
 * (so that the fuzzer reaches the interesting cases), sometimes anything.
 * sel's top bit picks a raw 64-bit value. */
static inline uint64_t fake_gpa(uint8_t sel, uint64_t raw)
{
    if (sel & 0x80)
        return raw;
    return fake_ram_base() + raw % (FAKE_RAM_PAGES * 4096ull + 64);
}
