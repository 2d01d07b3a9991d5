#include "hv/nested_gif.h"
#include "arch/x86/cpu.h"
#include "arch/x86/vmcb.h"

/* L0 holds L2's physical interrupts (L2's GIF clear, or a map step,
 * hv/nested_maps.c) with VMCB02's V_INTR_MASKING and the host's IF clear.
 * If L1 left V_INTR_MASKING off, L2 owns the physical TPR, but with it on
 * L2's CR8 reads and writes V_TPR (APM 15.21.1): V_TPR starts as the
 * physical TPR and goes back to it when the hold ends. */
void nested_hold_update(struct vcpu *v)
{
    struct nested *n = &v->nested;
    uint32_t *int_ctl = &n->vmcb02.va->control.int_ctl;
    bool hold = !n->l2_gif || n->map_step;
    if (hold == n->intr_hold)
        return;
    n->intr_hold = hold;
    if (n->vmcb12->control.int_ctl & VMCB_INT_CTL_V_INTR_MASKING)
        return; /* L1's own: V_TPR is L2's TPR already */
    if (hold) {
        *int_ctl = (*int_ctl & ~VMCB_INT_CTL_V_TPR_MASK) | (uint32_t)(read_cr8() & 0xF) |
                   VMCB_INT_CTL_V_INTR_MASKING;
    } else {
        write_cr8(*int_ctl & 0xF);
        *int_ctl &= ~VMCB_INT_CTL_V_INTR_MASKING;
    }
}

void nested_gif_set(struct vcpu *v, bool gif)
{
    struct nested *n = &v->nested;
    uint32_t *int_ctl = &n->vmcb02.va->control.int_ctl;
    if (gif == n->l2_gif)
        return;
    n->l2_gif = gif;
    if (!gif) {
        n->l2_virq_held = (*int_ctl & VMCB_INT_CTL_V_IRQ) != 0;
        *int_ctl &= ~VMCB_INT_CTL_V_IRQ;
    } else {
        *int_ctl |= n->l2_virq_held ? VMCB_INT_CTL_V_IRQ : 0; /* its V_IRQ back */
        n->l2_virq_held = false;
    }
    nested_hold_update(v);
}
