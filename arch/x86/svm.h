/*
 * svm.h - AMD SVM architectural constants: #VMEXIT codes, SVM MSRs and the
 * CPUID SVM feature leaf.
 *
 * Sources (AMD64 Architecture Programmer's Manual):
 *   Vol. 2 Appendix C, Table C-1 "SVM Intercept Codes"  - exit codes
 *   Vol. 2 15.30 "SVM Related MSRs"                     - VM_CR, VM_HSAVE_PA,
 *                                                         TSC_RATIO
 *   Vol. 2 3.1.7 "Extended Feature Enable Register"     - EFER bits
 *   Vol. 3 E.4.9 "Function 8000_000Ah"                   - SVM feature bits
 *
 * EXITCODE at VMCB offset 070h is a full 64-bit value: the error codes are
 * negative numbers sign-extended to 64 bits (e.g. VMEXIT_INVALID is
 * FFFF_FFFF_FFFF_FFFFh), so all codes here are uint64_t constants.
 */
#pragma once

#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* #VMEXIT codes (Table C-1)                                                */
/* ------------------------------------------------------------------------ */

/* 000h..00Fh: read of CRn; 010h..01Fh: write of CRn. */
#define VMEXIT_CR_READ(n)           (UINT64_C(0x000) + (uint64_t)(n))
#define VMEXIT_CR_WRITE(n)          (UINT64_C(0x010) + (uint64_t)(n))
/* 020h..02Fh: read of DRn; 030h..03Fh: write of DRn. */
#define VMEXIT_DR_READ(n)           (UINT64_C(0x020) + (uint64_t)(n))
#define VMEXIT_DR_WRITE(n)          (UINT64_C(0x030) + (uint64_t)(n))
/* 040h..05Fh: exception vector 0..31. */
#define VMEXIT_EXCP(vec)            (UINT64_C(0x040) + (uint64_t)(vec))
/* 090h..09Fh: trap after a write of CRn (APM 15.35.10). */
#define VMEXIT_CR_WRITE_TRAP(n)     (UINT64_C(0x090) + (uint64_t)(n))

#define VMEXIT_CR0_READ             UINT64_C(0x000)
#define VMEXIT_CR2_READ             UINT64_C(0x002)
#define VMEXIT_CR3_READ             UINT64_C(0x003)
#define VMEXIT_CR4_READ             UINT64_C(0x004)
#define VMEXIT_CR8_READ             UINT64_C(0x008)
#define VMEXIT_CR15_READ            UINT64_C(0x00F)
#define VMEXIT_CR0_WRITE            UINT64_C(0x010)
#define VMEXIT_CR2_WRITE            UINT64_C(0x012)
#define VMEXIT_CR3_WRITE            UINT64_C(0x013)
#define VMEXIT_CR4_WRITE            UINT64_C(0x014)
#define VMEXIT_CR8_WRITE            UINT64_C(0x018)
#define VMEXIT_CR15_WRITE           UINT64_C(0x01F)
#define VMEXIT_DR0_READ             UINT64_C(0x020)
#define VMEXIT_DR7_READ             UINT64_C(0x027)
#define VMEXIT_DR15_READ            UINT64_C(0x02F)
#define VMEXIT_DR0_WRITE            UINT64_C(0x030)
#define VMEXIT_DR7_WRITE            UINT64_C(0x037)
#define VMEXIT_DR15_WRITE           UINT64_C(0x03F)

#define VMEXIT_EXCP_BASE            UINT64_C(0x040)
#define VMEXIT_EXCP_DE              UINT64_C(0x040) /*  0 divide error */
#define VMEXIT_EXCP_DB              UINT64_C(0x041) /*  1 debug */
#define VMEXIT_EXCP_NMI             UINT64_C(0x042) /*  2 NMI vector */
#define VMEXIT_EXCP_BP              UINT64_C(0x043) /*  3 breakpoint */
#define VMEXIT_EXCP_OF              UINT64_C(0x044) /*  4 overflow */
#define VMEXIT_EXCP_BR              UINT64_C(0x045) /*  5 bound range */
#define VMEXIT_EXCP_UD              UINT64_C(0x046) /*  6 invalid opcode */
#define VMEXIT_EXCP_NM              UINT64_C(0x047) /*  7 device not avail */
#define VMEXIT_EXCP_DF              UINT64_C(0x048) /*  8 double fault */
#define VMEXIT_EXCP_TS              UINT64_C(0x04A) /* 10 invalid TSS */
#define VMEXIT_EXCP_NP              UINT64_C(0x04B) /* 11 segment not present */
#define VMEXIT_EXCP_SS              UINT64_C(0x04C) /* 12 stack fault */
#define VMEXIT_EXCP_GP              UINT64_C(0x04D) /* 13 general protection */
#define VMEXIT_EXCP_PF              UINT64_C(0x04E) /* 14 page fault */
#define VMEXIT_EXCP_MF              UINT64_C(0x050) /* 16 x87 FP */
#define VMEXIT_EXCP_AC              UINT64_C(0x051) /* 17 alignment check */
#define VMEXIT_EXCP_MC              UINT64_C(0x052) /* 18 machine check */
#define VMEXIT_EXCP_XF              UINT64_C(0x053) /* 19 SIMD FP */
#define VMEXIT_EXCP_CP              UINT64_C(0x055) /* 21 control protection */
#define VMEXIT_EXCP_HV              UINT64_C(0x05C) /* 28 hypervisor injection */
#define VMEXIT_EXCP_VC              UINT64_C(0x05D) /* 29 VMM communication */
#define VMEXIT_EXCP_SX              UINT64_C(0x05E) /* 30 security */
#define VMEXIT_EXCP_LAST            UINT64_C(0x05F)

#define VMEXIT_INTR                 UINT64_C(0x060)
#define VMEXIT_NMI                  UINT64_C(0x061)
#define VMEXIT_SMI                  UINT64_C(0x062)
#define VMEXIT_INIT                 UINT64_C(0x063)
#define VMEXIT_VINTR                UINT64_C(0x064)
#define VMEXIT_CR0_SEL_WRITE        UINT64_C(0x065)
#define VMEXIT_IDTR_READ            UINT64_C(0x066)
#define VMEXIT_GDTR_READ            UINT64_C(0x067)
#define VMEXIT_LDTR_READ            UINT64_C(0x068)
#define VMEXIT_TR_READ              UINT64_C(0x069)
#define VMEXIT_IDTR_WRITE           UINT64_C(0x06A)
#define VMEXIT_GDTR_WRITE           UINT64_C(0x06B)
#define VMEXIT_LDTR_WRITE           UINT64_C(0x06C)
#define VMEXIT_TR_WRITE             UINT64_C(0x06D)
#define VMEXIT_RDTSC                UINT64_C(0x06E)
#define VMEXIT_RDPMC                UINT64_C(0x06F)
#define VMEXIT_PUSHF                UINT64_C(0x070)
#define VMEXIT_POPF                 UINT64_C(0x071)
#define VMEXIT_CPUID                UINT64_C(0x072)
#define VMEXIT_RSM                  UINT64_C(0x073)
#define VMEXIT_IRET                 UINT64_C(0x074)
#define VMEXIT_SWINT                UINT64_C(0x075) /* INTn */
#define VMEXIT_INVD                 UINT64_C(0x076)
#define VMEXIT_PAUSE                UINT64_C(0x077)
#define VMEXIT_HLT                  UINT64_C(0x078)
#define VMEXIT_INVLPG               UINT64_C(0x079)
#define VMEXIT_INVLPGA              UINT64_C(0x07A)
#define VMEXIT_IOIO                 UINT64_C(0x07B)
#define VMEXIT_MSR                  UINT64_C(0x07C)
#define VMEXIT_TASK_SWITCH          UINT64_C(0x07D)
#define VMEXIT_FERR_FREEZE          UINT64_C(0x07E)
#define VMEXIT_SHUTDOWN             UINT64_C(0x07F)
#define VMEXIT_VMRUN                UINT64_C(0x080)
#define VMEXIT_VMMCALL              UINT64_C(0x081)
#define VMEXIT_VMLOAD               UINT64_C(0x082)
#define VMEXIT_VMSAVE               UINT64_C(0x083)
#define VMEXIT_STGI                 UINT64_C(0x084)
#define VMEXIT_CLGI                 UINT64_C(0x085)
#define VMEXIT_SKINIT               UINT64_C(0x086)
#define VMEXIT_RDTSCP               UINT64_C(0x087)
#define VMEXIT_ICEBP                UINT64_C(0x088)
#define VMEXIT_WBINVD               UINT64_C(0x089) /* and WBNOINVD */
#define VMEXIT_MONITOR              UINT64_C(0x08A) /* and MONITORX */
#define VMEXIT_MWAIT                UINT64_C(0x08B) /* and MWAITX */
#define VMEXIT_MWAIT_CONDITIONAL    UINT64_C(0x08C)
#define VMEXIT_XSETBV               UINT64_C(0x08D)
#define VMEXIT_RDPRU                UINT64_C(0x08E)
#define VMEXIT_EFER_WRITE_TRAP      UINT64_C(0x08F)
#define VMEXIT_CR0_WRITE_TRAP       UINT64_C(0x090)
#define VMEXIT_CR3_WRITE_TRAP       UINT64_C(0x093)
#define VMEXIT_CR4_WRITE_TRAP       UINT64_C(0x094)
#define VMEXIT_CR8_WRITE_TRAP       UINT64_C(0x098)
#define VMEXIT_CR15_WRITE_TRAP      UINT64_C(0x09F)
#define VMEXIT_INVLPGB              UINT64_C(0x0A0)
#define VMEXIT_INVLPGB_ILLEGAL      UINT64_C(0x0A1)
#define VMEXIT_INVPCID              UINT64_C(0x0A2)
#define VMEXIT_MCOMMIT              UINT64_C(0x0A3)
#define VMEXIT_TLBSYNC              UINT64_C(0x0A4)
#define VMEXIT_BUSLOCK              UINT64_C(0x0A5)
#define VMEXIT_IDLE_HLT             UINT64_C(0x0A6)
#define VMEXIT_NPF                  UINT64_C(0x400) /* nested page fault */
#define VMEXIT_AVIC_INCOMPLETE_IPI  UINT64_C(0x401)
#define VMEXIT_AVIC_NOACCEL         UINT64_C(0x402)
#define VMEXIT_VMGEXIT              UINT64_C(0x403) /* SEV-ES */

/* Negative codes: VMRUN failed or could not enter the guest. */
#define VMEXIT_INVALID              (~UINT64_C(0))      /* -1: bad guest state */
#define VMEXIT_BUSY                 (~UINT64_C(0) - 1)  /* -2: VMSA BUSY set */
#define VMEXIT_IDLE_REQUIRED        (~UINT64_C(0) - 2)  /* -3: sibling not idle */
#define VMEXIT_INVALID_PMC          (~UINT64_C(0) - 3)  /* -4: bad PMC state */
/*
 * -5: not listed in APM Vol. 2 rev 3.44 Table C-1 (which stops at -4).
 * Defined only as a software "no exit recorded yet" sentinel: a VMM can
 * store it into EXITCODE before VMRUN to detect a VMRUN that never wrote
 * an exit code.  Never produced by the architecture as far as documented.
 */
#define VMEXIT_UNUSED_EXITCODE      (~UINT64_C(0) - 4)

/*
 * Short name of an exit code ("CPUID", "NPF", "EXCP_PF", "CR0_WRITE",
 * "INVALID", ...), or NULL if the code is not in Table C-1.
 * Implemented in svm_exit_names.c; the strings are static.
 */
const char *svm_exit_name(uint64_t code);

/* ------------------------------------------------------------------------ */
/* EXITINFO1 decodes (APM 15.10.2, 15.11, 15.25.6, 15.33)                    */
/* ------------------------------------------------------------------------ */

/* VMEXIT_IOIO EXITINFO1 (APM 15.10.2, Figure 15-2). */
#define SVM_IOIO_TYPE_IN            (UINT64_C(1) << 0)  /* 1 = IN, 0 = OUT */
#define SVM_IOIO_STR                (UINT64_C(1) << 2)  /* INS/OUTS */
#define SVM_IOIO_REP                (UINT64_C(1) << 3)
#define SVM_IOIO_SZ8                (UINT64_C(1) << 4)
#define SVM_IOIO_SZ16               (UINT64_C(1) << 5)
#define SVM_IOIO_SZ32               (UINT64_C(1) << 6)
#define SVM_IOIO_A16                (UINT64_C(1) << 7)
#define SVM_IOIO_A32                (UINT64_C(1) << 8)
#define SVM_IOIO_A64                (UINT64_C(1) << 9)
#define SVM_IOIO_SEG_SHIFT          10                  /* 12:10, 0=ES..5=GS */
#define SVM_IOIO_SEG_MASK           (UINT64_C(7) << 10)
#define SVM_IOIO_PORT_SHIFT         16                  /* 31:16 */
#define SVM_IOIO_PORT_MASK          (UINT64_C(0xFFFF) << 16)

/* VMEXIT_MSR EXITINFO1: 0 = RDMSR, 1 = WRMSR (APM 15.11). */
#define SVM_MSR_EXITINFO1_RDMSR     UINT64_C(0)
#define SVM_MSR_EXITINFO1_WRMSR     UINT64_C(1)

/* CR/DR access EXITINFO1 with decode assists (APM 15.33.1): bits 3:0 =
 * GPR number (CR and DR); bit 63 = 1 for MOV CRx, 0 for CLTS/LMSW. */
#define SVM_CRDR_MOV                (UINT64_C(1) << 63)
#define SVM_CRDR_GPR_MASK           UINT64_C(0xF)

/* VMEXIT_NPF EXITINFO1: #PF error code bits plus (APM 15.25.6): */
#define SVM_NPF_P                   (UINT64_C(1) << 0)
#define SVM_NPF_RW                  (UINT64_C(1) << 1)
#define SVM_NPF_US                  (UINT64_C(1) << 2)
#define SVM_NPF_RSV                 (UINT64_C(1) << 3)
#define SVM_NPF_ID                  (UINT64_C(1) << 4)
#define SVM_NPF_FINAL_ADDR          (UINT64_C(1) << 32) /* final GPA access */
#define SVM_NPF_GUEST_PT            (UINT64_C(1) << 33) /* guest PT walk */

/* ------------------------------------------------------------------------ */
/* SVM MSRs (APM Vol. 2 15.30)                                              */
/* ------------------------------------------------------------------------ */
#define MSR_VM_CR                   0xC0010114u
#define MSR_VM_HSAVE_PA             0xC0010117u
#define MSR_TSC_RATIO               0xC0000104u

/* VM_CR bits (APM 15.30.1). */
#define VM_CR_DPD                   (UINT64_C(1) << 0) /* debug port disable */
#define VM_CR_R_INIT                (UINT64_C(1) << 1) /* INIT -> #SX redirect */
#define VM_CR_DIS_A20M              (UINT64_C(1) << 2)
#define VM_CR_LOCK                  (UINT64_C(1) << 3) /* SVMDIS is locked */
#define VM_CR_SVMDIS                (UINT64_C(1) << 4) /* EFER.SVME cannot be set */

/* TSC_RATIO: fixed point 8.32, bits 39:0; 1.0 = 1 << 32 (APM 15.30.5). */
#define TSC_RATIO_DEFAULT           (UINT64_C(1) << 32)

/* EFER (APM Vol. 2 3.1.7). */
#define MSR_EFER                    0xC0000080u
#define EFER_SCE                    (UINT64_C(1) << 0)  /* SYSCALL/SYSRET */
#define EFER_LME                    (UINT64_C(1) << 8)  /* long mode enable */
#define EFER_LMA                    (UINT64_C(1) << 10) /* long mode active */
#define EFER_NXE                    (UINT64_C(1) << 11) /* no-execute enable */
#define EFER_SVME                   (UINT64_C(1) << 12) /* SVM enable */
#define EFER_LMSLE                  (UINT64_C(1) << 13) /* long mode seg limit */
#define EFER_FFXSR                  (UINT64_C(1) << 14) /* fast FXSAVE/FXRSTOR */
#define EFER_TCE                    (UINT64_C(1) << 15) /* translation cache ext */

/* ------------------------------------------------------------------------ */
/* CPUID (APM Vol. 3 E.4.9 and Table E-4)                                   */
/* ------------------------------------------------------------------------ */
/* CPUID Fn8000_0001 ECX bit 2: SVM supported. */
#define CPUID_80000001_ECX_SVM      (UINT32_C(1) << 2)

/* Fn8000_000A: EAX[7:0] SVM revision, EBX = number of ASIDs, EDX features. */
#define CPUID_SVM_LEAF              UINT32_C(0x8000000A)
#define CPUID_SVM_EAX_REV_MASK      UINT32_C(0xFF)

