/* What L0 intercepts in L1 (VMCB01); everything else runs natively. Each
 * intercept here has a handler in hv/exit/exit_dispatch.c (a unit test checks). */
#pragma once
#include "arch/x86/vectors.h"
#include "arch/x86/vmcb.h"

/* CPUID: the hypervisor's view of the CPU. MSR_PROT/IOIO_PROT: the MSRPM
 * and IOPM decide per MSR and port. SHUTDOWN: L1's triple fault is dumped
 * instead of resetting the machine unseen. INVLPGA: an SVM instruction.
 * NMI: other CPUs make this one exit with an NMI (hv/smp/apic.c); L1's own
 * NMIs are given back to it (hv/nested/l1_gif.c). */
#define L1_INTERCEPT_MISC1 (VMCB_INTERCEPT1_CPUID | VMCB_INTERCEPT1_MSR_PROT | \
                            VMCB_INTERCEPT1_IOIO_PROT | VMCB_INTERCEPT1_INVLPGA | \
                            VMCB_INTERCEPT1_SHUTDOWN | VMCB_INTERCEPT1_NMI)
/* The SVM instructions: VMRUN must be intercepted (APM 15.5.1), the rest
 * are L0's to emulate or refuse; VMMCALL is the hypercall. */
#define L1_INTERCEPT_MISC2 (VMCB_INTERCEPT2_VMRUN | VMCB_INTERCEPT2_VMMCALL | \
                            VMCB_INTERCEPT2_VMLOAD | VMCB_INTERCEPT2_VMSAVE | \
                            VMCB_INTERCEPT2_STGI | VMCB_INTERCEPT2_CLGI | \
                            VMCB_INTERCEPT2_SKINIT)

/* #SX: with VM_CR.R_INIT a physical INIT becomes #SX (APM 15.30.1), which
 * L0 intercepts in L1 and L2 alike (hv/exit/exit_init.c). #DB and #AC: so that a
 * guest cannot hold a CPU in an endless delivery loop inside the CPU (a
 * #DB or #AC raised by the delivery of the same exception), where no
 * interrupt or NMI reaches it; each goes back to the guest at once
 * (hv/exit/exit_debug.c). */
#define L0_INTERCEPT_EXCEPTIONS ((1u << VEC_SX) | (1u << VEC_DB) | (1u << VEC_AC))

/* What L0 intercepts in L2 (VMCB02) whatever L1 asks (docs/design.md,
 * "Nested SVM"): the SVM instructions (executed for L2 on L1's behalf:
 * VMLOAD/VMSAVE addresses are L1's memory), the MSRs that protect the
 * hypervisor (the merged MSRPM carries L0's bits), SHUTDOWN, NMIs (L0's
 * kicks), CPUID (L2 sees the CPU L1 sees, hv/exit/exit_cpuid.c), and
 * L0_INTERCEPT_EXCEPTIONS. */
#define L2_INTERCEPT_MISC1_L0 (VMCB_INTERCEPT1_MSR_PROT | VMCB_INTERCEPT1_INVLPGA | \
                               VMCB_INTERCEPT1_SHUTDOWN | VMCB_INTERCEPT1_NMI | \
                               VMCB_INTERCEPT1_CPUID)
#define L2_INTERCEPT_MISC2_L0 (VMCB_INTERCEPT2_VMRUN | VMCB_INTERCEPT2_VMLOAD | \
                               VMCB_INTERCEPT2_VMSAVE | VMCB_INTERCEPT2_SKINIT)
/* L2's STGI/CLGI: emulated by L0 unless L1 gave L2 a vGIF (hv/nested/nested_gif.c). */
#define L2_INTERCEPT_GIF_L0 (VMCB_INTERCEPT2_STGI | VMCB_INTERCEPT2_CLGI)
