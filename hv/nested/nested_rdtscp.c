/* L2's RDTSCP reported as an RDTSC exit (hv/decode/rdtscp_decode.h).
 *
 * A CPU exits on RDTSCP only if the RDTSCP intercept (VMCB 010h bit 7) is
 * set, with code VMEXIT_RDTSCP (87h), and on RDTSC only on the RDTSC
 * intercept (00Ch bit 14), code 6Eh (APM Vol. 2, 15.9 "Instruction
 * Intercepts"; Appendix C). QEMU's TCG (10.0) translates RDTSCP as its
 * RDTSC helper plus a read of TSC_AUX, and that helper checks the RDTSC
 * intercept: L2's RDTSCP exits with code 6Eh when the RDTSC intercept is
 * set, and not at all when only the RDTSCP one is. A guest hypervisor
 * then emulates an "RDTSC" that is not there: Xen 4.17, which intercepts
 * both for a PVH domU, finds 0F 01 F9 where it expects 0F 31, logs "SVM
 * Insn len emulation failed" and the domU never gets past it
 * (tests/integration/test_xen.py). So L0 reads the instruction and gives
 * L1 what a CPU gives:
 *   - RDTSCP, L1 intercepts RDTSCP: L1's #VMEXIT with code 87h, RIP at
 *     the instruction (intercepts are checked before it executes, 15.7)
 *     and, where NRIPS is offered, nRIP after it (15.7.1);
 *   - RDTSCP, L1 does not intercept it: no exit; L0 performs it as L2's
 *     CPU would (APM Vol. 3, RDTSCP: EDX:EAX = TSC, ECX = TSC_AUX[31:0],
 *     upper halves of RAX, RDX, RCX cleared in 64-bit mode);
 *   - RDTSC while L1 intercepts only RDTSCP (L0 then sets the RDTSC
 *     intercept in VMCB02 so that L2's RDTSCP exits at all, hv/nested/nested.h):
 *     no exit for L1; L0 performs the RDTSC;
 *   - RDTSC that L1 intercepts: L1's, as the CPU gave it.
 * L2's TSC is the host's scaled by the CPU's ratio while L2 runs (L1's,
 * hv/nested/nested_tsc.h) plus VMCB02's offset (15.30.5). An instruction L0 cannot
 * read or decode is taken as its exit code says, an RDTSC.
 * On a CPU whose exit codes are right (decode assists, the marker
 * hv/nested/nested.c uses for them, as for hv/nested/nested_cr_read.c) none of this runs.
 * A CPU without decode assists but with correct codes pays one
 * instruction fetch per RDTSC exit of L2 and, while L1 intercepts RDTSCP
 * alone, an exit for each RDTSC of L2.
 * L1's own RDTSC/RDTSCP: VMCB01 intercepts neither (hv/exit/l1_intercepts.h),
 * so no such exit reaches L0 from L1 and there is nothing to fix there. */
#include "hv/nested/nested.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/vmcb.h"
#include "hv/decode/guest_fetch.h"
#include "hv/core/host_caps.h"
#include "hv/core/host_tsc.h"
#include "hv/core/log.h"
#include "hv/nested/nested_tsc.h"
#include "hv/decode/rdtscp_decode.h"

/* EDX:EAX (and ECX for RDTSCP) as L2's CPU writes them: 32-bit results,
 * zero-extended (APM Vol. 3, RDTSC, RDTSCP). */
static void perform(struct vcpu *v, struct vmcb *v02, bool rdtscp, uint64_t next_rip)
{
    uint64_t tsc = nested_tsc_guest(host_tsc_read(), v->l1.tsc_ratio, v02->control.tsc_offset);
    v02->save.rax = (uint32_t)tsc;
    v->regs.rdx = tsc >> 32;
    if (rdtscp)
        v->regs.rcx = host_tsc_aux_read();
    vcpu_complete_insn(v, next_rip);
}

bool nested_rdtscp_fixup(struct vcpu *v, uint64_t *code)
{
    struct vmcb *v02 = v->vmcb.va; /* the current VMCB: VMCB02 */
    const struct vmcb_save *g = &v02->save;
    const struct vmcb_control *c12 = &v->nested.vmcb12->control;
    uint8_t bytes[15];
    /* What the exit code says; rdtscp_decode() changes it only when it
     * decodes the bytes. */
    struct rdtscp_insn d = { .len = 2, .rdtscp = false };
    bool code64 = guest_code64(g);
    rdtscp_decode(bytes, guest_fetch_insn(v, bytes, sizeof bytes), code64, &d);
    if (!d.rdtscp && (c12->intercept_misc1 & VMCB_INTERCEPT1_RDTSC))
        return false; /* L1's RDTSC exit, as the CPU gave it */
    uint64_t next_rip = g->rip + d.len;
    if (!code64)
        next_rip = (uint32_t)next_rip;
    if (v->nested.rdtscp_fixups++ == 0)
        pr_info("L2's %s exited as RDTSC%s (a CPU that checks RDTSCP against the RDTSC "
                "intercept, e.g. QEMU's TCG): given to L1 as the CPU defines it",
                d.rdtscp ? "RDTSCP" : "RDTSC", d.rdtscp ? "" : " for L1's RDTSCP intercept");
    if (d.rdtscp && (c12->intercept_misc2 & VMCB_INTERCEPT2_RDTSCP)) {
        *code = VMEXIT_RDTSCP;
        if (host_caps()->nrips) /* copied to VMCB12 by the reflection */
            v02->control.nrip = next_rip;
        return false;
    }
    perform(v, v02, d.rdtscp, next_rip);
    return true;
}
