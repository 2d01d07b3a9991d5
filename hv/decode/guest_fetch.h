/* Reading the instruction at the RIP of the context that ran (L1, or L2):
 * linear address through that context's own page tables (CR3, CR4, EFER
 * of its VMCB), then its guest-physical address in L1's physical space
 * (L2's through NPT02), which NPT01 maps one to one outside the
 * hypervisor's region (APM Vol. 2, 5 "Page Translation and Protection").
 * For the instructions the hypervisor must decode itself because the CPU
 * gives no decode assists. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/svm.h"
#include "hv/core/vcpu.h"

/* Does the context run 64-bit code (long mode and CS.L)? Then RIP is a
 * full 64-bit address and REX prefixes exist (APM Vol. 2, 4.8.1). */
static inline bool guest_code64(const struct vmcb_save *s)
{
    return (s->efer & EFER_LMA) && (s->cs.attrib & VMCB_SEG_ATTR_L);
}

/* Up to max bytes at CS:RIP of the current context; returns how many could be read (0: the
 * page is not present, not L1 RAM, or the mode is one not walked). */
unsigned guest_fetch_insn(const struct vcpu *v, uint8_t *buf, unsigned max);
