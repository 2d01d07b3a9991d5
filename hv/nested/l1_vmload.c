#include "hv/nested/l1_vmload.h"
#include "hv/core/host_caps.h"
#include "hv/core/log.h"

void l1_vmload_apply(struct vmcb_control *c01, bool cpu_has, bool l1_svme)
{
    const uint32_t insns = VMCB_INTERCEPT2_VMLOAD | VMCB_INTERCEPT2_VMSAVE;
    if (cpu_has && l1_svme) {
        c01->intercept_misc2 &= ~insns;
        c01->virt_ext |= VMCB_V_VMSAVE_VMLOAD_ENABLE;
    } else {
        c01->intercept_misc2 |= insns;
        c01->virt_ext &= ~VMCB_V_VMSAVE_VMLOAD_ENABLE;
    }
}

void l1_vmload_update(struct vcpu *v)
{
    l1_vmload_apply(&v->vmcb01.va->control, host_caps()->vmload_virt, v->l1.efer_svme);
}

void l1_vmload_init(struct vcpu *v)
{
    l1_vmload_update(v);
    if (v->id == 0)
        pr_info("L1's VMLOAD/VMSAVE: %s", host_caps()->vmload_virt
                    ? "the CPU's virtualization (no exit while L1 has EFER.SVME set)"
                    : "emulated (each exits)");
}
