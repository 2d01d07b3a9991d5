/* TLB flushes of a vCPU (BRIEF §4): code that needs a flush records the
 * event here; the policy (hv/tlb_policy.c, pure and model-tested) turns the
 * events into per-context requests, and the run loop turns the requests of
 * the context about to run into its VMCB's TLB_CONTROL (APM 15.16), where
 * they take effect. Requests are kept per context (L1 / L2), so a request
 * can never land in the wrong VMCB, whatever switch_vmcb() does between. */
#pragma once
#include "hv/vcpu.h"

void tlb_init(bool flush_by_asid);
void tlb_vcpu_init(struct vcpu *v);
/* Events. */
void tlb_l1_changed(struct vcpu *v);       /* L1's translations changed meaning (EFER.NXE) */
void tlb_npt01_changed(struct vcpu *v);    /* an NPT01 entry lost rights or changed */
void tlb_npt02_changed(struct vcpu *v);    /* an NPT02 entry changed */
void tlb_vmrun12(struct vcpu *v, uint32_t vasid, uint64_t ncr3, uint8_t tlb_control12);
void tlb_invlpga(struct vcpu *v, uint32_t asid);
/* Run loop: drop NPT02 if owed, and set TLB_CONTROL of the VMCB to run. */
void tlb_apply_requests(struct vcpu *v);
