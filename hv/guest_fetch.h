/* Reading the instruction at L1's RIP: linear address through L1's own
 * page tables (its CR3, CR4, EFER in VMCB01), then L1-physical, which
 * NPT01 maps one to one outside the hypervisor's region (APM Vol. 2, 5
 * "Page Translation and Protection"). For the instructions the hypervisor
 * must decode itself because the CPU gives no decode assists. */
#pragma once
#include <stdint.h>
#include "hv/vcpu.h"

/* Up to max bytes at CS:RIP of L1; returns how many could be read (0: the
 * page is not present, not L1 RAM, or the mode is one not walked). */
unsigned guest_fetch_insn(const struct vcpu *v, uint8_t *buf, unsigned max);
