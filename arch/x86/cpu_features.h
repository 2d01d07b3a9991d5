/*
 * Decoding the CPU's SVM (AMD-V) capability from raw CPUID/MSR values.
 *
 * Pure: the caller executes CPUID and RDMSR and fills struct svm_raw, so the
 * decision logic is unit-testable off-target. Freestanding: no libc.
 *
 * Architectural sources (AMD64 APM Vol. 2 / Vol. 3):
 *  - CPUID Fn8000_0000 EAX: largest extended function.
 *  - CPUID Fn8000_0001 ECX bit 2 (SVM): SVM supported.
 *  - VM_CR MSR C001_0114h (APM Vol. 2 15.30.1): bit 3 LOCK, bit 4 SVMDIS.
 *  - CPUID Fn8000_000A (APM Vol. 3 E.4.9): EAX[7:0] SVM revision, EBX number
 *    of ASIDs, EDX feature bits (named below).
 *  - "Enabling SVM" (APM Vol. 2 15.4) gives the detection algorithm.
 */
#ifndef ARCH_X86_CPU_FEATURES_H
#define ARCH_X86_CPU_FEATURES_H

#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/svm.h" /* MSR_VM_CR, CPUID leaf numbers */

#define CPUID_EXT_BASE 0x80000000u /* extended leaves are 0x8000xxxx */

/* Bit numbers in CPUID Fn8000_000A EDX (APM Vol. 3, E.4.9). */
#define SVM_FEAT_NP                     0  /* nested paging */
#define SVM_FEAT_LBR_VIRT               1  /* LBR virtualization */
#define SVM_FEAT_SVML                   2  /* SVM lock */
#define SVM_FEAT_NRIPS                  3  /* next RIP saved on #VMEXIT */
#define SVM_FEAT_TSC_RATE_MSR           4  /* MSR-based TSC ratio */
#define SVM_FEAT_VMCB_CLEAN             5  /* VMCB clean bits */
#define SVM_FEAT_FLUSH_BY_ASID          6
#define SVM_FEAT_DECODE_ASSISTS         7
#define SVM_FEAT_PAUSE_FILTER           10
#define SVM_FEAT_PAUSE_FILTER_THRESHOLD 12
#define SVM_FEAT_AVIC                   13
#define SVM_FEAT_VMSAVE_VIRT            15 /* virtualized VMSAVE/VMLOAD */
#define SVM_FEAT_VGIF                   16 /* virtual GIF */
#define SVM_FEAT_GMET                   17 /* guest mode execute trap */
#define SVM_FEAT_X2AVIC                 18
#define SVM_FEAT_SSS_CHECK              19 /* supervisor shadow stack chk */
#define SVM_FEAT_SPEC_CTRL              20 /* virtualized SPEC_CTRL */
#define SVM_FEAT_ROGPT                  21 /* read-only guest page table */
#define SVM_FEAT_HOST_MCE_OVERRIDE      23
#define SVM_FEAT_TLBI_CTL               24 /* INVLPGB/TLBSYNC control */
#define SVM_FEAT_VNMI                   25 /* NMI virtualization */
#define SVM_FEAT_IBS_VIRT               26 /* IBS virtualization */
#define SVM_FEAT_EXT_LVT_AVIC_ACCESS_CHG 27
#define SVM_FEAT_VMCB_ADDR_CHK          28 /* NestedVirtVmcbAddrChk */
#define SVM_FEAT_BUS_LOCK_THRESHOLD     29
#define SVM_FEAT_IDLE_HLT_INTERCEPT     30

struct svm_raw {
    char vendor[13];       /* CPUID 0: EBX,EDX,ECX; only 12 bytes compared */
    uint32_t ext_max_leaf; /* CPUID 0x80000000 EAX */
    uint32_t ext1_ecx;     /* CPUID 0x80000001 ECX */
    bool vm_cr_valid;      /* vm_cr was read (only when the SVM bit is set) */
    uint64_t vm_cr;        /* MSR 0xC0010114 */
    uint32_t svm_eax, svm_ebx, svm_edx; /* CPUID 0x8000000A */
};

enum svm_verdict {
    SVM_OK,
    SVM_NOT_AMD,           /* vendor is neither AMD nor Hygon */
    SVM_NO_EXT_LEAF,       /* CPUID 0x80000001 or 0x8000000A missing */
    SVM_NOT_SUPPORTED,     /* CPUID 0x80000001 ECX.SVM clear */
    SVM_DISABLED_BIOS,     /* VM_CR.SVMDIS set and VM_CR.LOCK set */
    SVM_DISABLED_UNLOCKED, /* VM_CR.SVMDIS set, LOCK clear (see below) */
};

/*
 * verdict: the outcome. revision, nasid, features: CPUID 0x8000000A
 * EAX[7:0], EBX and EDX, filled whenever that leaf exists on an SVM CPU
 * (also when SVM is disabled, for the log), else 0.
 */
struct svm_caps {
    enum svm_verdict verdict;
    uint32_t revision;
    uint32_t nasid;
    uint32_t features; /* EDX */
};

/*
 * Decode raw values into caps. Checks in order: vendor, extended leaf range,
 * SVM bit, presence of leaf 0x8000000A, VM_CR.
 *
 * SVMDIS with LOCK clear: per APM 15.30.1 software may then clear SVMDIS
 * itself. We still report it as disabled (SVM_DISABLED_UNLOCKED) rather than
 * overriding the firmware's choice behind the user's back; the verdict text
 * says it could be re-enabled. With LOCK set, APM 15.4 distinguishes
 * SVM_DISABLED_WITH_KEY (SVML feature: unlockable with a key) from "not
 * unlockable"; we do not implement the key protocol, so both are
 * SVM_DISABLED_BIOS.
 *
 * If vm_cr_valid is false the VM_CR checks are skipped (the field is only
 * meant to be false when the SVM bit is clear and VM_CR was not read).
 */
void svm_decode(const struct svm_raw *raw, struct svm_caps *caps);

/* A full sentence for the console. Never NULL. */
const char *svm_verdict_text(enum svm_verdict v);

/* Feature names by bit of CPUID 0x8000000A EDX: NULL for bits with no known
 * name (reserved) and for bit >= 32. Names follow the APM. */
const char *svm_feature_name(unsigned bit);

/* True when SVM is usable (verdict SVM_OK) and EDX bit 'bit' is set. */
bool svm_has(const struct svm_caps *caps, unsigned bit);

/*
 * What the hypervisor itself needs of the CPU's SVM, beyond a usable
 * verdict: NULL when it has everything, else a sentence for the console
 * naming the first thing missing (for a verdict other than SVM_OK, the
 * verdict's text). The hypervisor relies on
 *  - nested paging (NP, EDX bit 0): NPT01 is what keeps L1 (and, through
 *    NPT02, L2) out of the hypervisor's memory; without it, it cannot
 *    protect itself;
 *  - 3 ASIDs (EBX): the host's 0, L1's 1, and 2 for every L2.
 * Everything else it uses only where present (NRIPS, FlushByAsid, decode
 * assists, vGIF: hv/core/host_caps.h).
 */
#define SVM_ASIDS_NEEDED 3
const char *svm_missing_requirement(const struct svm_caps *caps);

#endif /* ARCH_X86_CPU_FEATURES_H */
