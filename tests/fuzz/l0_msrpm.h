/* L0's MSR permission map as hv/core/launch.c and hv/smp/apic.c build it, spelled
 * out here from the policy (not taken from the code under test): the MSRs
 * that protect the hypervisor, which VMCB02's merged map must intercept
 * whatever L1 asks. And a reader of an MSRPM bit straight from the APM's
 * layout (15.11, Table 15-8), independent of arch/x86/svm_bitmaps.c. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "arch/x86/apic.h"
#include "arch/x86/msr.h"
#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"

/* Read and write intercepted: the SVM MSRs (virtualized per vCPU). */
static const uint32_t l0_msrs_rw[] = { MSR_EFER, MSR_VM_HSAVE_PA, MSR_VM_CR };
/* Writes intercepted: whatever could map, remap or expose the region. */
static const uint32_t l0_msrs_w[] = {
    MSR_APIC_BASE, MSR_SYSCFG, MSR_TOP_MEM, MSR_TOP_MEM2, MSR_IORR_BASE0,
    MSR_IORR_MASK0, MSR_IORR_BASE1, MSR_IORR_MASK1, MSR_SMM_BASE, MSR_SMM_ADDR,
    MSR_SMM_MASK, MSR_SVM_KEY, MSR_TSC_RATIO, MSR_X2APIC_ICR,
};
#define L0_MSRS_RW_N (sizeof l0_msrs_rw / sizeof *l0_msrs_rw)
#define L0_MSRS_W_N (sizeof l0_msrs_w / sizeof *l0_msrs_w)

static inline void l0_msrpm_build(uint8_t *msrpm)
{
    memset(msrpm, 0, MSRPM_SIZE);
    for (unsigned i = 0; i < L0_MSRS_RW_N; i++)
        msrpm_set(msrpm, l0_msrs_rw[i], true, true);
    for (unsigned i = 0; i < L0_MSRS_W_N; i++)
        msrpm_set(msrpm, l0_msrs_w[i], false, true);
}

/* Bit of an MSR access in a map: 2 bits per MSR, read then write, in three
 * 2 KiB vectors; -1 for an MSR outside them (always intercepted). */
static inline long msrpm_bit_index(uint32_t msr, bool write)
{
    static const struct { uint32_t first; uint32_t byte; } ranges[] = {
        { 0x00000000u, 0x000 }, { 0xC0000000u, 0x800 }, { 0xC0010000u, 0x1000 },
    };
    for (unsigned r = 0; r < 3; r++)
        if (msr - ranges[r].first < 0x2000u)
            return (long)ranges[r].byte * 8 + (long)(msr - ranges[r].first) * 2 + write;
    return -1;
}

/* Is this access intercepted by the map at `map` (bytes given by get)? */
static inline bool msrpm_says(uint8_t (*get)(const void *, uint32_t), const void *map,
                              uint32_t msr, bool write)
{
    long bit = msrpm_bit_index(msr, write);
    return bit < 0 || ((get(map, (uint32_t)(bit / 8)) >> (bit % 8)) & 1);
}

/* VMCB02's merged map protects the hypervisor as L0's does. */
static inline bool msrpm_protects_l0(const uint8_t *msrpm)
{
    for (unsigned i = 0; i < L0_MSRS_RW_N; i++) {
        long r = msrpm_bit_index(l0_msrs_rw[i], false), w = msrpm_bit_index(l0_msrs_rw[i], true);
        if (!((msrpm[r / 8] >> (r % 8)) & 1) || !((msrpm[w / 8] >> (w % 8)) & 1))
            return false;
    }
    for (unsigned i = 0; i < L0_MSRS_W_N; i++) {
        long w = msrpm_bit_index(l0_msrs_w[i], true);
        if (!((msrpm[w / 8] >> (w % 8)) & 1))
            return false;
    }
    return true;
}
