#include "hv/nested/nested_gif.h"
#include "arch/x86/cpu.h"
#include "arch/x86/vmcb.h"

/* L0 holds L2's physical interrupts (L2's GIF clear, or a map step,
 * hv/nested/nested_maps.c) with VMCB02's V_INTR_MASKING and the host's IF clear.
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
    if (hold) {
        /* No V_IRQ while held (GIF=0 blocks virtual interrupts too). */
        n->l2_virq_held = (*int_ctl & VMCB_INT_CTL_V_IRQ) != 0;
        *int_ctl &= ~VMCB_INT_CTL_V_IRQ;
    } else {
        *int_ctl |= n->l2_virq_held ? VMCB_INT_CTL_V_IRQ : 0;
        n->l2_virq_held = false;
    }
    if (n->vmcb12->control.int_ctl & VMCB_INT_CTL_V_INTR_MASKING)
        return; /* L1's own: V_TPR is L2's TPR already */
    if (hold) {
        n->l1_v_tpr = (uint8_t)(*int_ctl & VMCB_INT_CTL_V_TPR_MASK);
        *int_ctl = (*int_ctl & ~VMCB_INT_CTL_V_TPR_MASK) | (uint32_t)(read_cr8() & 0xF) |
                   VMCB_INT_CTL_V_INTR_MASKING;
    } else {
        write_cr8(*int_ctl & 0xF);
        *int_ctl = (*int_ctl & ~(VMCB_INT_CTL_V_INTR_MASKING | VMCB_INT_CTL_V_TPR_MASK)) |
                   n->l1_v_tpr;
    }
}

void nested_gif_set(struct vcpu *v, bool gif)
{
    if (gif == v->nested.l2_gif)
        return;
    v->nested.l2_gif = gif;
    nested_hold_update(v);
}
