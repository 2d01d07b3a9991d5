/* L1's VMLOAD and VMSAVE without an exit, where the CPU can
 * (APM Vol. 2, 15.33.1 "Virtual VMLOAD and VMSAVE"; CPUID 8000_000A
 * EDX[15]).
 *
 * A guest hypervisor wraps every VMRUN of its guest in VMLOAD/VMSAVE (KVM:
 * VMLOAD, VMRUN, VMSAVE, VMLOAD; issue 10's real client counts 3 of its 6
 * to 8 exits per L2 exit there). With VMCB01's VIRTUAL_VMLOAD_VMSAVE_ENABLE
 * set and the two intercepts clear, the CPU runs them for L1 itself and
 * treats RAX as a guest-physical address, translated through NPT01 like
 * any access of L1:
 *  - the state they move is the guest's (FS, GS, TR, LDTR, KernelGsBase,
 *    STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*), which the run loop saves into
 *    v->guest_cpu after each #VMEXIT and loads before each VMRUN: L0's
 *    emulation (hv/nested/nested.c) and the CPU's agree on where it lives;
 *  - NPT01 leaves the hypervisor out: an address there faults, and L1 gets
 *    the decoy page (hv/memory/guest_mem.c), as for any access; a write to a
 *    merged permission map faults and drops the merge (hv/nested/nested_maps.c);
 *  - CPL and EFER.SVME are the CPU's to check. VMCB01's EFER always has
 *    SVME (VMRUN requires it), so while L1 has SVME clear in its own view
 *    L0 keeps both intercepted and raises the #UD itself (15.4).
 * VMCB02 always intercepts them: L2's VMLOAD takes an address in L1's
 * physical memory unless L1 offers the virtualization to L2, which L0
 * does not let L1 do (KVM's CVE-2021-3656 was this mistake).
 *
 * QEMU's TCG has no such feature: there L1's VMLOAD/VMSAVE always exit.
 * The decision is unit-tested (tests/unit/test_l1_vmload.c). */
#pragma once
#include <stdbool.h>
#include "arch/x86/vmcb.h"
#include "hv/core/vcpu.h"

/* Pure: VMCB01's intercepts and virt_ext for L1's VMLOAD/VMSAVE, given
 * whether the CPU virtualizes them and whether L1's EFER.SVME is set. */
void l1_vmload_apply(struct vmcb_control *c01, bool cpu_has, bool l1_svme);
/* At launch (L1's EFER.SVME known): the first update, said once. */
void l1_vmload_init(struct vcpu *v);
/* After L1's EFER.SVME changed (EFER write, INIT). */
void l1_vmload_update(struct vcpu *v);
