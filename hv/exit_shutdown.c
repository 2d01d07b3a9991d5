/* Shutdown (e.g. a triple fault) in L1, and exits L0 never asked for. On
 * bare metal a shutdown resets the machine; here L1's state and the last
 * exits are dumped first, then the machine halts or resets (on_fault). */
#include "hv/exit_dispatch.h"
#include "hv/exception.h"

void exit_shutdown(struct vcpu *v)
{
    vcpu_dump(v, "L1 shut down (triple fault or shutdown condition): SHUTDOWN intercept");
    hv_fatal_stop();
}

void exit_unexpected(struct vcpu *v)
{
    vcpu_dump(v, (uint32_t)v->vmcb.va->control.exitcode == 0xFFFFFFFFu
                     ? "VMRUN of L1 failed (VMEXIT_INVALID): VMCB01 is inconsistent"
                     : "unexpected exit from L1");
    hv_fatal_stop();
}
