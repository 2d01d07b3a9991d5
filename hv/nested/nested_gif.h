/* L2's global interrupt flag (APM Vol. 2, 15.17 "Global Interrupt Flag,
 * STGI and CLGI"). L2 runs with EFER.SVME set, so an STGI or CLGI that L1
 * does not intercept executes in L2 and sets or clears the GIF that
 * governs L2: while it is clear, no interrupt, NMI or virtual interrupt
 * reaches L2, and none that L1 intercepts makes L2 exit; they wait for
 * L2's STGI (or its #VMEXIT, after which L1 takes them).
 *
 * When VMCB12 enables vGIF (offered to L1 where the CPU has it, 15.33.2),
 * the CPU's V_GIF does this and L0 does not intercept L2's STGI/CLGI.
 * Otherwise L0 emulates it: VMRUN sets it; CLGI holds physical interrupts
 * with VMCB02's V_INTR_MASKING and the host's RFLAGS.IF clear for L2's
 * runs (hv/nested/l1_gif.c, l1_gif_host_if), keeps VMCB12's V_IRQ out of VMCB02,
 * and holds NMIs (hv/nested/nested.c, l2_nmi); STGI gives all of it back. */
#pragma once
#include <stdbool.h>
#include "hv/core/vcpu.h"

void nested_gif_set(struct vcpu *v, bool gif);
/* Holds L2's interrupts while its GIF is clear or a map step is under way
 * (V_INTR_MASKING in VMCB02, the host's IF clear: hv/nested/l1_gif.c). */
void nested_hold_update(struct vcpu *v);
/* L2 leaves (#VMEXIT to L1): VMCB02 as L1 built it, nothing held.
 * Inline: every reflected exit passes here, and almost never has work. */
static inline void nested_gif_leave(struct vcpu *v)
{
    if (!v->nested.l2_gif)
        nested_gif_set(v, true);
    v->nested.l2_nmi_held = false;
}
