/*
 * svm_exit_names.c - printable names for SVM #VMEXIT codes
 * (AMD64 APM Vol. 2 Appendix C, Table C-1).
 *
 * Used by exit tracing and panic messages, so it must not allocate or
 * format: every name is a static string literal.
 */
#include <stddef.h>
#include <stdint.h>

#include "svm.h"

/* 000h..01Fh: CRn reads then CRn writes. */
static const char *const cr_names[32] = {
    "CR0_READ",  "CR1_READ",  "CR2_READ",  "CR3_READ",
    "CR4_READ",  "CR5_READ",  "CR6_READ",  "CR7_READ",
    "CR8_READ",  "CR9_READ",  "CR10_READ", "CR11_READ",
    "CR12_READ", "CR13_READ", "CR14_READ", "CR15_READ",
    "CR0_WRITE",  "CR1_WRITE",  "CR2_WRITE",  "CR3_WRITE",
    "CR4_WRITE",  "CR5_WRITE",  "CR6_WRITE",  "CR7_WRITE",
    "CR8_WRITE",  "CR9_WRITE",  "CR10_WRITE", "CR11_WRITE",
    "CR12_WRITE", "CR13_WRITE", "CR14_WRITE", "CR15_WRITE",
};

/* 020h..03Fh: DRn reads then DRn writes. */
static const char *const dr_names[32] = {
    "DR0_READ",  "DR1_READ",  "DR2_READ",  "DR3_READ",
    "DR4_READ",  "DR5_READ",  "DR6_READ",  "DR7_READ",
    "DR8_READ",  "DR9_READ",  "DR10_READ", "DR11_READ",
    "DR12_READ", "DR13_READ", "DR14_READ", "DR15_READ",
    "DR0_WRITE",  "DR1_WRITE",  "DR2_WRITE",  "DR3_WRITE",
    "DR4_WRITE",  "DR5_WRITE",  "DR6_WRITE",  "DR7_WRITE",
    "DR8_WRITE",  "DR9_WRITE",  "DR10_WRITE", "DR11_WRITE",
    "DR12_WRITE", "DR13_WRITE", "DR14_WRITE", "DR15_WRITE",
};

/* 040h..05Fh: exception vectors; reserved vectors keep their number. */
static const char *const excp_names[32] = {
    "EXCP_DE", "EXCP_DB", "EXCP_NMI", "EXCP_BP",
    "EXCP_OF", "EXCP_BR", "EXCP_UD",  "EXCP_NM",
    "EXCP_DF", "EXCP_9",  "EXCP_TS",  "EXCP_NP",
    "EXCP_SS", "EXCP_GP", "EXCP_PF",  "EXCP_15",
    "EXCP_MF", "EXCP_AC", "EXCP_MC",  "EXCP_XF",
    "EXCP_20", "EXCP_CP", "EXCP_22",  "EXCP_23",
    "EXCP_24", "EXCP_25", "EXCP_26",  "EXCP_27",
    "EXCP_HV", "EXCP_VC", "EXCP_SX",  "EXCP_31",
};

/* 060h..0A6h: the contiguous block of named intercepts. */
static const char *const misc_names[] = {
    [0x60 - 0x60] = "INTR",
    [0x61 - 0x60] = "NMI",
    [0x62 - 0x60] = "SMI",
    [0x63 - 0x60] = "INIT",
    [0x64 - 0x60] = "VINTR",
    [0x65 - 0x60] = "CR0_SEL_WRITE",
    [0x66 - 0x60] = "IDTR_READ",
    [0x67 - 0x60] = "GDTR_READ",
    [0x68 - 0x60] = "LDTR_READ",
    [0x69 - 0x60] = "TR_READ",
    [0x6A - 0x60] = "IDTR_WRITE",
    [0x6B - 0x60] = "GDTR_WRITE",
    [0x6C - 0x60] = "LDTR_WRITE",
    [0x6D - 0x60] = "TR_WRITE",
    [0x6E - 0x60] = "RDTSC",
    [0x6F - 0x60] = "RDPMC",
    [0x70 - 0x60] = "PUSHF",
    [0x71 - 0x60] = "POPF",
    [0x72 - 0x60] = "CPUID",
    [0x73 - 0x60] = "RSM",
    [0x74 - 0x60] = "IRET",
    [0x75 - 0x60] = "SWINT",
    [0x76 - 0x60] = "INVD",
    [0x77 - 0x60] = "PAUSE",
    [0x78 - 0x60] = "HLT",
    [0x79 - 0x60] = "INVLPG",
    [0x7A - 0x60] = "INVLPGA",
    [0x7B - 0x60] = "IOIO",
    [0x7C - 0x60] = "MSR",
    [0x7D - 0x60] = "TASK_SWITCH",
    [0x7E - 0x60] = "FERR_FREEZE",
    [0x7F - 0x60] = "SHUTDOWN",
    [0x80 - 0x60] = "VMRUN",
    [0x81 - 0x60] = "VMMCALL",
    [0x82 - 0x60] = "VMLOAD",
    [0x83 - 0x60] = "VMSAVE",
    [0x84 - 0x60] = "STGI",
    [0x85 - 0x60] = "CLGI",
    [0x86 - 0x60] = "SKINIT",
    [0x87 - 0x60] = "RDTSCP",
    [0x88 - 0x60] = "ICEBP",
    [0x89 - 0x60] = "WBINVD",
    [0x8A - 0x60] = "MONITOR",
    [0x8B - 0x60] = "MWAIT",
    [0x8C - 0x60] = "MWAIT_CONDITIONAL",
    [0x8D - 0x60] = "XSETBV",
    [0x8E - 0x60] = "RDPRU",
    [0x8F - 0x60] = "EFER_WRITE_TRAP",
    [0x90 - 0x60] = "CR0_WRITE_TRAP",
    [0x91 - 0x60] = "CR1_WRITE_TRAP",
    [0x92 - 0x60] = "CR2_WRITE_TRAP",
    [0x93 - 0x60] = "CR3_WRITE_TRAP",
    [0x94 - 0x60] = "CR4_WRITE_TRAP",
    [0x95 - 0x60] = "CR5_WRITE_TRAP",
    [0x96 - 0x60] = "CR6_WRITE_TRAP",
    [0x97 - 0x60] = "CR7_WRITE_TRAP",
    [0x98 - 0x60] = "CR8_WRITE_TRAP",
    [0x99 - 0x60] = "CR9_WRITE_TRAP",
    [0x9A - 0x60] = "CR10_WRITE_TRAP",
    [0x9B - 0x60] = "CR11_WRITE_TRAP",
    [0x9C - 0x60] = "CR12_WRITE_TRAP",
    [0x9D - 0x60] = "CR13_WRITE_TRAP",
    [0x9E - 0x60] = "CR14_WRITE_TRAP",
    [0x9F - 0x60] = "CR15_WRITE_TRAP",
    [0xA0 - 0x60] = "INVLPGB",
    [0xA1 - 0x60] = "INVLPGB_ILLEGAL",
    [0xA2 - 0x60] = "INVPCID",
    [0xA3 - 0x60] = "MCOMMIT",
    [0xA4 - 0x60] = "TLBSYNC",
    [0xA5 - 0x60] = "BUSLOCK",
    [0xA6 - 0x60] = "IDLE_HLT",
};

_Static_assert(sizeof(misc_names) / sizeof(misc_names[0]) ==
                   VMEXIT_IDLE_HLT - VMEXIT_INTR + 1,
               "misc_names must cover 060h..0A6h exactly");

const char *svm_exit_name(uint64_t code)
{
    if (code <= VMEXIT_CR15_WRITE)
        return cr_names[code];
    if (code <= VMEXIT_DR15_WRITE)
        return dr_names[code - VMEXIT_DR0_READ];
    if (code <= VMEXIT_EXCP_LAST)
        return excp_names[code - VMEXIT_EXCP_BASE];
    if (code <= VMEXIT_IDLE_HLT)
        return misc_names[code - VMEXIT_INTR];

    switch (code) {
    case VMEXIT_NPF:                 return "NPF";
    case VMEXIT_AVIC_INCOMPLETE_IPI: return "AVIC_INCOMPLETE_IPI";
    case VMEXIT_AVIC_NOACCEL:        return "AVIC_NOACCEL";
    case VMEXIT_VMGEXIT:             return "VMGEXIT";
    case VMEXIT_INVALID:             return "INVALID";
    case VMEXIT_BUSY:                return "BUSY";
    case VMEXIT_IDLE_REQUIRED:       return "IDLE_REQUIRED";
    case VMEXIT_INVALID_PMC:         return "INVALID_PMC";
    case VMEXIT_UNUSED_EXITCODE:     return "UNUSED_EXITCODE";
    default:                         return NULL;
    }
}
