#include "hv/core/vcpu.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/core/exception.h"
#include "hv/decode/guest_fetch.h"
#include "hv/decode/insn_len.h"
#include "hv/core/log.h"
#include "hv/nested/nested.h"
#include "hv/core/host_caps.h"
#include "hv/console/stats.h"

/* An instruction L0 completed for the guest was single-stepped if the
 * guest's RFLAGS.TF was set: the #DB trap it owes comes after it, with
 * DR6.BS (APM Vol. 2, 13.1.4). For VMRUN that is in L1 after the #VMEXIT
 * (15.5.1): queued in VMCB01, it waits there while L2 runs. A TF L0 set
 * itself to step an IRET of L1 (hv/nested/l1_gif.c) is not the guest's. */
static void single_step_trap(struct vcpu *v)
{
    struct vmcb *vmcb = v->vmcb.va;
    const struct nested *n = &v->nested;
    if (!(vmcb->save.rflags & RFLAGS_TF) || (vmcb->control.eventinj & VMCB_EVENT_V) ||
        (!n->in_l2 && n->iret_stepping && !n->iret_guest_tf) || (n->in_l2 && n->map_step && !n->map_step_tf))
        return;
    vmcb->save.dr6 |= DR6_BS;
    vcpu_inject_exception(v, VEC_DB, false, 0);
}

/* The CPU's nRIP or EXITINFO2 are where the guest resumes as they are;
 * RIP + length wraps as the instruction pointer does: at 2^32 outside
 * 64-bit code (insn_len.h leaves that to the caller), at 2^64 in it. So a
 * next RIP of 0 is an address like any other (an instruction that ends at
 * the top), and only the exit tells whether the length is known. */
void vcpu_skip_insn(struct vcpu *v)
{
    struct vmcb *vmcb = v->vmcb.va;
    const struct vmcb_control *c = &vmcb->control;
    bool from_cpu = (host_caps()->nrips && c->nrip) || c->exitcode == VMEXIT_IOIO;
    if (!from_cpu && !insn_len_fixed(c->exitcode)) {
        /* Only exits with a known length call this: a bug, not L1's fault. */
        vcpu_dump(v, "cannot advance RIP: instruction length unknown");
        hv_fatal_stop();
    }
    uint64_t next = insn_next_rip(c->exitcode, vmcb->save.rip, c->nrip, c->exitinfo2,
                                  host_caps()->nrips);
    bool code64 = guest_code64(&vmcb->save);
    if (!from_cpu && !code64)
        next = (uint32_t)next;
    vcpu_complete_insn(v, next);
}

void vcpu_complete_insn_flags(struct vcpu *v)
{
    /* RF suppressed instruction breakpoints for this instruction only
     * (APM Vol. 2, 13.1.1.9): the CPU clears it once one completes. */
    v->vmcb.va->save.rflags &= ~RFLAGS_RF;
    single_step_trap(v);
}

void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
    /* An exception of L2's that L1 intercepts is L1's #VMEXIT (15.12). */
    if (v->nested.in_l2 && nested_l1_takes_exception(v, vector, has_error, error))
        return;
    /* Delivering #DB clears DR7.GD (APM Vol. 2, 13.1.1.5); an injected one
     * does not, and the handler's first DR access would fault again. */
    if (vector == VEC_DB)
        v->vmcb.va->save.dr7 &= ~DR7_GD;
    v->vmcb.va->control.eventinj =
        vmcb_event_make(vector, VMCB_EVENT_TYPE_EXCEPTION, has_error, error);
}

void vcpu_dump(const struct vcpu *v, const char *why)
{
    const struct vmcb_save *s = &v->vmcb.va->save;
    const struct guest_regs *r = &v->regs;
    pr_err("%s", why);
    pr_err("guest RIP=%016lx RSP=%016lx RFLAGS=%016lx CPL=%u", s->rip, s->rsp, s->rflags, s->cpl);
    pr_err("guest RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx", s->rax, r->rbx, r->rcx, r->rdx);
    pr_err("guest RSI=%016lx RDI=%016lx RBP=%016lx R8 =%016lx", r->rsi, r->rdi, r->rbp, r->r8);
    pr_err("guest R9 =%016lx R10=%016lx R11=%016lx R12=%016lx", r->r9, r->r10, r->r11, r->r12);
    pr_err("guest R13=%016lx R14=%016lx R15=%016lx", r->r13, r->r14, r->r15);
    pr_err("guest CR0=%016lx CR2=%016lx CR3=%016lx CR4=%016lx EFER=%016lx",
           s->cr0, s->cr2, s->cr3, s->cr4, s->efer);
    pr_err("guest CS=%04x SS=%04x DS=%04x TR=%04x GDTR=%016lx/%04x IDTR=%016lx/%04x",
           s->cs.selector, s->ss.selector, s->ds.selector, v->guest_cpu.va->save.tr.selector,
           s->gdtr.base, s->gdtr.limit, s->idtr.base, s->idtr.limit);
    const struct vmcb_control *c = &v->vmcb.va->control;
    pr_err("exit code %#lx info1 %#lx info2 %#lx intinfo %#lx", c->exitcode, c->exitinfo1,
           c->exitinfo2, c->exitintinfo);
    stats_print_last_exits(&v->stats);
}
