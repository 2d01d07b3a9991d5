/* L1's GIF (hv/nested/l1_gif.c), both ways: emulated (STGI/CLGI always exit) and
 * with the host's vGIF (V_GIF in VMCB01, STGI exits only when something
 * is held, CLGI only while INTR goes straight to L1). What is checked is what VMCB01 and the host's IF say after
 * each event, i.e. whether L1 could take an interrupt or an NMI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "arch/x86/cpu.h"
#include "hv/nested/l1_gif.h"
#include "hv/nested/l1_vmload.h"
#include "hv/exit/l1_intercepts.h"
#include "hv/core/host_caps.h"
#include "hv/core/log.h"
#include "hv/nested/nested.h"

void log_printf(enum log_level level, const char *fmt, ...) { (void)level; (void)fmt; }
void tlb_service_leaving_slow(struct vcpu *v) { (void)v; }
bool tlb_vmrun12(struct vcpu *v, uint32_t vasid, uint64_t ncr3, uint8_t tlb_control12)
{
    (void)v; (void)vasid; (void)ncr3; (void)tlb_control12;
    return false;
}

static struct vcpu vcpu;
static struct vmcb vmcb01, vmcb02, vmcb12_copy;

static void start_with(struct host_caps caps)
{
    memset(&vcpu, 0, sizeof vcpu);
    memset(&vmcb01, 0, sizeof vmcb01);
    memset(&vmcb02, 0, sizeof vmcb02);
    memset(&vmcb12_copy, 0, sizeof vmcb12_copy);
    vcpu.nested.vmcb02 = (struct vmcb_ref){ &vmcb02, 0x2000 };
    vcpu.nested.vmcb12 = &vmcb12_copy;
    vmcb01.control.intercept_misc1 = L1_INTERCEPT_MISC1;
    vmcb01.control.intercept_misc2 = L1_INTERCEPT_MISC2;
    vmcb01.control.intercept_exceptions = L0_INTERCEPT_EXCEPTIONS;
    vcpu.vmcb01 = (struct vmcb_ref){ &vmcb01, 0x1000 };
    switch_vmcb(&vcpu, TLB_CTX_L1);
    host_caps_init(&caps);
    l1_gif_init(&vcpu);
}

static void start(bool vgif)
{
    start_with((struct host_caps){ .vgif = vgif });
}

static bool int_ctl(uint32_t bit) { return (vmcb01.control.int_ctl & bit) != 0; }
static bool misc1(uint32_t bit) { return (vmcb01.control.intercept_misc1 & bit) != 0; }
static bool misc2(uint32_t bit) { return (vmcb01.control.intercept_misc2 & bit) != 0; }

/* Physical interrupts reach L1's IDT: not intercepted, not masked by a
 * clear host IF. */
static bool interrupts_reach_l1(void)
{
    return !misc1(VMCB_INTERCEPT1_INTR) &&
           (!int_ctl(VMCB_INT_CTL_V_INTR_MASKING) || l1_gif_host_if(&vcpu));
}

/* Held: neither delivered nor exiting (no exit storm while GIF is clear). */
static bool interrupts_held(void)
{
    return int_ctl(VMCB_INT_CTL_V_INTR_MASKING) && !l1_gif_host_if(&vcpu);
}

static bool nmi_injected(void)
{
    return vmcb01.control.eventinj == vmcb_event_make(VEC_NMI, VMCB_EVENT_TYPE_NMI, 0, 0);
}

static void silent_stgi(void) /* L1's STGI with vGIF and no intercept */
{
    assert_false(misc2(VMCB_INTERCEPT2_STGI));
    vmcb01.control.int_ctl |= VMCB_INT_CTL_VGIF;
}

/* L1's VMRUN (its GIF is not looked at while L2 runs) and the #VMEXIT
 * reflected to it, which clears its GIF (nested.c). */
static void l2_round_trip(void)
{
    switch_vmcb(&vcpu, TLB_CTX_L2);
    switch_vmcb(&vcpu, TLB_CTX_L1);
    l1_gif_set(&vcpu, false);
}

static void silent_clgi(void) /* L1's CLGI with vGIF and no intercept */
{
    assert_false(misc2(VMCB_INTERCEPT2_CLGI));
    vmcb01.control.int_ctl &= ~VMCB_INT_CTL_VGIF;
}

/* Closed: an interrupt arriving now exits, whatever L1 does to V_GIF. */
static bool closed(void)
{
    return misc1(VMCB_INTERCEPT1_INTR) && !misc2(VMCB_INTERCEPT2_CLGI) &&
           !interrupts_held();
}

static void test_emulated_set(void **state)
{
    (void)state;
    start(false);
    assert_true(l1_gif(&vcpu));
    assert_true(interrupts_reach_l1());
    assert_true(misc1(VMCB_INTERCEPT1_NMI)); /* always: other CPUs' kicks */
    assert_true(misc2(VMCB_INTERCEPT2_STGI) && misc2(VMCB_INTERCEPT2_CLGI));
    assert_false(int_ctl(VMCB_INT_CTL_VGIF_ENABLE));
    /* L1's own NMI (not a kick) with GIF set: given to L1 at once. */
    l1_gif_nmi_exit(&vcpu);
    assert_true(nmi_injected());
}

static void test_emulated_clear_holds_interrupts_and_nmis(void **state)
{
    (void)state;
    start(false);
    l1_gif_set(&vcpu, false); /* CLGI */
    assert_false(l1_gif(&vcpu));
    assert_true(interrupts_held());
    assert_true(misc1(VMCB_INTERCEPT1_NMI));
    l1_gif_nmi_exit(&vcpu);
    assert_false(nmi_injected());
    assert_true(interrupts_held());
    l1_gif_set(&vcpu, true); /* STGI */
    assert_true(nmi_injected());
    assert_true(interrupts_reach_l1());
    assert_true(misc1(VMCB_INTERCEPT1_NMI)); /* always: other CPUs' kicks */
    assert_true(misc2(VMCB_INTERCEPT2_STGI)); /* emulated: always */
}

static void test_l2_runs_with_host_if(void **state)
{
    (void)state;
    start(false);
    l1_gif_set(&vcpu, false);
    vcpu.nested.l1_if_at_vmrun = true; /* as nested_vmrun() records it */
    switch_vmcb(&vcpu, TLB_CTX_L2); /* VMRUN set GIF for L2 */
    assert_true(l1_gif_host_if(&vcpu));
    /* The host's IF in L2 is L1's IF at VMRUN (APM 15.21.1)... */
    vcpu.nested.l1_if_at_vmrun = false;
    assert_false(l1_gif_host_if(&vcpu));
    /* ... and clear while L0 holds L2's interrupts (hv/nested/nested_gif.h). */
    vcpu.nested.l1_if_at_vmrun = true;
    vcpu.nested.intr_hold = true;
    assert_false(l1_gif_host_if(&vcpu));
}

static void test_vgif_set(void **state)
{
    (void)state;
    start(true);
    assert_true(int_ctl(VMCB_INT_CTL_VGIF_ENABLE));
    assert_true(int_ctl(VMCB_INT_CTL_VGIF));
    assert_true(l1_gif(&vcpu));
    assert_true(interrupts_reach_l1());
    assert_false(misc2(VMCB_INTERCEPT2_STGI)); /* the exit vGIF saves */
    /* Open: an L1 that never clears GIF takes interrupts without exits,
     * and its first CLGI exits. */
    assert_false(misc1(VMCB_INTERCEPT1_INTR));
    assert_true(misc2(VMCB_INTERCEPT2_CLGI));
}

/* CLGI: V_GIF clear, interrupts not delivered but intercepted (so an
 * arriving one is noticed), STGI still free. */
static void test_vgif_clear_intercepts_instead_of_delivering(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false);
    assert_false(int_ctl(VMCB_INT_CTL_VGIF));
    assert_false(l1_gif(&vcpu));
    assert_false(interrupts_reach_l1());
    assert_true(misc1(VMCB_INTERCEPT1_INTR) && misc1(VMCB_INTERCEPT1_NMI));
    assert_true(l1_gif_host_if(&vcpu));
    assert_false(misc2(VMCB_INTERCEPT2_STGI));
    assert_true(closed()); /* the next CLGI runs without an exit */
}

/* KVM's loop around VMRUN: once closed, L1's STGI and CLGI both run
 * without exits, and an interrupt that comes while GIF is clear is still
 * held until STGI, which then exits. */
static void test_vgif_closed_clgi_and_stgi_do_not_exit(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false); /* the first CLGI exits: closed */
    for (int i = 0; i < 3; i++) {
        silent_stgi();
        assert_true(closed());
        silent_clgi();
        assert_true(closed());
        assert_false(misc2(VMCB_INTERCEPT2_STGI));
    }
    assert_false(l1_gif(&vcpu));
    l1_gif_intr_exit(&vcpu); /* arrives with GIF clear, unseen by L0 */
    assert_true(interrupts_held());
    assert_false(misc1(VMCB_INTERCEPT1_INTR)); /* no exit storm */
    assert_true(misc2(VMCB_INTERCEPT2_STGI));
    l1_gif_set(&vcpu, true); /* the STGI exit: delivered, open */
    assert_true(interrupts_reach_l1());
    assert_true(misc2(VMCB_INTERCEPT2_CLGI));
    l1_gif_set(&vcpu, false); /* so the next CLGI exits and closes */
    assert_true(closed());
}

/* Closed with GIF set (L1 ran STGI unseen): the interrupt's exit opens,
 * the CPU delivers it, and the next CLGI exits to close again. */
static void test_vgif_interrupt_with_gif_set_opens(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false);
    silent_stgi();
    l1_gif_intr_exit(&vcpu);
    assert_true(interrupts_reach_l1());
    assert_true(misc2(VMCB_INTERCEPT2_CLGI));
    assert_false(misc2(VMCB_INTERCEPT2_STGI));
    assert_int_equal(vmcb01.control.eventinj, 0);
}

/* A reflected #VMEXIT clears GIF in the open state too: closed again,
 * else an interrupt would reach L1 with GIF clear. */
static void test_vgif_reflected_exit_closes(void **state)
{
    (void)state;
    start(true);
    assert_true(interrupts_reach_l1()); /* open */
    l2_round_trip();
    assert_false(interrupts_reach_l1());
    assert_true(closed());
}

/* L0 ends its step over the IRET of L1's NMI handler with a held NMI,
 * after L1 cleared GIF unseen: the NMI must wait for STGI. */
static void test_vgif_held_nmi_after_step_waits_for_unseen_clgi(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false);
    silent_stgi();
    l1_gif_nmi_exit(&vcpu); /* GIF set: injected, NMIs masked */
    assert_true(nmi_injected());
    vmcb01.control.eventinj = 0;
    l1_gif_nmi_exit(&vcpu); /* a second one, held while masked */
    assert_false(nmi_injected());
    vmcb01.save.rflags = 0x2;
    vmcb01.save.rip = 0x5000;
    l1_nmi_iret(&vcpu);
    silent_clgi();          /* the handler returned into a CLGI */
    vmcb01.save.rip = 0x6000;
    vmcb01.save.dr6 = 0xFFFF0FF0 | (1u << 14);
    assert_true(l1_nmi_iret_done(&vcpu));
    assert_false(nmi_injected());
    assert_true(misc2(VMCB_INTERCEPT2_STGI));
    l1_gif_set(&vcpu, true); /* the STGI exit */
    assert_true(nmi_injected());
}

/* Issue 10's goal, as far as VMCB01 decides it: KVM runs CLGI, VMLOAD,
 * VMRUN, VMSAVE, VMLOAD, STGI around each run of its guest. On a CPU with
 * vGIF and virtualized VMLOAD/VMSAVE (APM 15.33), once its first CLGI has
 * closed, only VMRUN exits: with the L2 exit that is 2 exits to L0 per
 * L2 exit (measured so on a QEMU with the feature on, README "make bench"). */
static void test_kvm_loop_exits_only_at_vmrun(void **state)
{
    (void)state;
    start_with((struct host_caps){ .vgif = true, .vmload_virt = true });
    vcpu.l1.efer_svme = true; /* KVM has set EFER.SVME */
    l1_vmload_update(&vcpu);
    l1_gif_set(&vcpu, false); /* the first CLGI exits and closes */
    silent_stgi();
    for (int run = 0; run < 3; run++) {
        silent_clgi();
        assert_false(misc2(VMCB_INTERCEPT2_VMLOAD));
        assert_true(misc2(VMCB_INTERCEPT2_VMRUN));
        l2_round_trip(); /* the VMRUN exits; L2 exits; L0 reflects it */
        assert_false(misc2(VMCB_INTERCEPT2_VMSAVE) || misc2(VMCB_INTERCEPT2_VMLOAD));
        silent_stgi();
        assert_true(closed());
    }
}

/* Any sequence of what L1 and the CPU do, with vGIF: an interrupt reaches
 * L1 only while V_GIF is set and L0 would see a CLGI; an INTR exit never
 * leaves INTR intercepted (no exit storm); a held interrupt or NMI always
 * has an STGI exit to release it; an NMI goes in only with V_GIF set. A fixed-seed generator, so a failure repeats. */
static uint32_t rng_state = 12345;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) % n;
}

static void check_vgif_invariants(void)
{
    bool vgif_set = int_ctl(VMCB_INT_CTL_VGIF);
    if (interrupts_reach_l1())
        assert_true(vgif_set && misc2(VMCB_INTERCEPT2_CLGI));
    if (interrupts_held())
        assert_true(!vgif_set && misc2(VMCB_INTERCEPT2_STGI) && !misc1(VMCB_INTERCEPT1_INTR));
    if (vcpu.nested.nmi_pending && !vgif_set)
        assert_true(misc2(VMCB_INTERCEPT2_STGI));
    assert_true(misc1(VMCB_INTERCEPT1_INTR) || interrupts_reach_l1() || interrupts_held());
}

static void test_vgif_random_sequences_keep_invariants(void **state)
{
    (void)state;
    for (int run = 0; run < 200; run++) {
        start(true);
        bool intr_pending = false;
        for (int step = 0; step < 60; step++) {
            switch (rnd(6)) {
            case 0: /* CLGI */
                if (misc2(VMCB_INTERCEPT2_CLGI))
                    l1_gif_set(&vcpu, false);
                else
                    vmcb01.control.int_ctl &= ~VMCB_INT_CTL_VGIF;
                break;
            case 1: /* STGI */
                if (misc2(VMCB_INTERCEPT2_STGI))
                    l1_gif_set(&vcpu, true);
                else
                    vmcb01.control.int_ctl |= VMCB_INT_CTL_VGIF;
                break;
            case 2: /* a device raises an interrupt (L1's IF set) */
                intr_pending = true;
                break;
            case 3: /* an NMI: always an exit */
                l1_gif_nmi_exit(&vcpu);
                break;
            case 4:
                l2_round_trip();
                break;
            default: /* time passes */
                break;
            }
            /* L1 runs again: an NMI L0 injected is taken first, and its
             * handler's IRET stepped (which may let a held one in). */
            while (nmi_injected()) {
                assert_true(int_ctl(VMCB_INT_CTL_VGIF));
                vmcb01.control.eventinj = 0;
                vmcb01.save.rflags = 0x2;
                vmcb01.save.rip = 0x5000;
                l1_nmi_iret(&vcpu);
                vmcb01.save.rip = 0x5001;
                vmcb01.save.dr6 = 0xFFFF0FF0 | (1u << 14);
                assert_true(l1_nmi_iret_done(&vcpu));
            }
            if (intr_pending) { /* what the CPU does with it now */
                if (misc1(VMCB_INTERCEPT1_INTR)) {
                    l1_gif_intr_exit(&vcpu);
                    /* delivered or held, never another exit for it */
                    assert_false(misc1(VMCB_INTERCEPT1_INTR));
                } else if (interrupts_reach_l1()) {
                    assert_true(int_ctl(VMCB_INT_CTL_VGIF));
                    intr_pending = false;
                }
            }
            check_vgif_invariants();
        }
    }
}

/* An interrupt while GIF is still clear: held until STGI, which exits. */
static void test_vgif_interrupt_while_clear_waits_for_stgi(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false);
    l1_gif_intr_exit(&vcpu);
    assert_true(interrupts_held());
    assert_false(misc1(VMCB_INTERCEPT1_INTR)); /* no exit storm */
    assert_true(misc2(VMCB_INTERCEPT2_STGI));
    l1_gif_set(&vcpu, true); /* the STGI exit */
    assert_true(interrupts_reach_l1());
    assert_true(int_ctl(VMCB_INT_CTL_VGIF));
    assert_false(misc2(VMCB_INTERCEPT2_STGI));
}

/* L1 set GIF without an exit; the next interrupt finds it set and is let
 * through, with nothing injected. */
static void test_vgif_interrupt_after_silent_stgi_goes_through(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false);
    silent_stgi();
    assert_true(l1_gif(&vcpu));
    l1_gif_intr_exit(&vcpu);
    assert_true(interrupts_reach_l1());
    assert_true(misc1(VMCB_INTERCEPT1_NMI)); /* always: other CPUs' kicks */
    assert_int_equal(vmcb01.control.eventinj, 0);
}

static void test_vgif_nmi_while_clear_waits_for_stgi(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false);
    l1_gif_nmi_exit(&vcpu);
    assert_false(nmi_injected());
    assert_true(misc2(VMCB_INTERCEPT2_STGI));
    assert_false(int_ctl(VMCB_INT_CTL_VGIF));
    l1_gif_set(&vcpu, true);
    assert_true(nmi_injected());
    assert_false(misc2(VMCB_INTERCEPT2_STGI));
}

static void test_vgif_nmi_after_silent_stgi_is_delivered(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false);
    silent_stgi();
    l1_gif_nmi_exit(&vcpu);
    assert_true(nmi_injected());
    assert_true(misc1(VMCB_INTERCEPT1_NMI)); /* always: other CPUs' kicks */
    /* L0 saw GIF set, but L1 may clear it again unseen: still closed. */
    assert_true(closed());
}

/* A #VMEXIT reflected to L1 clears GIF like CLGI; an interrupt held from
 * before stays held. */
static void test_vgif_reflected_exit_keeps_held_interrupt(void **state)
{
    (void)state;
    start(true);
    l1_gif_set(&vcpu, false);
    l1_gif_intr_exit(&vcpu);
    vcpu.nested.l1_if_at_vmrun = true;
    switch_vmcb(&vcpu, TLB_CTX_L2); /* L1's VMRUN ... */
    assert_true(l1_gif_host_if(&vcpu));
    switch_vmcb(&vcpu, TLB_CTX_L1); /* ... and the #VMEXIT back */
    l1_gif_set(&vcpu, false);
    assert_true(interrupts_held());
    assert_true(misc2(VMCB_INTERCEPT2_STGI));
}

/* L1's NMI masking: an NMI L0 injected blocks the next one until the
 * handler's IRET has run (single-stepped by L0), then the held one goes. */
static void test_nmi_masked_until_iret_completes(void **state)
{
    (void)state;
    start(false);
    l1_gif_nmi_exit(&vcpu);
    assert_true(nmi_injected());
    assert_true(misc1(VMCB_INTERCEPT1_IRET));
    vmcb01.control.eventinj = 0; /* VMRUN delivered it: L1 is in its handler */
    l1_gif_nmi_exit(&vcpu);      /* a second one */
    assert_false(nmi_injected()); /* held while L1 handles the first */
    vmcb01.save.rflags = 0x2;
    vmcb01.save.rip = 0x5000;
    l1_nmi_iret(&vcpu);          /* the IRET exit, before the IRET runs */
    assert_false(misc1(VMCB_INTERCEPT1_IRET));
    assert_true(vmcb01.save.rflags & (1u << 8));             /* TF: step over it */
    /* its trap is a #DB exit: L0 always intercepts #DB (and keeps it) */
    assert_int_equal(vmcb01.control.intercept_exceptions, L0_INTERCEPT_EXCEPTIONS);
    assert_false(nmi_injected());
    /* A breakpoint on the IRET itself (RIP still there): L1's, not ours. */
    vmcb01.save.dr6 = 0xFFFF0FF1;
    assert_false(l1_nmi_iret_done(&vcpu));
    vmcb01.save.rflags = 0x2;            /* the IRET popped L1's flags */
    vmcb01.save.rip = 0x7000;            /* and went back */
    vmcb01.save.dr6 = 0xFFFF0FF0 | (1u << 14); /* BS from our step */
    assert_true(l1_nmi_iret_done(&vcpu)); /* the #DB after it */
    assert_int_equal(vmcb01.control.intercept_exceptions, L0_INTERCEPT_EXCEPTIONS);
    assert_false(vmcb01.save.dr6 & (1u << 14));
    assert_true(nmi_injected());         /* now the held one */
    assert_true(misc1(VMCB_INTERCEPT1_IRET)); /* and masked again */
}

/* An event that interrupts the stepped IRET (or L1 dropping the frame):
 * the first exit with RIP elsewhere ends the step and takes L0's TF away. */
static void test_step_ended_by_another_exit(void **state)
{
    (void)state;
    start(false);
    l1_gif_nmi_exit(&vcpu);
    vmcb01.control.eventinj = 0;
    vmcb01.save.rflags = 0x2;
    vmcb01.save.rip = 0x5000;
    l1_nmi_iret(&vcpu);
    l1_nmi_step_check(&vcpu); /* an exit still at the IRET: nothing yet */
    assert_true(vmcb01.save.rflags & (1u << 8));
    vmcb01.save.rip = 0x9000; /* an exit somewhere else */
    l1_nmi_step_check(&vcpu);
    assert_false(vmcb01.save.rflags & (1u << 8));
    assert_int_equal(vmcb01.control.intercept_exceptions, L0_INTERCEPT_EXCEPTIONS);
    l1_gif_nmi_exit(&vcpu); /* no longer masked: straight in */
    assert_true(nmi_injected());
}

/* An IRET while no NMI of ours is being handled, and a #DB L0 did not
 * cause, are L1's business. */
static void test_iret_and_db_not_ours(void **state)
{
    (void)state;
    start(false);
    vmcb01.save.rflags = 0x2;
    l1_nmi_iret(&vcpu);
    assert_int_equal(vmcb01.save.rflags, 0x2);
    assert_int_equal(vmcb01.control.intercept_exceptions, L0_INTERCEPT_EXCEPTIONS);
    assert_false(l1_nmi_iret_done(&vcpu));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emulated_set),
        cmocka_unit_test(test_nmi_masked_until_iret_completes),
        cmocka_unit_test(test_iret_and_db_not_ours),
        cmocka_unit_test(test_step_ended_by_another_exit),
        cmocka_unit_test(test_emulated_clear_holds_interrupts_and_nmis),
        cmocka_unit_test(test_l2_runs_with_host_if),
        cmocka_unit_test(test_vgif_set),
        cmocka_unit_test(test_vgif_clear_intercepts_instead_of_delivering),
        cmocka_unit_test(test_vgif_interrupt_while_clear_waits_for_stgi),
        cmocka_unit_test(test_vgif_interrupt_after_silent_stgi_goes_through),
        cmocka_unit_test(test_vgif_nmi_while_clear_waits_for_stgi),
        cmocka_unit_test(test_vgif_nmi_after_silent_stgi_is_delivered),
        cmocka_unit_test(test_vgif_reflected_exit_keeps_held_interrupt),
        cmocka_unit_test(test_vgif_closed_clgi_and_stgi_do_not_exit),
        cmocka_unit_test(test_vgif_interrupt_with_gif_set_opens),
        cmocka_unit_test(test_vgif_reflected_exit_closes),
        cmocka_unit_test(test_vgif_held_nmi_after_step_waits_for_unseen_clgi),
        cmocka_unit_test(test_vgif_random_sequences_keep_invariants),
        cmocka_unit_test(test_kvm_loop_exits_only_at_vmrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
