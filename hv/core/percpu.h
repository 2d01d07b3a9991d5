/* The vCPUs, one per CPU the firmware reported, and how a CPU finds its
 * own: its GS base points at its struct vcpu while the host runs (set at
 * entry, kept across guest runs by the host-state VMSAVE/VMLOAD of
 * arch/x86/vmrun.asm). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "hv/core/vcpu.h"

/* Allocates every vCPU at start, on the boot CPU, so that an AP's entry
 * cannot fail for memory. apic_ids: the firmware's list, index 0 the boot
 * CPU. */
bool percpu_init(uint32_t ncpus, const uint32_t *apic_ids);
/* This CPU is vCPU index (sets GS base). */
void percpu_enter(struct vcpu *v);
unsigned vcpu_count(void);
struct vcpu *vcpu_by_index(unsigned i);
/* The CPU's own local APIC ID (CPUID 0xB, or CPUID 1 on older CPUs). */
uint32_t cpu_apic_id(void);
