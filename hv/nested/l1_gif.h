/* L1's global interrupt flag (APM Vol. 2, 15.17 "Global Interrupt Flag,
 * STGI and CLGI"; 15.33.2 "Virtual GIF"). L1 is the "host" of its L2s, so
 * its STGI/CLGI, its VMRUN (GIF := 1) and every #VMEXIT reflected to it
 * (GIF := 0) change a GIF that L0 keeps for it: while it is clear, L1 takes
 * no interrupts and no NMIs; they wait until it is set again.
 *
 * Two ways to hold them, chosen once from the host's CPUID:
 *  - emulated (no vGIF): STGI and CLGI always exit; while GIF is clear,
 *    VMCB01 sets V_INTR_MASKING and L1 runs with the host's IF clear, so
 *    physical interrupts stay pending; NMIs are intercepted and held.
 *  - with the host's vGIF: VMCB01's V_GIF is L1's GIF, and L1's STGI and
 *    CLGI change it without an exit. V_GIF=0 masks only virtual
 *    interrupts (15.33.2), not physical ones L0 does not intercept, and
 *    L1 owns the interrupt controller, so L0 keeps INTR intercepted
 *    whenever L1 might clear GIF unseen ("closed"): an INTR exit then
 *    reads V_GIF. Clear: the interrupt is held (host IF clear, V_INTR_
 *    MASKING) and STGI exits to deliver it. Set: L0 "opens", INTR is
 *    no longer intercepted, the CPU delivers it to L1 at the next VMRUN,
 *    and CLGI exits (the only way GIF can go clear unseen) to close
 *    again. An L1 that never runs CLGI stays open and never exits for an
 *    interrupt; one that wraps VMRUN in CLGI/STGI, as KVM does, stays
 *    closed and runs both without exits: one interrupt costs it an INTR
 *    and a CLGI exit instead of each VMRUN a CLGI exit.
 * With vGIF, STGI exits only when something is held. State machine
 * unit-tested in tests/unit/test_l1_gif.c. */
#pragma once
#include <stdbool.h>
#include "hv/core/vcpu.h"

/* The host's vGIF (hv/core/host_caps.h) decides the way, once. */
void l1_gif_init(struct vcpu *v);
/* L1's GIF as of now (with vGIF, L1 may have set it without an exit). */
bool l1_gif(const struct vcpu *v);
/* STGI/CLGI (emulated), L1's VMRUN (true), a #VMEXIT reflected (false). */
void l1_gif_set(struct vcpu *v, bool gif);
/* An NMI or INTR exit of L1: only intercepted while its GIF is clear. */
void l1_gif_nmi_exit(struct vcpu *v);
void l1_gif_intr_exit(struct vcpu *v);
/* L1's NMI masking (see l1_gif.c): the IRET exit while masked, and the
 * #DB exit after it (false: a #DB L0 did not cause, L1's own). */
void l1_nmi_iret(struct vcpu *v);
bool l1_nmi_iret_done(struct vcpu *v);
/* Any other exit of L1 while stepping: if its RIP left the IRET, the step
 * is over (an event interrupted it, or L1 dropped the frame). */
void l1_nmi_step_check(struct vcpu *v);
/* The host's RFLAGS.IF for L1's next VMRUN (arch/x86/vmrun.asm). */
bool l1_gif_host_if(const struct vcpu *v);
