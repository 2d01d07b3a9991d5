#include "hv/nested/l1_gif.h"
#include "hv/exit/l1_intercepts.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/core/host_caps.h"
#include "hv/core/log.h"


#define vgif (host_caps()->vgif)

void l1_gif_init(struct vcpu *v)
{
    if (vgif)
        v->vmcb01.va->control.int_ctl |= VMCB_INT_CTL_VGIF_ENABLE;
    v->nested.intr_open = true; /* an L1 that never runs CLGI pays nothing */
    l1_gif_set(v, true);
    if (v->id == 0)
        pr_info("L1's GIF: %s", vgif ? "the CPU's vGIF (L1's STGI and CLGI exit only when needed)"
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
 * way always holds while GIF is clear). intr_open (vGIF, GIF set): INTR
 * is not intercepted and CLGI exits; otherwise INTR is intercepted and
 * CLGI runs without an exit (l1_gif.h). */
static void apply(struct vcpu *v)
{
    struct nested *n = &v->nested;
    struct vmcb_control *c = &v->vmcb01.va->control;
    bool clear = !n->gif;
    bool hold_intr = clear && (!vgif || n->intr_held);
    set_bit32(&c->int_ctl, VMCB_INT_CTL_V_INTR_MASKING, hold_intr);
    /* NMIs are always intercepted (kicks from other CPUs, hv/smp/apic.c);
     * L1's own are injected while its GIF is set, held while clear. */
    if (vgif) {
        bool open = n->gif && n->intr_open;
        set_bit32(&c->int_ctl, VMCB_INT_CTL_VGIF, n->gif);
        set_bit32(&c->intercept_misc1, VMCB_INTERCEPT1_INTR, !open && !hold_intr);
        set_bit32(&c->intercept_misc2, VMCB_INTERCEPT2_CLGI, open);
        set_bit32(&c->intercept_misc2, VMCB_INTERCEPT2_STGI, clear && (hold_intr || n->nmi_pending));
    }
}

/* L1's NMI masking. An NMI blocks further NMIs until the handler's IRET
 * (APM Vol. 2, 8.2.3); for the NMIs L0 injects, the CPU does not keep that
 * state across #VMEXIT and VMRUN, so L0 does, as KVM does: while masked,
 * IRET is intercepted; at that exit (before the IRET runs) L1 is
 * single-stepped over it (TF set, #DB intercepted), and the #DB after it
 * ends the mask and lets a held NMI in. */
static void inject_nmi(struct vcpu *v)
{
    struct nested *n = &v->nested;
    n->nmi_pending = false;
    n->l1_nmi_masked = true;
    v->vmcb01.va->control.eventinj = vmcb_event_make(VEC_NMI, VMCB_EVENT_TYPE_NMI, 0, 0);
    v->vmcb01.va->control.intercept_misc1 |= VMCB_INTERCEPT1_IRET;
}

/* Never over another event queued for L1: it waits for the next exit. */
static void deliver_held_nmi(struct vcpu *v)
{
    struct nested *n = &v->nested;
    if (n->nmi_pending && n->gif && !n->l1_nmi_masked && !n->in_l2 &&
        !(v->vmcb01.va->control.eventinj & VMCB_EVENT_V))
        inject_nmi(v);
}

/* L0's IRET step relies on #DB exits, which L0 always intercepts. */
_Static_assert(L0_INTERCEPT_EXCEPTIONS & (1u << VEC_DB), "#DB intercepted");

void l1_nmi_iret(struct vcpu *v)
{
    struct nested *n = &v->nested;
    struct vmcb *vmcb01 = v->vmcb01.va;
    vmcb01->control.intercept_misc1 &= ~VMCB_INTERCEPT1_IRET;
    if (!n->l1_nmi_masked)
        return; /* an IRET of no NMI of ours: nothing to do, it runs */
    n->iret_stepping = true;
    n->iret_rip = vmcb01->save.rip;
    n->iret_guest_tf = (vmcb01->save.rflags & RFLAGS_TF) != 0;
    vmcb01->save.rflags |= RFLAGS_TF; /* its trap: a #DB exit, always intercepted */
}

/* The IRET has run (L1's RIP moved on): the mask goes, L0's TF goes
 * unless L1 had its own, and a held NMI comes in (after any event L1 is
 * owed, which then goes first). */
static void step_done(struct vcpu *v)
{
    struct nested *n = &v->nested;
    struct vmcb *vmcb01 = v->vmcb01.va;
    n->iret_stepping = false;
    n->l1_nmi_masked = false;
    /* The IRET popped L1's own RFLAGS; if an event interrupted it first,
     * L0's TF may still be set: drop it unless it was L1's. */
    if (!n->iret_guest_tf)
        vmcb01->save.rflags &= ~RFLAGS_TF;
    /* With vGIF L1 may have run CLGI or STGI without an exit since L0
     * last looked: take its GIF from VMCB01 before letting an NMI in. */
    l1_gif_set(v, l1_gif(v));
}

void l1_nmi_step_check(struct vcpu *v)
{
    if (v->nested.iret_stepping && v->vmcb01.va->save.rip != v->nested.iret_rip)
        step_done(v);
}

bool l1_nmi_iret_done(struct vcpu *v)
{
    struct nested *n = &v->nested;
    struct vmcb *vmcb01 = v->vmcb01.va;
    /* Ours: the single-step trap (DR6.BS) after the IRET ran. Anything else
     * (a breakpoint on the IRET, a data breakpoint on its stack) is L1's. */
    if (!n->iret_stepping || !(vmcb01->save.dr6 & DR6_BS) || vmcb01->save.rip == n->iret_rip)
        return false;
    bool guest_tf = n->iret_guest_tf;
    if (!guest_tf)
        vmcb01->save.dr6 &= ~DR6_BS; /* the single step was ours alone */
    else { /* L1 single-steps itself: the trap is its own too, and goes first */
        vmcb01->save.dr7 &= ~DR7_GD; /* as delivering #DB does (hv/core/vcpu.c) */
        vmcb01->control.eventinj = vmcb_event_make(VEC_DB, VMCB_EVENT_TYPE_EXCEPTION, 0, 0);
    }
    step_done(v);
    return true;
}

void l1_gif_set(struct vcpu *v, bool gif)
{
    struct nested *n = &v->nested;
    n->gif = gif;
    if (gif) {
        /* A held interrupt is delivered: the host IF is set again and,
         * with vGIF, INTR is no longer intercepted (it goes straight in). */
        n->intr_open |= n->intr_held;
        n->intr_held = false;
        deliver_held_nmi(v);
    } else {
        n->intr_open = false; /* GIF clear: an arriving INTR must exit */
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
    /* Only with vGIF. GIF set (L1 ran STGI, or never CLGI, since L0 last
     * looked): open, the interrupt reaches L1 at the next VMRUN and the
     * next CLGI exits to close again; still clear: hold it until STGI. */
    bool gif = l1_gif(v);
    if (gif)
        v->nested.intr_open = true;
    else
        v->nested.intr_held = true;
    l1_gif_set(v, gif);
}

bool l1_gif_host_if(const struct vcpu *v)
{
    /* L1 ran VMRUN, which set the GIF; the host's IF is L1's IF at that
     * VMRUN, which gates physical interrupts in L2 when V_INTR_MASKING is
     * set (APM 15.21.1; without it L2's own IF does). While L2's emulated
     * GIF is clear, or L0 steps L2 over a map write (hv/nested/nested_maps.c),
     * VMCB02 has V_INTR_MASKING and this is clear: they wait. */
    if (v->nested.in_l2)
        return v->nested.l1_if_at_vmrun && !v->nested.intr_hold;
    return vgif ? !v->nested.intr_held : v->nested.gif;
}
