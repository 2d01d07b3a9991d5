#include "hv/l1_gif.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/host_caps.h"
#include "hv/log.h"

#define vgif (host_caps()->vgif)

void l1_gif_init(struct vcpu *v)
{
    if (vgif)
        v->vmcb01.va->control.int_ctl |= VMCB_INT_CTL_VGIF_ENABLE;
    l1_gif_set(v, true);
    if (v->id == 0)
        pr_info("L1's GIF: %s", vgif ? "the CPU's vGIF (L1's STGI exits only when something waits)"
                                     : "emulated (L1's STGI and CLGI exit)");
}

bool l1_gif(const struct vcpu *v)
{
    if (vgif)
        return (v->vmcb01.va->control.int_ctl & VMCB_INT_CTL_VGIF) != 0;
    return v->nested.gif;
}

static void set_bit32(uint32_t *word, uint32_t bit, bool on)
{
    *word = on ? *word | bit : *word & ~bit;
}

/* VMCB01 after a change of GIF or of what is held. intr_held: an INTR exit
 * found GIF clear, the interrupt waits for STGI (vGIF only; the emulated
 * way always holds while GIF is clear). */
static void apply(struct vcpu *v)
{
    struct nested *n = &v->nested;
    struct vmcb_control *c = &v->vmcb01.va->control;
    bool clear = !n->gif;
    bool hold_intr = clear && (!vgif || n->intr_held);
    set_bit32(&c->int_ctl, VMCB_INT_CTL_V_INTR_MASKING, hold_intr);
    /* NMIs are always intercepted (kicks from other CPUs, hv/apic.c);
     * L1's own are injected while its GIF is set, held while clear. */
    if (vgif) {
        set_bit32(&c->int_ctl, VMCB_INT_CTL_VGIF, n->gif);
        set_bit32(&c->intercept_misc1, VMCB_INTERCEPT1_INTR, clear && !hold_intr);
        set_bit32(&c->intercept_misc2, VMCB_INTERCEPT2_STGI, clear && (hold_intr || n->nmi_pending));
    }
}

void l1_gif_set(struct vcpu *v, bool gif)
{
    struct nested *n = &v->nested;
    n->gif = gif;
    if (gif) {
        n->intr_held = false; /* host IF set again: it is delivered */
        if (n->nmi_pending) {
            n->nmi_pending = false;
            v->vmcb01.va->control.eventinj = vmcb_event_make(VEC_NMI, VMCB_EVENT_TYPE_NMI, 0, 0);
        }
    }
    apply(v);
}

void l1_gif_nmi_exit(struct vcpu *v)
{
    v->nested.nmi_pending = true;
    /* With vGIF, L1 may have run STGI since: then deliver it now. */
    l1_gif_set(v, l1_gif(v));
}

void l1_gif_intr_exit(struct vcpu *v)
{
    /* Only with vGIF. GIF set again: drop the intercept, the interrupt
     * reaches L1 at the next VMRUN; still clear: hold it until STGI. */
    if (!l1_gif(v))
        v->nested.intr_held = true;
    l1_gif_set(v, l1_gif(v));
}

bool l1_gif_host_if(const struct vcpu *v)
{
    if (v->nested.in_l2)
        return true; /* L1 ran VMRUN: GIF set; V_INTR_MASKING as L1 asked */
    return vgif ? !v->nested.intr_held : v->nested.gif;
}
