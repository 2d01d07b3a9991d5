/* CPUID in L1, and in L2 when L1 does not intercept it (L2 then sees the
 * CPU L1 sees, as on hardware): the hardware's answer, adjusted.
 *   leaf 1:           ECX[31] "hypervisor present" set; ECX[27] OSXSAVE is
 *                     the executing guest's CR4.OSXSAVE, not the host's
 *   leaf 7:           ECX[4] OSPKE is the guest's CR4.PKE
 *   leaf 0xD:         follows XCR0, which the guests own (XSETBV is not
 *                     intercepted and the host never changes it)
 *   0x40000000:       EAX = highest hypervisor leaf, EBX:ECX:EDX = signature
 *   0x40000001:       EAX = hypercall ABI version; other leaves up to
 *                     0x400000FF read as zero
 *   0x8000000A:       the SVM features L0 implements for L1 (nested.c):
 *                     revision 1, NESTED_ASIDS ASIDs, NP and FlushByAsid
 *                     (L0 honours TLB_CONTROL 3 and 7 of VMCB12), NRIPS
 *                     only when the CPU has it (L0 passes nRIP on), VMCB
 *                     clean bits (L0 keeps clean groups of the VMCB12 it
 *                     ran last); vGIF, decode assists, pause filter and
 *                     its threshold, the TSC ratio MSR when the CPU has
 *                     them. Not offered: AVIC, vNMI, LBR virtualization,
 *                     virtualized VMLOAD/VMSAVE for L2, ... */
#include "hv/exit/exit_dispatch.h"
#include "hv/core/host_caps.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/cpu_features.h"
#include "hv/exit/hypercall_abi.h"
#include "hv/nested/nested.h"

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define HV_LEAF_BASE 0x40000000u
#define HV_LEAF_MAX 0x40000001u
#define HV_LEAF_END 0x400000FFu

static uint32_t if_host(bool has, unsigned feature)
{
    return has ? 1u << feature : 0;
}

/* The features L0 passes on from the CPU for L2 (hv/nested/nested.c), so only
 * where the CPU has them:
 *  - vGIF: VMCB12's V_GIF is handed to the CPU's own;
 *  - NRIPS: VMCB02's nRIP is copied into VMCB12 at each reflected exit;
 *  - decode assists: the exits L0 reflects carry the CPU's EXITINFO1
 *    decoding of L2's instruction, and #NPF/#PF the fetched bytes (15.33);
 *  - pause filter count and threshold: VMCB12's go into VMCB02 (15.14.4),
 *    and L0 never intercepts PAUSE itself, so the CPU counts for L1;
 *  - the TSC ratio MSR: L1's (virtual) is the CPU's while L2 runs
 *    (hv/nested/nested_tsc.h). */
static uint32_t l1_svm_features(void)
{
    const struct host_caps *h = host_caps();
    return (1u << SVM_FEAT_NP) | (1u << SVM_FEAT_FLUSH_BY_ASID) | (1u << SVM_FEAT_VMCB_CLEAN) |
           if_host(h->nrips, SVM_FEAT_NRIPS) | if_host(h->vgif, SVM_FEAT_VGIF) |
           if_host(h->decode_assists, SVM_FEAT_DECODE_ASSISTS) |
           if_host(h->pause_filter, SVM_FEAT_PAUSE_FILTER) |
           if_host(h->pause_threshold, SVM_FEAT_PAUSE_FILTER_THRESHOLD) |
           if_host(h->tsc_ratio, SVM_FEAT_TSC_RATE_MSR);
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

#define CPUID_1_ECX_OSXSAVE (1u << 27)
#define CPUID_7_ECX_OSPKE (1u << 4)

static uint32_t bit_if(bool on, uint32_t bit)
{
    return on ? bit : 0;
}

/* The bits that mirror the state of whoever executes CPUID (APM Vol. 3,
 * CPUID Fn0000_0001_ECX and Fn0000_0007_ECX_x0): the host runs with its
 * own CR4, so they come from the guest's (VMCB01's or VMCB02's). */
static struct cpuid_regs guest_state_bits(uint32_t leaf, uint32_t sub, struct cpuid_regs r,
                                          uint64_t cr4)
{
    if (leaf == 1)
        r.ecx = (r.ecx & ~CPUID_1_ECX_OSXSAVE) | bit_if(cr4 & CR4_OSXSAVE, CPUID_1_ECX_OSXSAVE);
    else if (leaf == 7 && sub == 0)
        r.ecx = (r.ecx & ~CPUID_7_ECX_OSPKE) | bit_if(cr4 & CR4_PKE, CPUID_7_ECX_OSPKE);
    return r;
}

void exit_cpuid(struct vcpu *v)
{
    uint32_t leaf = (uint32_t)v->vmcb.va->save.rax, sub = (uint32_t)v->regs.rcx;
    struct cpuid_regs r = guest_state_bits(leaf, sub, l1_view(leaf, cpuid(leaf, sub)),
                                           v->vmcb.va->save.cr4);
    v->vmcb.va->save.rax = r.eax;
    v->regs.rbx = r.ebx;
    v->regs.rcx = r.ecx;
    v->regs.rdx = r.edx;
    vcpu_skip_insn(v);
}
