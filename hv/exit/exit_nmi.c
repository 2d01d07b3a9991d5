/* NMI and INTR exits of L1. NMIs are always intercepted (other CPUs' kicks,
 * recognized before this in hv/exit/exit_dispatch.c); L1's own are given back
 * to it, held while its GIF is clear or it still handles the last one.
 * INTR is intercepted only with the host's vGIF while L1's GIF is clear.
 * hv/nested/l1_gif.c holds or delivers. */
#include "hv/exit/exit_dispatch.h"
#include "hv/nested/l1_gif.h"

void exit_nmi(struct vcpu *v)
{
    l1_gif_nmi_exit(v);
}

void exit_intr(struct vcpu *v)
{
    l1_gif_intr_exit(v);
}

/* IRET intercepted while L1 handles an NMI L0 injected (hv/nested/l1_gif.c). */
void exit_iret(struct vcpu *v)
{
    l1_nmi_iret(v);
}

