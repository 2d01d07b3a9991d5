/* Nested SVM: L1's VMRUN emulated on a VMCB02 built from L1's VMCB12,
 * L2's exits routed to L0 or reflected to L1, and L1's other SVM
 * instructions (VMLOAD, VMSAVE, STGI, CLGI, INVLPGA) emulated. */
#pragma once
#include <stdbool.h>
#include "hv/core/vcpu.h"

/* What L1 is shown in CPUID 0x8000000A (hv/exit/exit_cpuid.c, README). */
#define NESTED_ASIDS 256
/* Allocates the vCPU's nested state (VMCB02, the VMCB12 copy, maps, NPT02). */
bool nested_init(struct vcpu *v);
/* Host ASIDs: L1_ASID (hv/core/launch.c) is 1, L2 entry i runs on 2 + i. */
#define L2_ASID_FIRST 2
/* The NPT02 of the L2 entry VMCB02 runs with (hv/tlb/tlb_policy.h). */
static inline struct npt02 *nested_npt02(struct vcpu *v)
{
    return &v->nested.npt02[v->tlb.cur];
}
/* switch_vmcb() into L2: VMCB02 takes the current entry's host ASID and,
 * with L1's nested paging, its NPT02 (NPT01 is set when L1 has none). */
static inline void nested_vmcb02_use_entry(struct vcpu *v)
{
    struct vmcb_control *c = &v->nested.vmcb02.va->control;
    c->guest_asid = L2_ASID_FIRST + v->tlb.cur;
    if (v->nested.npt12_root)
        c->n_cr3 = nested_npt02(v)->root;
}

/* Exits of L1 (from exit_svm_insn). */
void nested_vmrun(struct vcpu *v);
void nested_vmload(struct vcpu *v);
void nested_vmsave(struct vcpu *v);
void nested_stgi(struct vcpu *v);
void nested_clgi(struct vcpu *v);
void nested_invlpga(struct vcpu *v);

/* An exception L0 raises in L2 (an emulated instruction's fault or
 * trap): true if L1 intercepts it and got the #VMEXIT instead. */
bool nested_l1_takes_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error);
/* L2 is left: L0's state for it (map step, held GIF events) ends. */
void nested_l2_leave(struct vcpu *v);

/* Is the event whose delivery the exit of `exited` cut off (EXITINTINFO)
 * an instruction's event that L1 injected at its VMRUN
 * (hv/nested/cut_off_event.h)? False for any other event, and under VMCB01. */
bool nested_cut_off_event_is_l1s(const struct vcpu *v, const struct vmcb *exited, uint64_t intinfo);
/* ...and L0 put it back in VMCB02's EVENTINJ: still L1's at the next exit. */
void nested_l1_insn_event_reinjected(struct vcpu *v);

/* An exit while L2 ran: reflect it to L1 or handle it in L0. */
void nested_l2_exit(struct vcpu *v);
void nested_npf(struct vcpu *v, uint64_t exitinfo1, uint64_t exitinfo2);

/* The only place the vCPU's current VMCB changes (hv/tlb/switch_vmcb.c). */
void switch_vmcb(struct vcpu *v, enum tlb_ctx to);

/* L2's exit with code CR0 read on a CPU without decode assists: reads the
 * instruction; a MOV from another CR gets the exit code of that CR
 * (*code changed), or, where L1 does not intercept reads of that CR, is
 * performed for L2 (true: nothing left to do). hv/nested/nested_cr_read.c. */
bool nested_cr_read_fixup(struct vcpu *v, uint64_t *code);

/* L2's exit with code RDTSC on a CPU without decode assists: reads the
 * instruction; an RDTSCP gets the RDTSCP exit code (*code changed) if L1
 * intercepts RDTSCP, and either instruction that L1 does not intercept is
 * performed for L2 (true: nothing left to do). hv/nested/nested_rdtscp.c. */
bool nested_rdtscp_fixup(struct vcpu *v, uint64_t *code);
/* VMCB02's extra intercept for that: such a CPU checks RDTSCP against the
 * RDTSC intercept bit, so L1's RDTSCP intercept needs L0's RDTSC one. */
static inline uint32_t nested_rdtscp_l0_misc1(const struct vmcb_control *c12, bool decode_assists)
{
    return (!decode_assists && (c12->intercept_misc2 & VMCB_INTERCEPT2_RDTSCP)) ? VMCB_INTERCEPT1_RDTSC
                                                                                : 0;
}
