/* L2's MOV from CRn reported as a CR0 read (hv/decode/cr_read_decode.h).
 *
 * A CPU intercepts a read of CRn only if VMCB bit n of the CR-read
 * intercepts is set, and exits with code CR0_READ + n (APM Vol. 2, 15.9
 * "Instruction Intercepts", Table 15-7; exit codes in Appendix C). QEMU's
 * TCG (10.0) instead exits on every MOV from CRn of a guest whose CR0
 * reads are intercepted, with code 0, and has no decode assists (15.33.1)
 * that would tell which CR it was. A guest hypervisor then emulates a
 * "CR0 read" it never asked for: Xen 4.17 decodes the instruction and
 * answers a MOV from CR2 with its cached CR2, stale at that point, and a
 * PVH guest's kernel took its first early #PF at a wrong address and
 * stopped (tests/integration/test_xen.py). So L0 reads the instruction
 * and gives L1 what a CPU gives: the exit of the CR that was read if L1
 * intercepts it, else no exit at all (L0 performs the read for L2). On a
 * CPU whose exit codes are right, a CR0-read exit is a MOV from CR0 (or
 * SMSW, not a MOV CRn) and this changes nothing. */
#include "hv/nested/nested.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/vmcb.h"
#include "hv/decode/cr_read_decode.h"
#include "hv/decode/guest_fetch.h"
#include "hv/core/log.h"

static void set_gpr(struct vcpu *v, unsigned reg, uint64_t val)
{
    struct guest_regs *r = &v->regs;
    struct vmcb_save *s = &v->vmcb.va->save;
    uint64_t *const all[16] = {
        &s->rax, &r->rcx, &r->rdx, &r->rbx, &s->rsp, &r->rbp, &r->rsi, &r->rdi,
        &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
    };
    *all[reg & 15] = val;
}

bool nested_cr_read_fixup(struct vcpu *v, uint64_t *code)
{
    const struct vmcb *v02 = v->vmcb.va; /* the current VMCB: VMCB02 */
    const struct vmcb_save *g = &v02->save;
    uint8_t bytes[15];
    struct cr_read_insn d;
    bool code64 = guest_code64(g);
    unsigned n = guest_fetch_insn(v, bytes, sizeof bytes);
    if (!cr_read_decode(bytes, n, code64, &d) || d.cr == 0)
        return false; /* a CR0 read indeed (or not a MOV CRn: SMSW) */
    if (v->nested.cr_read_fixups++ == 0)
        pr_info("L2's MOV from CR%u exited as a CR0 read (a CPU that gives every CR read "
                "code 0, e.g. QEMU's TCG): given to L1 as the CPU defines it", d.cr);
    if ((v->nested.vmcb12->control.intercept_cr >> d.cr) & 1) {
        *code = VMEXIT_CR_READ(d.cr); /* L1's, with the right code */
        return false;
    }
    /* Not intercepted by L1: the read as L2's CPU performs it. VMCB02
     * holds L2's CR2, CR3 and CR4 as L1 gave them (hv/nested/nested.c), and its
     * V_TPR is CR8 when V_INTR_MASKING is on (15.21.2). Others (#UD on a
     * CPU, or CR8 without V_INTR_MASKING) go to L1 as they came. */
    uint64_t val;
    switch (d.cr) {
    case 2: val = g->cr2; break;
    case 3: val = g->cr3; break;
    case 4: val = g->cr4; break;
    case 8:
        if (!(v02->control.int_ctl & VMCB_INT_CTL_V_INTR_MASKING))
            return false;
        val = v02->control.int_ctl & 0xF;
        break;
    default:
        return false;
    }
    set_gpr(v, d.gpr, code64 ? val : (uint32_t)val);
    vcpu_complete_insn(v, g->rip + d.len);
    return true;
}
