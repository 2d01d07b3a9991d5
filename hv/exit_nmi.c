/* An NMI exit of L1: VMCB01 intercepts NMIs only while L1's emulated GIF
 * is clear; the NMI is held and delivered at L1's STGI (hv/nested.c). */
#include "hv/exit_dispatch.h"
#include "hv/nested.h"

void exit_nmi(struct vcpu *v)
{
    nested_l1_nmi(v);
}
