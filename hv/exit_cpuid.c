/* CPUID in L1: the hardware's answer, adjusted to what L1 may see.
 *   leaf 1:           ECX[31] "hypervisor present" set
 *   0x40000000:       EAX = highest hypervisor leaf, EBX:ECX:EDX = signature
 *   0x40000001:       EAX = hypercall ABI version; other leaves up to
 *                     0x400000FF read as zero
 *   0x8000000A:       the SVM features L0 implements for L1 (nested.c):
 *                     revision 1, NESTED_ASIDS ASIDs, NP and FlushByAsid
 *                     (L0 honours TLB_CONTROL 3 and 7 of VMCB12), NRIPS
 *                     only when the CPU has it (L0 passes nRIP on), VMCB
 *                     clean bits (L0 keeps clean groups of the VMCB12 it
 *                     ran last). Not offered: vGIF, decode assists,
 *                     AVIC, LBR virtualization, pause filter, ... */
#include "hv/exit_dispatch.h"
#include "hv/host_caps.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/cpu_features.h"
#include "hv/hypercall_abi.h"
#include "hv/nested.h"

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define HV_LEAF_BASE 0x40000000u
#define HV_LEAF_MAX 0x40000001u
#define HV_LEAF_END 0x400000FFu

static uint32_t l1_svm_features(void)
{
    uint32_t f = (1u << SVM_FEAT_NP) | (1u << SVM_FEAT_FLUSH_BY_ASID) |
                 (1u << SVM_FEAT_VMCB_CLEAN);
    return f | (host_caps()->nrips ? 1u << SVM_FEAT_NRIPS : 0);
}

static uint32_t sig_word(unsigned i)
{
    const char *s = HV_SIGNATURE;
    return (uint32_t)s[4 * i] | (uint32_t)s[4 * i + 1] << 8 |
           (uint32_t)s[4 * i + 2] << 16 | (uint32_t)s[4 * i + 3] << 24;
}

/* Pure: what L1 sees for a leaf, given what the hardware says. */
static struct cpuid_regs l1_view(uint32_t leaf, struct cpuid_regs r)
{
    if (leaf >= HV_LEAF_BASE && leaf <= HV_LEAF_END) {
        struct cpuid_regs z = { 0 };
        if (leaf == HV_LEAF_BASE)
            z = (struct cpuid_regs){ HV_LEAF_MAX, sig_word(0), sig_word(1), sig_word(2) };
        else if (leaf == HV_LEAF_MAX)
            z.eax = HV_ABI_VERSION;
        return z;
    }
    switch (leaf) {
    case 1:
        r.ecx |= CPUID_1_ECX_HYPERVISOR;
        break;
    case CPUID_SVM_LEAF:
        r = (struct cpuid_regs){ .eax = 1, .ebx = NESTED_ASIDS, .ecx = 0,
                                 .edx = l1_svm_features() };
        break;
    }
    return r;
}

void exit_cpuid(struct vcpu *v)
{
    uint32_t leaf = (uint32_t)v->vmcb.va->save.rax, sub = (uint32_t)v->regs.rcx;
    struct cpuid_regs r = l1_view(leaf, cpuid(leaf, sub));
    v->vmcb.va->save.rax = r.eax;
    v->regs.rbx = r.ebx;
    v->regs.rcx = r.ecx;
    v->regs.rdx = r.edx;
    vcpu_skip_insn(v);
}
