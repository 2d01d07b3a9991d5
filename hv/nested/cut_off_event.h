/* What L0 does with an event whose delivery an exit cut off, when L0
 * handles that exit itself (hv/exit/exit_dispatch.c, redeliver()).
 *
 * The CPU reports such an event in EXITINTINFO (APM Vol. 2, 15.7.2) and
 * leaves the guest's RIP where the delivery started: at the instruction
 * that raised it, or, for an event injected through EVENTINJ, where the
 * injector left RIP. Injecting the event again at the next VMRUN
 * (EVENTINJ, 15.20) pushes that RIP as the return address for every type:
 *
 *  - external interrupts (type 0), NMIs (2) and faults (3): right. The
 *    return address of an interrupt or NMI is the interrupted instruction;
 *    a fault's is the faulting instruction. Only injecting them again gets
 *    an interrupt back (the APIC already gave it), and it is what KVM does
 *    (svm_complete_interrupts()).
 *  - the events of an instruction, INT3 and INTO (#BP and #OF, traps whose
 *    return address is the next instruction) and INTn (type 4): wrong when
 *    RIP is still at the instruction. The handler sees the instruction's
 *    own address and returns to it: INT3 runs twice, Linux's int3
 *    self-test and its text patching see a wrong regs->ip. Those
 *    instructions change nothing before their delivery completes, so the
 *    instruction is left to run again instead, and raises the same event
 *    with the right return address (QEMU's TCG reports INT3 and INTO as
 *    type 4, AMD CPUs as type 3 with vector 3 or 4: both are the
 *    instruction's). A code breakpoint on the instruction may fire again,
 *    as KVM's comment on re-executing INT3 notes; that is the known cost.
 *  - the same events when they were injected by L1 into L2 through
 *    VMCB12's EVENTINJ: there is no instruction to run again (L1 emulated
 *    it, or injects INTn on behalf of something else), and L1 already moved
 *    RIP past it (without NRIPS; with NRIPS, 15.20: the CPU pushes nRIP,
 *    which L1 gave in VMCB12 and L0 passes on). Injected again, each time
 *    its delivery is cut off; KVM tells the same case apart with its
 *    soft_int_injected flag and the injected RIP.
 *
 * L0 itself never injects an instruction's event (only #UD, #GP, #DB,
 * #AC, NMI), so under VMCB01 every instruction event is L1's own.
 *
 * "Injected by L1" is: L2's first exit after the VMRUN that injected it
 * (each exit that injected it again counts as a new VMRUN), L2's RIP still
 * the one VMCB12 gave, and EXITINTINFO an instruction event with the
 * injected vector (compared by vector and kind, not bit for bit: QEMU
 * reports the injected value as is, while a CPU may report INT3 by its
 * own type). An INT3 of L2 itself at that RIP, reached after the injected
 * event was delivered without any exit in between, cannot be told apart
 * and is taken for L1's. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

/* INTn (type 4, also TCG's INT3/INTO), or #BP/#OF as exceptions (type 3,
 * how AMD CPUs report INT3 and INTO). */
static inline bool cut_off_event_is_instruction(uint64_t ev)
{
    uint64_t type = ev & VMCB_EVENT_TYPE_MASK;
    uint8_t vector = (uint8_t)(ev & VMCB_EVENT_VECTOR_MASK);
    return type == VMCB_EVENT_TYPE_SOFT_INT ||
           (type == VMCB_EVENT_TYPE_EXCEPTION && (vector == 3 || vector == 4));
}

/* Is the cut-off event intinfo the instruction event L1 injected?
 * injected: VMCB12's EVENTINJ at that VMRUN; first_exit: this is L2's
 * first exit since it was (last) injected; rip, vmrun_rip: L2's RIP now
 * and as VMCB12 gave it. */
static inline bool cut_off_event_is_l1s(uint64_t intinfo, uint64_t injected, bool first_exit,
                                        uint64_t rip, uint64_t vmrun_rip)
{
    return first_exit && rip == vmrun_rip && (injected & VMCB_EVENT_V) &&
           cut_off_event_is_instruction(injected) && cut_off_event_is_instruction(intinfo) &&
           ((intinfo ^ injected) & VMCB_EVENT_VECTOR_MASK) == 0;
}

/* Inject the cut-off event again (true), or leave it to its instruction
 * (false, RIP is at it)? l1s: cut_off_event_is_l1s() (false for L1's own
 * exits under VMCB01). */
static inline bool cut_off_event_reinjected(uint64_t intinfo, bool l1s)
{
    return l1s || !cut_off_event_is_instruction(intinfo);
}
