/* SVM capability decoding from raw CPUID/MSR values. See cpu_features.h. */
#include "arch/x86/cpu_features.h"

#include <stddef.h>

static bool vendor_is(const char *v, const char *want)
{
    /* CPUID vendor strings are exactly 12 bytes. */
    for (int i = 0; i < 12; i++) {
        if (v[i] != want[i])
            return false;
    }
    return true;
}

/*
 * A CPU without extended leaves returns junk in EAX for 0x80000000 (Intel
 * returns data of the highest basic leaf), so require the 0x8000xxxx form
 * like Linux does before trusting it as a maximum.
 */
static bool has_ext_leaf(uint32_t ext_max, uint32_t leaf)
{
    return (ext_max & 0xffff0000u) == CPUID_EXT_BASE && ext_max >= leaf;
}

static enum svm_verdict vm_cr_verdict(const struct svm_raw *raw)
{
    if (!raw->vm_cr_valid || !(raw->vm_cr & VM_CR_SVMDIS))
        return SVM_OK;
    /* APM 15.30.1: with LOCK set, writes to SVMDIS are ignored. */
    if (raw->vm_cr & VM_CR_LOCK)
        return SVM_DISABLED_BIOS;
    return SVM_DISABLED_UNLOCKED;
}

void svm_decode(const struct svm_raw *raw, struct svm_caps *caps)
{
    caps->revision = 0;
    caps->nasid = 0;
    caps->features = 0;

    if (!vendor_is(raw->vendor, "AuthenticAMD") &&
        !vendor_is(raw->vendor, "HygonGenuine")) {
        caps->verdict = SVM_NOT_AMD;
        return;
    }
    if (!has_ext_leaf(raw->ext_max_leaf, 0x80000001u)) {
        caps->verdict = SVM_NO_EXT_LEAF;
        return;
    }
    if (!(raw->ext1_ecx & CPUID_80000001_ECX_SVM)) {
        caps->verdict = SVM_NOT_SUPPORTED;
        return;
    }
    /* Without leaf 0x8000000A we know neither the revision nor the ASID
     * count, so we cannot run guests (old QEMU could expose this). */
    if (!has_ext_leaf(raw->ext_max_leaf, CPUID_SVM_LEAF)) {
        caps->verdict = SVM_NO_EXT_LEAF;
        return;
    }
    caps->revision = raw->svm_eax & 0xffu;
    caps->nasid = raw->svm_ebx;
    caps->features = raw->svm_edx;
    caps->verdict = vm_cr_verdict(raw);
}

const char *svm_verdict_text(enum svm_verdict v)
{
    switch (v) {
    case SVM_OK:
        return "SVM (AMD-V) is supported and enabled.";
    case SVM_NOT_AMD:
        return "CPU vendor is not AMD or Hygon: SVM is unavailable.";
    case SVM_NO_EXT_LEAF:
        return "CPU does not report the extended CPUID leaves needed to "
               "detect SVM (0x80000001/0x8000000A): SVM is unavailable.";
    case SVM_NOT_SUPPORTED:
        return "CPU does not support SVM (CPUID 0x80000001 ECX bit 2 is "
               "clear): SVM is unavailable.";
    case SVM_DISABLED_BIOS:
        return "SVM is disabled and locked by the firmware (VM_CR.SVMDIS "
               "and VM_CR.LOCK set): enable SVM/AMD-V in the firmware setup.";
    case SVM_DISABLED_UNLOCKED:
        return "SVM is disabled by the firmware but not locked (VM_CR.SVMDIS "
               "set, VM_CR.LOCK clear): software could clear SVMDIS, but we "
               "respect the firmware setting; enable SVM/AMD-V in the "
               "firmware setup.";
    }
    return "SVM state is unknown (invalid verdict value).";
}

/* APM Vol. 3 E.4.9 names; NULL marks reserved bits. */
static const char *const feature_names[32] = {
    [SVM_FEAT_NP] = "NP",
    [SVM_FEAT_LBR_VIRT] = "LbrVirt",
    [SVM_FEAT_SVML] = "SVML",
    [SVM_FEAT_NRIPS] = "NRIPS",
    [SVM_FEAT_TSC_RATE_MSR] = "TscRateMsr",
    [SVM_FEAT_VMCB_CLEAN] = "VmcbClean",
    [SVM_FEAT_FLUSH_BY_ASID] = "FlushByAsid",
    [SVM_FEAT_DECODE_ASSISTS] = "DecodeAssists",
    [SVM_FEAT_PAUSE_FILTER] = "PauseFilter",
    [SVM_FEAT_PAUSE_FILTER_THRESHOLD] = "PauseFilterThreshold",
    [SVM_FEAT_AVIC] = "AVIC",
    [SVM_FEAT_VMSAVE_VIRT] = "VMSAVEvirt",
    [SVM_FEAT_VGIF] = "VGIF",
    [SVM_FEAT_GMET] = "GMET",
    [SVM_FEAT_X2AVIC] = "x2AVIC",
    [SVM_FEAT_SSS_CHECK] = "SSSCheck",
    [SVM_FEAT_SPEC_CTRL] = "SpecCtrl",
    [SVM_FEAT_ROGPT] = "ROGPT",
    [SVM_FEAT_HOST_MCE_OVERRIDE] = "HostMceOverride",
    [SVM_FEAT_TLBI_CTL] = "TlbiCtl",
    [SVM_FEAT_VNMI] = "VNMI",
    [SVM_FEAT_IBS_VIRT] = "IbsVirt",
    [SVM_FEAT_EXT_LVT_AVIC_ACCESS_CHG] = "ExtLvtAvicAccessChg",
    [SVM_FEAT_VMCB_ADDR_CHK] = "NestedVirtVmcbAddrChk",
    [SVM_FEAT_BUS_LOCK_THRESHOLD] = "BusLockThreshold",
    [SVM_FEAT_IDLE_HLT_INTERCEPT] = "IdleHltIntercept",
};

const char *svm_feature_name(unsigned bit)
{
    if (bit >= 32)
        return NULL;
    return feature_names[bit];
}

bool svm_has(const struct svm_caps *caps, unsigned bit)
{
    if (caps->verdict != SVM_OK || bit >= 32)
        return false;
    return (caps->features >> bit) & 1u;
}

const char *svm_missing_requirement(const struct svm_caps *caps)
{
    if (caps->verdict != SVM_OK)
        return svm_verdict_text(caps->verdict);
    if (!svm_has(caps, SVM_FEAT_NP))
        return "the CPU has no nested paging (NP, CPUID 0x8000000A EDX bit 0): "
               "without it the hypervisor cannot keep L1 out of its memory.";
    if (caps->nasid < SVM_ASIDS_NEEDED)
        return "the CPU has fewer than 3 ASIDs (CPUID 0x8000000A EBX): the hypervisor "
               "needs one for L1 and one for L2 besides the host's.";
    return NULL;
}
