/* NMI and INTR exits of L1: VMCB01 intercepts them only while L1's GIF is
 * clear (INTR only with the host's vGIF); hv/l1_gif.c holds or delivers. */
#include "hv/exit_dispatch.h"
#include "hv/l1_gif.h"

void exit_nmi(struct vcpu *v)
{
    l1_gif_nmi_exit(v);
}

void exit_intr(struct vcpu *v)
{
    l1_gif_intr_exit(v);
}
