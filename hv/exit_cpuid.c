/* CPUID in L1: the hardware's answer, adjusted to what L1 may see.
 *   leaf 1:           ECX[31] "hypervisor present" set
 *   0x40000000:       EAX = highest hypervisor leaf, EBX:ECX:EDX = signature
 *   0x40000001:       EAX = hypercall ABI version; other leaves up to
 *                     0x400000FF read as zero
 *   0x80000001:       ECX[2] SVM cleared, and
 *   0x8000000A:       all zero: until nested SVM is implemented, L1 sees a
 *                     CPU without SVM (its SVM instructions raise #UD). */
#include "hv/exit_dispatch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/hypercall_abi.h"

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define HV_LEAF_BASE 0x40000000u
#define HV_LEAF_MAX 0x40000001u
#define HV_LEAF_END 0x400000FFu

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
    case 0x80000001u:
        r.ecx &= ~CPUID_80000001_ECX_SVM;
        break;
    case CPUID_SVM_LEAF:
        r = (struct cpuid_regs){ 0 };
        break;
    }
    return r;
}

void exit_cpuid(struct vcpu *v)
{
    uint32_t leaf = (uint32_t)v->vmcb->save.rax, sub = (uint32_t)v->regs.rcx;
    struct cpuid_regs r = l1_view(leaf, cpuid(leaf, sub));
    v->vmcb->save.rax = r.eax;
    v->regs.rbx = r.ebx;
    v->regs.rcx = r.ecx;
    v->regs.rdx = r.edx;
    vcpu_skip_insn(v);
}
