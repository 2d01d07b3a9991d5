/* #DB and #AC, which L0 intercepts in L1 and L2 whatever the guests ask.
 *
 * An exception that the CPU raises again while it delivers the same
 * exception (a data breakpoint on the #DB handler's stack or IDT entry;
 * #AC with alignment checking on a misaligned stack at CPL 3) makes the
 * CPU deliver it forever. It never reaches an instruction boundary, so no
 * interrupt or NMI gets the CPU back: without these intercepts a guest
 * could take a physical CPU from the hypervisor (the "benign exception"
 * loops of CVE-2015-5307 and CVE-2015-8104). Intercepted, each delivery is
 * a #VMEXIT, and the loop goes through L0, which stays in control. The
 * exception goes back to the guest unchanged: the CPU has already recorded
 * its cause in DR6 (the VMCB's DR6, which VMRUN gives back to the guest).
 * ICEBP needs nothing: the #DB of INT1 does not trigger the #DB intercept
 * (APM Vol. 2, 15.12), the CPU delivers it itself. */
#include "hv/exit_dispatch.h"
#include "arch/x86/vectors.h"
#include "hv/l1_gif.h"

void exit_db(struct vcpu *v)
{
    /* L0 single-steps an IRET of L1's NMI handler (hv/l1_gif.c): its own
     * trap is consumed; any other #DB is the guest's. */
    if (v->nested.in_l2 || !l1_nmi_iret_done(v))
        vcpu_inject_exception(v, VEC_DB, false, 0);
}

void exit_ac(struct vcpu *v)
{
    vcpu_inject_exception(v, VEC_AC, true, 0);
}
