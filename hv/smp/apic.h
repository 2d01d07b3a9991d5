/* L1's local APIC, where the hypervisor must see it: the interrupt
 * command register, through which L1 sends INIT and SIPI to start and
 * restart CPUs (docs/design.md, "Several CPUs"). xAPIC: the APIC page is
 * read-only in NPT01, each write faults and is performed here (the ICR
 * emulated, every other register written to the hardware as L1 asked);
 * x2APIC: MSR 0x830 is intercepted. INIT and SIPI to a vCPU are emulated
 * (hv/smp/ap_state.h, hv/smp/ap_start.c); every other IPI goes to the hardware
 * unchanged. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "hv/core/vcpu.h"

/* Boot CPU, once: write-protects the xAPIC page in NPT01. */
bool apic_init(struct vcpu *bsp);
/* L0's MSRPM: intercept writes of the x2APIC ICR. */
void apic_intercept_msrs(uint8_t *msrpm);
/* Each vCPU at launch: its APIC base, mode, LDR and DFR as the firmware
 * left them. */
void apic_vcpu_init(struct vcpu *v);
/* #NPF of the current guest (L1, or L2) at L1-physical gpa: true if it was
 * a write to the APIC page, performed (or refused with #GP). */
bool apic_mmio_fault(struct vcpu *v, uint64_t gpa, uint64_t exitinfo1);
/* WRMSR of L1 to the x2APIC ICR. */
void apic_x2apic_icr_write(struct vcpu *v, uint64_t val);
/* L1 wrote MSR 0x1B (already checked): follow the page and the mode. */
void apic_base_changed(struct vcpu *v, uint64_t old, uint64_t val);
/* Makes another CPU leave its guest at once (an NMI it recognizes as the
 * hypervisor's, hv/exit/exit_nmi.c). */
void apic_kick(struct vcpu *target);
/* An NMI to this very CPU (a kick that may have been lost). */
void apic_self_nmi(struct vcpu *v);
/* With the exit statistics: L1's xAPIC writes per register. */
void apic_print_stats(void);
/* Bring-up is over (HV_CALL_SMP_READY): INIT/SIPI to a CPU that is not
 * under the hypervisor are dropped from now on. Returns the CPUs under it. */
unsigned apic_smp_ready(void);
