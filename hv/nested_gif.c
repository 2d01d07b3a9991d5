#include "hv/nested_gif.h"
#include "arch/x86/vmcb.h"

void nested_gif_set(struct vcpu *v, bool gif)
{
    struct nested *n = &v->nested;
    uint32_t *int_ctl = &n->vmcb02.va->control.int_ctl;
    if (gif == n->l2_gif)
        return;
    n->l2_gif = gif;
    if (!gif) {
        n->l2_virq_held = (*int_ctl & VMCB_INT_CTL_V_IRQ) != 0;
        *int_ctl = (*int_ctl & ~VMCB_INT_CTL_V_IRQ) | VMCB_INT_CTL_V_INTR_MASKING;
        return;
    }
    /* V_INTR_MASKING as L1 set it; its V_IRQ back if still held. */
    *int_ctl = (*int_ctl & ~VMCB_INT_CTL_V_INTR_MASKING) |
               (n->vmcb12->control.int_ctl & VMCB_INT_CTL_V_INTR_MASKING) |
               (n->l2_virq_held ? VMCB_INT_CTL_V_IRQ : 0);
    n->l2_virq_held = false;
}
