#include "arch/x86/svm_probe.h"
#include "arch/x86/cpu.h"


static void read_vendor(char vendor[13])
{
    struct cpuid_regs r = cpuid(0, 0);
    const uint32_t words[3] = { r.ebx, r.edx, r.ecx };
    for (int i = 0; i < 12; i++)
        vendor[i] = (char)(words[i / 4] >> (8 * (i % 4)));
    vendor[12] = 0;
}

void svm_probe(struct svm_caps *caps)
{
    struct svm_raw raw = { 0 };
    read_vendor(raw.vendor);
    raw.ext_max_leaf = cpuid(0x80000000u, 0).eax;
    if (raw.ext_max_leaf >= 0x80000001u)
        raw.ext1_ecx = cpuid(0x80000001u, 0).ecx;
    /* VM_CR exists only where SVM does: reading it elsewhere would #GP. */
    if (raw.ext1_ecx & CPUID_80000001_ECX_SVM) {
        raw.vm_cr_valid = true;
        raw.vm_cr = rdmsr(MSR_VM_CR);
    }
    if (raw.ext_max_leaf >= CPUID_SVM_LEAF) {
        struct cpuid_regs r = cpuid(CPUID_SVM_LEAF, 0);
        raw.svm_eax = r.eax;
        raw.svm_ebx = r.ebx;
        raw.svm_edx = r.edx;
    }
    svm_decode(&raw, caps);
}
