/* What the host CPU offers the hypervisor (CPUID 0x8000000A and friends),
 * read once on the boot CPU before any vCPU starts and read-only after.
 * The loader checks SVM on every CPU before the core starts (a machine's
 * CPUs are alike; one that is not keeps the hypervisor off, docs/design.md).
 * One struct instead of a cached flag per module: every decision that
 * depends on the CPU reads it here. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct host_caps {
    bool nrips;          /* next RIP saved on #VMEXIT (EDX[3]) */
    bool flush_by_asid;  /* TLB_CONTROL 03h/07h (EDX[6]) */
    bool decode_assists; /* instruction bytes in the VMCB on #NPF (EDX[7]) */
    bool vgif;           /* virtual GIF (EDX[16]) */
    bool pause_filter;   /* PAUSE filter count (EDX[10]) */
    bool tsc_ratio;      /* TSC ratio MSR C000_0104h (EDX[4]) */
    bool pause_threshold; /* PAUSE filter cycle threshold (EDX[12]) */
    bool vmload_virt;    /* virtualized VMLOAD/VMSAVE (EDX[15]), hv/nested/l1_vmload.h */
    bool monitor;        /* MONITOR/MWAIT (CPUID 1 ECX[3]) */
    bool x2apic;         /* x2APIC mode (CPUID 1 ECX[21]) */
    uint32_t nasid;      /* ASIDs (CPUID 0x8000000A EBX): L2 entries (hv/tlb/tlb_policy.h) */
};

/* Written only by host_caps_init(); everything else reads host_caps(). */
extern struct host_caps host_caps_storage;
static inline const struct host_caps *host_caps(void)
{
    return &host_caps_storage;
}
void host_caps_init(const struct host_caps *caps);
