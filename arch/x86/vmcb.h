/*
 * vmcb.h - Virtual Machine Control Block layout for AMD SVM.
 *
 * Source: AMD64 Architecture Programmer's Manual Vol. 2 (pub. 24593),
 * Appendix B "Layout of VMCB":
 *   Table B-1  VMCB Layout, Control Area   (VMCB offsets 000h..3FFh)
 *   Table B-2  VMCB Layout, State Save Area (VMCB offsets 400h..)
 * Bit definitions inside the control words come from the same tables and
 * from chapter 15 (Secure Virtual Machine); the section is cited per group.
 *
 * The VMCB is one 4-Kbyte, 4-Kbyte-aligned page in host physical memory
 * (APM 15.5.1).  Every field is naturally aligned at its APM offset, so the
 * structures need no packing attribute: the _Static_asserts at the bottom of
 * this file prove that the compiler placed every field where the APM says.
 *
 * Only <stdint.h> and <stddef.h> are used so that this header builds on the
 * host (unit tests), in the freestanding newlib kernel, and under GNU-EFI.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VMCB_SIZE           4096u
#define VMCB_ALIGN          4096u
#define VMCB_CONTROL_SIZE   0x400u  /* control area: 000h..3FFh */
#define VMCB_SAVE_OFFSET    0x400u  /* state save area starts here */

/* ------------------------------------------------------------------------ */
/* Intercept vectors (Table B-1, offsets 000h..017h; APM 15.8-15.15)        */
/* ------------------------------------------------------------------------ */

/*
 * 000h: bits 15:0 intercept reads of CR0..CR15, bits 31:16 intercept writes.
 * 004h: the same split for DR0..DR15.
 * 008h: bit n intercepts exception vector n (APM 15.12).
 */
#define VMCB_INTERCEPT_CR_READ(n)    (UINT32_C(1) << (n))
#define VMCB_INTERCEPT_CR_WRITE(n)   (UINT32_C(1) << (16 + (n)))
#define VMCB_INTERCEPT_DR_READ(n)    (UINT32_C(1) << (n))
#define VMCB_INTERCEPT_DR_WRITE(n)   (UINT32_C(1) << (16 + (n)))
#define VMCB_INTERCEPT_EXCP(vec)     (UINT32_C(1) << (vec))

/* 00Ch: first miscellaneous intercept vector (field intercept_misc1). */
#define VMCB_INTERCEPT1_INTR           (UINT32_C(1) << 0)
#define VMCB_INTERCEPT1_NMI            (UINT32_C(1) << 1)
#define VMCB_INTERCEPT1_SMI            (UINT32_C(1) << 2)
#define VMCB_INTERCEPT1_INIT           (UINT32_C(1) << 3)
#define VMCB_INTERCEPT1_VINTR          (UINT32_C(1) << 4)
/* CR0 writes that change bits other than CR0.TS or CR0.MP (APM 15.9.1). */
#define VMCB_INTERCEPT1_CR0_SEL_WRITE  (UINT32_C(1) << 5)
#define VMCB_INTERCEPT1_IDTR_READ      (UINT32_C(1) << 6)
#define VMCB_INTERCEPT1_GDTR_READ      (UINT32_C(1) << 7)
#define VMCB_INTERCEPT1_LDTR_READ      (UINT32_C(1) << 8)
#define VMCB_INTERCEPT1_TR_READ        (UINT32_C(1) << 9)
#define VMCB_INTERCEPT1_IDTR_WRITE     (UINT32_C(1) << 10)
#define VMCB_INTERCEPT1_GDTR_WRITE     (UINT32_C(1) << 11)
#define VMCB_INTERCEPT1_LDTR_WRITE     (UINT32_C(1) << 12)
#define VMCB_INTERCEPT1_TR_WRITE       (UINT32_C(1) << 13)
#define VMCB_INTERCEPT1_RDTSC          (UINT32_C(1) << 14)
#define VMCB_INTERCEPT1_RDPMC          (UINT32_C(1) << 15)
#define VMCB_INTERCEPT1_PUSHF          (UINT32_C(1) << 16)
#define VMCB_INTERCEPT1_POPF           (UINT32_C(1) << 17)
#define VMCB_INTERCEPT1_CPUID          (UINT32_C(1) << 18)
#define VMCB_INTERCEPT1_RSM            (UINT32_C(1) << 19)
#define VMCB_INTERCEPT1_IRET           (UINT32_C(1) << 20)
#define VMCB_INTERCEPT1_INTN           (UINT32_C(1) << 21)
#define VMCB_INTERCEPT1_INVD           (UINT32_C(1) << 22)
#define VMCB_INTERCEPT1_PAUSE          (UINT32_C(1) << 23)
#define VMCB_INTERCEPT1_HLT            (UINT32_C(1) << 24)
#define VMCB_INTERCEPT1_INVLPG         (UINT32_C(1) << 25)
#define VMCB_INTERCEPT1_INVLPGA        (UINT32_C(1) << 26)
/* IN/OUT/INS/OUTS, filtered by the I/O permission map (APM 15.10). */
#define VMCB_INTERCEPT1_IOIO_PROT      (UINT32_C(1) << 27)
/* RDMSR/WRMSR, filtered by the MSR permission map (APM 15.11). */
#define VMCB_INTERCEPT1_MSR_PROT       (UINT32_C(1) << 28)
#define VMCB_INTERCEPT1_TASK_SWITCH    (UINT32_C(1) << 29)
/* Processor "freezing" during legacy FERR handling. */
#define VMCB_INTERCEPT1_FERR_FREEZE    (UINT32_C(1) << 30)
/* Shutdown events (e.g. triple fault) - intercept to avoid a host reset. */
#define VMCB_INTERCEPT1_SHUTDOWN       (UINT32_C(1) << 31)

/* 010h: second miscellaneous intercept vector (field intercept_misc2). */
/* VMRUN must be intercepted or VMRUN fails with VMEXIT_INVALID (15.5.1). */
#define VMCB_INTERCEPT2_VMRUN              (UINT32_C(1) << 0)
#define VMCB_INTERCEPT2_VMMCALL            (UINT32_C(1) << 1)
#define VMCB_INTERCEPT2_VMLOAD             (UINT32_C(1) << 2)
#define VMCB_INTERCEPT2_VMSAVE             (UINT32_C(1) << 3)
#define VMCB_INTERCEPT2_STGI               (UINT32_C(1) << 4)
#define VMCB_INTERCEPT2_CLGI               (UINT32_C(1) << 5)
#define VMCB_INTERCEPT2_SKINIT             (UINT32_C(1) << 6)
#define VMCB_INTERCEPT2_RDTSCP             (UINT32_C(1) << 7)
#define VMCB_INTERCEPT2_ICEBP              (UINT32_C(1) << 8)
#define VMCB_INTERCEPT2_WBINVD             (UINT32_C(1) << 9)  /* and WBNOINVD */
#define VMCB_INTERCEPT2_MONITOR            (UINT32_C(1) << 10) /* and MONITORX */
#define VMCB_INTERCEPT2_MWAIT              (UINT32_C(1) << 11) /* unconditional */
/* MWAIT/MWAITX only if the monitor hardware is armed. */
#define VMCB_INTERCEPT2_MWAIT_CONDITIONAL  (UINT32_C(1) << 12)
#define VMCB_INTERCEPT2_XSETBV             (UINT32_C(1) << 13)
#define VMCB_INTERCEPT2_RDPRU              (UINT32_C(1) << 14)
/* Trap (after the write completes) on writes to EFER (APM 15.35.10). */
#define VMCB_INTERCEPT2_EFER_WRITE_TRAP    (UINT32_C(1) << 15)
/* Bits 31:16: trap after writes to CR0..CR15 (APM 15.35.10). */
#define VMCB_INTERCEPT2_CR_WRITE_TRAP(n)   (UINT32_C(1) << (16 + (n)))

/* 014h: third miscellaneous intercept vector (field intercept_misc3). */
#define VMCB_INTERCEPT3_INVLPGB            (UINT32_C(1) << 0)
/* INVLPGB with an illegally specified operand. */
#define VMCB_INTERCEPT3_INVLPGB_ILLEGAL    (UINT32_C(1) << 1)
#define VMCB_INTERCEPT3_INVPCID            (UINT32_C(1) << 2)
#define VMCB_INTERCEPT3_MCOMMIT            (UINT32_C(1) << 3)
#define VMCB_INTERCEPT3_TLBSYNC            (UINT32_C(1) << 4)
/* Bus lock when the bus-lock threshold counter (120h) reaches zero. */
#define VMCB_INTERCEPT3_BUSLOCK            (UINT32_C(1) << 5)
/* HLT only if no virtual interrupt (V_INTR or V_NMI) is pending. */
#define VMCB_INTERCEPT3_IDLE_HLT           (UINT32_C(1) << 6)

/* ------------------------------------------------------------------------ */
/* 058h: guest ASID (bits 31:0) and TLB_CONTROL (bits 39:32); APM 15.16.1   */
/* ------------------------------------------------------------------------ */
#define VMCB_TLB_CONTROL_DO_NOTHING         0x00u /* no flush on VMRUN */
#define VMCB_TLB_CONTROL_FLUSH_ALL          0x01u /* all ASIDs, all entries */
#define VMCB_TLB_CONTROL_FLUSH_ASID         0x03u /* this guest's ASID only */
/* This guest's ASID, non-global entries only. */
#define VMCB_TLB_CONTROL_FLUSH_ASID_LOCAL   0x07u

/* ------------------------------------------------------------------------ */
/* 060h..067h: virtual interrupt control (APM 15.21, 15.29 AVIC)            */
/* Field int_ctl holds VMCB bits 31:0; int_vector holds bits 39:32.        */
/* ------------------------------------------------------------------------ */
#define VMCB_INT_CTL_V_TPR_MASK         UINT32_C(0x000000FF) /* 3:0 used */
#define VMCB_INT_CTL_V_IRQ              (UINT32_C(1) << 8)
#define VMCB_INT_CTL_VGIF               (UINT32_C(1) << 9)   /* virtual GIF */
#define VMCB_INT_CTL_V_NMI              (UINT32_C(1) << 11)  /* vNMI pending */
#define VMCB_INT_CTL_V_NMI_MASK         (UINT32_C(1) << 12)  /* vNMI blocked */
#define VMCB_INT_CTL_V_INTR_PRIO_SHIFT  16
#define VMCB_INT_CTL_V_INTR_PRIO_MASK   (UINT32_C(0xF) << 16)
#define VMCB_INT_CTL_V_IGN_TPR          (UINT32_C(1) << 20)
/* Guest RFLAGS.IF/CR8 only gate virtual interrupts (APM 15.21.1). */
#define VMCB_INT_CTL_V_INTR_MASKING     (UINT32_C(1) << 24)
#define VMCB_INT_CTL_VGIF_ENABLE        (UINT32_C(1) << 25)
#define VMCB_INT_CTL_V_NMI_ENABLE       (UINT32_C(1) << 26)
#define VMCB_INT_CTL_X2AVIC_ENABLE      (UINT32_C(1) << 30)
#define VMCB_INT_CTL_AVIC_ENABLE        (UINT32_C(1) << 31)

/* 068h: interrupt state (field int_state). */
#define VMCB_INT_STATE_INTERRUPT_SHADOW     (UINT64_C(1) << 0)
/* Guest RFLAGS.IF value; written on #VMEXIT for SEV-ES guests. */
#define VMCB_INT_STATE_GUEST_INTERRUPT_MASK (UINT64_C(1) << 1)

/* ------------------------------------------------------------------------ */
/* EVENTINJ (0A8h) and EXITINTINFO (088h) share one format; APM 15.20, 15.7.2*/
/* ------------------------------------------------------------------------ */
#define VMCB_EVENT_VECTOR_MASK      UINT64_C(0xFF)
#define VMCB_EVENT_TYPE_SHIFT       8
#define VMCB_EVENT_TYPE_MASK        (UINT64_C(7) << 8)
#define VMCB_EVENT_TYPE_INTR        (UINT64_C(0) << 8) /* external/virtual INTR */
#define VMCB_EVENT_TYPE_NMI         (UINT64_C(2) << 8)
#define VMCB_EVENT_TYPE_EXCEPTION   (UINT64_C(3) << 8) /* fault or trap */
#define VMCB_EVENT_TYPE_SOFT_INT    (UINT64_C(4) << 8) /* INTn */
#define VMCB_EVENT_EV               (UINT64_C(1) << 11) /* error code valid */
#define VMCB_EVENT_V                (UINT64_C(1) << 31) /* entry valid */
#define VMCB_EVENT_ERRORCODE_SHIFT  32

static inline uint64_t vmcb_event_make(uint8_t vector, uint64_t type,
                                       int error_valid, uint32_t error_code)
{
    uint64_t ev = (uint64_t)vector | (type & VMCB_EVENT_TYPE_MASK) |
                  VMCB_EVENT_V;
    if (error_valid)
        ev |= VMCB_EVENT_EV |
              ((uint64_t)error_code << VMCB_EVENT_ERRORCODE_SHIFT);
    return ev;
}

static inline uint8_t vmcb_event_vector(uint64_t ev)
{
    return (uint8_t)(ev & VMCB_EVENT_VECTOR_MASK);
}

static inline uint64_t vmcb_event_type(uint64_t ev)
{
    return ev & VMCB_EVENT_TYPE_MASK;
}

static inline uint32_t vmcb_event_error_code(uint64_t ev)
{
    return (uint32_t)(ev >> VMCB_EVENT_ERRORCODE_SHIFT);
}

/* ------------------------------------------------------------------------ */
/* 090h: nested paging / SEV control (field nested_ctl); Table B-1, 15.25   */
/* ------------------------------------------------------------------------ */
#define VMCB_NP_ENABLE                  (UINT64_C(1) << 0)
#define VMCB_SEV_ENABLE                 (UINT64_C(1) << 1)
#define VMCB_SEV_ES_ENABLE              (UINT64_C(1) << 2)
#define VMCB_GMET_ENABLE                (UINT64_C(1) << 3) /* guest mode exec trap */
#define VMCB_SSS_CHECK_ENABLE           (UINT64_C(1) << 4) /* supervisor shadow stack */
#define VMCB_VTE_ENABLE                 (UINT64_C(1) << 5) /* virt. transparent encr. */
#define VMCB_ROGPT_ENABLE               (UINT64_C(1) << 6) /* read-only guest PTs */
/* If CPUID 8000_000A EDX[24]: 0 makes guest INVLPGB/TLBSYNC #UD. */
#define VMCB_INVLPGB_TLBSYNC_ENABLE     (UINT64_C(1) << 7)

/* ------------------------------------------------------------------------ */
/* 0B8h: virtualization extensions (field virt_ext); Table B-1, 15.23, 15.33*/
/* ------------------------------------------------------------------------ */
#define VMCB_LBR_VIRT_ENABLE            (UINT64_C(1) << 0)
#define VMCB_V_VMSAVE_VMLOAD_ENABLE     (UINT64_C(1) << 1)
#define VMCB_IBS_VIRT_ENABLE            (UINT64_C(1) << 2)
#define VMCB_PMC_VIRT_ENABLE            (UINT64_C(1) << 3)

/* ------------------------------------------------------------------------ */
/* 0C0h: VMCB clean bits (field vmcb_clean); APM 15.15.3, Figure 15-4.      */
/* A set bit tells the CPU it may reuse its cached copy of that group.      */
/* ------------------------------------------------------------------------ */
#define VMCB_CLEAN_INTERCEPTS   (UINT32_C(1) << 0)  /* intercepts, TSC offset, pause filter */
#define VMCB_CLEAN_IOPM         (UINT32_C(1) << 1)  /* IOPM_BASE, MSRPM_BASE */
#define VMCB_CLEAN_ASID         (UINT32_C(1) << 2)
#define VMCB_CLEAN_TPR          (UINT32_C(1) << 3)  /* 060h..067h */
#define VMCB_CLEAN_NP           (UINT32_C(1) << 4)  /* N_CR3, G_PAT */
#define VMCB_CLEAN_CRX          (UINT32_C(1) << 5)  /* CR0, CR3, CR4, EFER */
#define VMCB_CLEAN_DRX          (UINT32_C(1) << 6)  /* DR6, DR7 */
#define VMCB_CLEAN_DT           (UINT32_C(1) << 7)  /* GDTR, IDTR */
#define VMCB_CLEAN_SEG          (UINT32_C(1) << 8)  /* CS, DS, SS, ES, CPL */
#define VMCB_CLEAN_CR2          (UINT32_C(1) << 9)
#define VMCB_CLEAN_LBR          (UINT32_C(1) << 10) /* DBGCTL, BR_*, LASTEXCP* */
#define VMCB_CLEAN_AVIC         (UINT32_C(1) << 11) /* AVIC BAR and table ptrs */
#define VMCB_CLEAN_CET          (UINT32_C(1) << 12) /* S_CET, SSP, ISST_ADDR */

/* ------------------------------------------------------------------------ */
/* AVIC pointers (0E0h, 0F0h, 0F8h) and VMSA pointer (108h); APM 15.29.4    */
/* ------------------------------------------------------------------------ */
#define VMCB_PAGE_ADDR_MASK             UINT64_C(0x000FFFFFFFFFF000) /* 51:12 */
#define VMCB_AVIC_APIC_BAR_MASK         UINT64_C(0x000FFFFFFFFFFFFF) /* 51:0 */
#define VMCB_AVIC_PHYSICAL_MAX_INDEX_MASK UINT64_C(0xFFF)           /* 11:0 */

/* ------------------------------------------------------------------------ */
/* Segment attributes (APM 15.5.1 / Table B-2 note).                        */
/* The VMCB packs descriptor bits 47:40 into attrib[7:0] and descriptor     */
/* bits 55:52 into attrib[11:8]; attrib[15:12] are reserved.                */
/* ------------------------------------------------------------------------ */
#define VMCB_SEG_ATTR_TYPE_MASK     0x000Fu
#define VMCB_SEG_ATTR_S             0x0010u  /* code/data (1) vs system (0) */
#define VMCB_SEG_ATTR_DPL_SHIFT     5
#define VMCB_SEG_ATTR_DPL_MASK      0x0060u
#define VMCB_SEG_ATTR_P             0x0080u
#define VMCB_SEG_ATTR_AVL           0x0100u
#define VMCB_SEG_ATTR_L             0x0200u
#define VMCB_SEG_ATTR_DB            0x0400u
#define VMCB_SEG_ATTR_G             0x0800u
#define VMCB_SEG_ATTR_VALID_MASK    0x0FFFu

/* Build an attrib value from its parts; every argument is 0/1 except
 * type (4 bits) and dpl (2 bits). */
#define VMCB_SEG_ATTRIB(type, s, dpl, p, avl, l, db, g)                \
    ((uint16_t)(((type) & 0xFu) | (((s) & 1u) << 4) |                  \
                (((dpl) & 3u) << 5) | (((p) & 1u) << 7) |              \
                (((avl) & 1u) << 8) | (((l) & 1u) << 9) |              \
                (((db) & 1u) << 10) | (((g) & 1u) << 11)))

/* Pack the attribute bits of an 8-byte GDT/LDT descriptor into VMCB form. */
static inline uint16_t vmcb_seg_attrib_from_desc(uint64_t desc)
{
    return (uint16_t)(((desc >> 40) & 0x00FFu) | ((desc >> 44) & 0x0F00u));
}

/* Inverse of vmcb_seg_attrib_from_desc: descriptor bits 47:40 and 55:52. */
static inline uint64_t vmcb_seg_attrib_to_desc(uint16_t attrib)
{
    return ((uint64_t)(attrib & 0x00FFu) << 40) |
           ((uint64_t)(attrib & 0x0F00u) << 44);
}

/* ------------------------------------------------------------------------ */
/* Structures                                                               */
/* ------------------------------------------------------------------------ */

/* Control area, VMCB 000h..3FFh (Table B-1). */
struct vmcb_control {
    uint32_t intercept_cr;          /* 000h: CR reads 15:0, writes 31:16 */
    uint32_t intercept_dr;          /* 004h: DR reads 15:0, writes 31:16 */
    uint32_t intercept_exceptions;  /* 008h: one bit per vector */
    uint32_t intercept_misc1;       /* 00Ch: VMCB_INTERCEPT1_* */
    uint32_t intercept_misc2;       /* 010h: VMCB_INTERCEPT2_* */
    uint32_t intercept_misc3;       /* 014h: VMCB_INTERCEPT3_* */
    uint8_t  reserved_018[0x03C - 0x018];
    uint16_t pause_filter_thresh;   /* 03Ch (APM 15.14.4) */
    uint16_t pause_filter_count;    /* 03Eh */
    uint64_t iopm_base_pa;          /* 040h: 12 Kbyte I/O permission map */
    uint64_t msrpm_base_pa;         /* 048h: 8 Kbyte MSR permission map */
    uint64_t tsc_offset;            /* 050h */
    uint32_t guest_asid;            /* 058h: bits 31:0 */
    uint8_t  tlb_control;           /* 05Ch: bits 39:32, VMCB_TLB_CONTROL_* */
    uint8_t  reserved_05d[3];       /* bits 63:40 */
    uint32_t int_ctl;               /* 060h: bits 31:0, VMCB_INT_CTL_* */
    uint8_t  int_vector;            /* 064h: V_INTR_VECTOR, bits 39:32 */
    uint8_t  reserved_065[3];       /* bits 63:40 */
    uint64_t int_state;             /* 068h: VMCB_INT_STATE_* */
    uint64_t exitcode;              /* 070h: 64-bit, see svm.h VMEXIT_* */
    uint64_t exitinfo1;             /* 078h */
    uint64_t exitinfo2;             /* 080h */
    uint64_t exitintinfo;           /* 088h: VMCB_EVENT_* format */
    uint64_t nested_ctl;            /* 090h: VMCB_NP_ENABLE, VMCB_SEV_* ... */
    uint64_t avic_apic_bar;         /* 098h: bits 51:0 */
    uint64_t ghcb_pa;               /* 0A0h: guest PA of the GHCB (SEV-ES) */
    uint64_t eventinj;              /* 0A8h: VMCB_EVENT_* format */
    uint64_t n_cr3;                 /* 0B0h: nested page table root */
    uint64_t virt_ext;              /* 0B8h: VMCB_LBR_VIRT_ENABLE ... */
    uint32_t vmcb_clean;            /* 0C0h: VMCB_CLEAN_* */
    uint32_t reserved_0c4;
    uint64_t nrip;                  /* 0C8h: next sequential RIP */
    uint8_t  guest_insn_len;        /* 0D0h: number of bytes fetched */
    uint8_t  guest_insn_bytes[15];  /* 0D1h: decode-assist bytes */
    uint64_t avic_backing_page;     /* 0E0h: APIC_BACKING_PAGE pointer */
    uint64_t reserved_0e8;
    uint64_t avic_logical_table;    /* 0F0h: LOGICAL_TABLE pointer 51:12 */
    uint64_t avic_physical_table;   /* 0F8h: PHYSICAL_TABLE 51:12, MAX_INDEX 11:0 */
    uint64_t reserved_100;
    uint64_t vmsa_pa;               /* 108h: VMSA pointer 51:12 (SEV-ES) */
    uint64_t vmgexit_rax;           /* 110h (SEV-ES) */
    uint8_t  vmgexit_cpl;           /* 118h (SEV-ES) */
    uint8_t  reserved_119[7];
    uint16_t bus_lock_counter;      /* 120h: bus lock threshold counter */
    uint8_t  reserved_122[0x138 - 0x122];
    uint64_t allowed_sev_features;  /* 138h (SEV-SNP) */
    uint64_t guest_sev_features;    /* 140h (SEV-SNP) */
    uint8_t  reserved_148[0x3E0 - 0x148];
    uint8_t  reserved_host[0x400 - 0x3E0]; /* 3E0h: reserved for host use */
};

/* Segment register image (Table B-2): 16 bytes per register. */
struct vmcb_seg {
    uint16_t selector;
    uint16_t attrib;    /* VMCB_SEG_ATTR_* */
    uint32_t limit;     /* expanded byte limit, not the raw descriptor field */
    uint64_t base;
};

/*
 * State save area (Table B-2).  Offsets in the comments are relative to
 * the start of the save area (VMCB offset 400h); the static asserts below
 * check both the relative and the absolute offsets.  The area ends after
 * SPEC_CTRL (2E8h); struct vmcb pads the rest of the page.
 */
struct vmcb_save {
    struct vmcb_seg es;             /* 000h */
    struct vmcb_seg cs;             /* 010h */
    struct vmcb_seg ss;             /* 020h */
    struct vmcb_seg ds;             /* 030h */
    struct vmcb_seg fs;             /* 040h */
    struct vmcb_seg gs;             /* 050h */
    struct vmcb_seg gdtr;           /* 060h: only limit and base used */
    struct vmcb_seg ldtr;           /* 070h */
    struct vmcb_seg idtr;           /* 080h: only limit and base used */
    struct vmcb_seg tr;             /* 090h */
    uint8_t  reserved_0a0[0x0CA - 0x0A0];
    uint8_t  vmpl;                  /* 0CAh: SEV-SNP only, else reserved */
    uint8_t  cpl;                   /* 0CBh */
    uint32_t reserved_0cc;
    uint64_t efer;                  /* 0D0h */
    uint8_t  reserved_0d8[0x148 - 0x0D8];
    uint64_t cr4;                   /* 148h */
    uint64_t cr3;                   /* 150h */
    uint64_t cr0;                   /* 158h */
    uint64_t dr7;                   /* 160h */
    uint64_t dr6;                   /* 168h */
    uint64_t rflags;                /* 170h */
    uint64_t rip;                   /* 178h */
    uint8_t  reserved_180[0x1D8 - 0x180];
    uint64_t rsp;                   /* 1D8h */
    uint64_t s_cet;                 /* 1E0h */
    uint64_t ssp;                   /* 1E8h */
    uint64_t isst_addr;             /* 1F0h */
    uint64_t rax;                   /* 1F8h */
    uint64_t star;                  /* 200h */
    uint64_t lstar;                 /* 208h */
    uint64_t cstar;                 /* 210h */
    uint64_t sfmask;                /* 218h */
    uint64_t kernel_gs_base;        /* 220h */
    uint64_t sysenter_cs;           /* 228h */
    uint64_t sysenter_esp;          /* 230h */
    uint64_t sysenter_eip;          /* 238h */
    uint64_t cr2;                   /* 240h */
    uint8_t  reserved_248[0x268 - 0x248];
    uint64_t g_pat;                 /* 268h: guest PAT, used with nested paging */
    uint64_t dbgctl;                /* 270h */
    uint64_t br_from;               /* 278h */
    uint64_t br_to;                 /* 280h */
    uint64_t lastexcpfrom;          /* 288h */
    uint64_t lastexcpto;            /* 290h */
    uint8_t  reserved_298[0x2E0 - 0x298];
    uint64_t spec_ctrl;             /* 2E0h: guest SPEC_CTRL (V_SPEC_CTRL) */
};

#define VMCB_SAVE_SIZE 0x2E8u

/* The whole 4 Kbyte VMCB page. */
struct vmcb {
    struct vmcb_control control;    /* 000h */
    struct vmcb_save    save;       /* 400h */
    uint8_t reserved_tail[VMCB_SIZE - VMCB_CONTROL_SIZE - VMCB_SAVE_SIZE];
};

/* ------------------------------------------------------------------------ */
/* Layout checks against Table B-1 / Table B-2                              */
/* ------------------------------------------------------------------------ */
#define VMCB_CHECK_CTRL(field, off) \
    _Static_assert(offsetof(struct vmcb, control.field) == (off), \
                   "VMCB control." #field " is not at APM offset " #off)
#define VMCB_CHECK_SAVE(field, off) \
    _Static_assert(offsetof(struct vmcb_save, field) == (off) && \
                   offsetof(struct vmcb, save.field) == 0x400 + (off), \
                   "VMCB save." #field " is not at APM offset 400h+" #off)

/* Table B-1: control area. */
VMCB_CHECK_CTRL(intercept_cr,         0x000);
VMCB_CHECK_CTRL(intercept_dr,         0x004);
VMCB_CHECK_CTRL(intercept_exceptions, 0x008);
VMCB_CHECK_CTRL(intercept_misc1,      0x00C);
VMCB_CHECK_CTRL(intercept_misc2,      0x010);
VMCB_CHECK_CTRL(intercept_misc3,      0x014);
VMCB_CHECK_CTRL(pause_filter_thresh,  0x03C);
VMCB_CHECK_CTRL(pause_filter_count,   0x03E);
VMCB_CHECK_CTRL(iopm_base_pa,         0x040);
VMCB_CHECK_CTRL(msrpm_base_pa,        0x048);
VMCB_CHECK_CTRL(tsc_offset,           0x050);
VMCB_CHECK_CTRL(guest_asid,           0x058);
VMCB_CHECK_CTRL(tlb_control,          0x05C);
VMCB_CHECK_CTRL(int_ctl,              0x060);
VMCB_CHECK_CTRL(int_vector,           0x064);
VMCB_CHECK_CTRL(int_state,            0x068);
VMCB_CHECK_CTRL(exitcode,             0x070);
VMCB_CHECK_CTRL(exitinfo1,            0x078);
VMCB_CHECK_CTRL(exitinfo2,            0x080);
VMCB_CHECK_CTRL(exitintinfo,          0x088);
VMCB_CHECK_CTRL(nested_ctl,           0x090);
VMCB_CHECK_CTRL(avic_apic_bar,        0x098);
VMCB_CHECK_CTRL(ghcb_pa,              0x0A0);
VMCB_CHECK_CTRL(eventinj,             0x0A8);
VMCB_CHECK_CTRL(n_cr3,                0x0B0);
VMCB_CHECK_CTRL(virt_ext,             0x0B8);
VMCB_CHECK_CTRL(vmcb_clean,           0x0C0);
VMCB_CHECK_CTRL(nrip,                 0x0C8);
VMCB_CHECK_CTRL(guest_insn_len,       0x0D0);
VMCB_CHECK_CTRL(guest_insn_bytes,     0x0D1);
VMCB_CHECK_CTRL(avic_backing_page,    0x0E0);
VMCB_CHECK_CTRL(avic_logical_table,   0x0F0);
VMCB_CHECK_CTRL(avic_physical_table,  0x0F8);
VMCB_CHECK_CTRL(vmsa_pa,              0x108);
VMCB_CHECK_CTRL(vmgexit_rax,          0x110);
VMCB_CHECK_CTRL(vmgexit_cpl,          0x118);
VMCB_CHECK_CTRL(bus_lock_counter,     0x120);
VMCB_CHECK_CTRL(allowed_sev_features, 0x138);
VMCB_CHECK_CTRL(guest_sev_features,   0x140);
VMCB_CHECK_CTRL(reserved_host,        0x3E0);

/* Table B-2: state save area (offsets relative to 400h). */
VMCB_CHECK_SAVE(es,             0x000);
VMCB_CHECK_SAVE(cs,             0x010);
VMCB_CHECK_SAVE(ss,             0x020);
VMCB_CHECK_SAVE(ds,             0x030);
VMCB_CHECK_SAVE(fs,             0x040);
VMCB_CHECK_SAVE(gs,             0x050);
VMCB_CHECK_SAVE(gdtr,           0x060);
VMCB_CHECK_SAVE(ldtr,           0x070);
VMCB_CHECK_SAVE(idtr,           0x080);
VMCB_CHECK_SAVE(tr,             0x090);
VMCB_CHECK_SAVE(vmpl,           0x0CA);
VMCB_CHECK_SAVE(cpl,            0x0CB);
VMCB_CHECK_SAVE(efer,           0x0D0);
VMCB_CHECK_SAVE(cr4,            0x148);
VMCB_CHECK_SAVE(cr3,            0x150);
VMCB_CHECK_SAVE(cr0,            0x158);
VMCB_CHECK_SAVE(dr7,            0x160);
VMCB_CHECK_SAVE(dr6,            0x168);
VMCB_CHECK_SAVE(rflags,         0x170);
VMCB_CHECK_SAVE(rip,            0x178);
VMCB_CHECK_SAVE(rsp,            0x1D8);
VMCB_CHECK_SAVE(s_cet,          0x1E0);
VMCB_CHECK_SAVE(ssp,            0x1E8);
VMCB_CHECK_SAVE(isst_addr,      0x1F0);
VMCB_CHECK_SAVE(rax,            0x1F8);
VMCB_CHECK_SAVE(star,           0x200);
VMCB_CHECK_SAVE(lstar,          0x208);
VMCB_CHECK_SAVE(cstar,          0x210);
VMCB_CHECK_SAVE(sfmask,         0x218);
VMCB_CHECK_SAVE(kernel_gs_base, 0x220);
VMCB_CHECK_SAVE(sysenter_cs,    0x228);
VMCB_CHECK_SAVE(sysenter_esp,   0x230);
VMCB_CHECK_SAVE(sysenter_eip,   0x238);
VMCB_CHECK_SAVE(cr2,            0x240);
VMCB_CHECK_SAVE(g_pat,          0x268);
VMCB_CHECK_SAVE(dbgctl,         0x270);
VMCB_CHECK_SAVE(br_from,        0x278);
VMCB_CHECK_SAVE(br_to,          0x280);
VMCB_CHECK_SAVE(lastexcpfrom,   0x288);
VMCB_CHECK_SAVE(lastexcpto,     0x290);
VMCB_CHECK_SAVE(spec_ctrl,      0x2E0);

_Static_assert(offsetof(struct vmcb_seg, selector) == 0, "vmcb_seg.selector");
_Static_assert(offsetof(struct vmcb_seg, attrib) == 2, "vmcb_seg.attrib");
_Static_assert(offsetof(struct vmcb_seg, limit) == 4, "vmcb_seg.limit");
_Static_assert(offsetof(struct vmcb_seg, base) == 8, "vmcb_seg.base");
_Static_assert(sizeof(struct vmcb_seg) == 16, "vmcb_seg must be 16 bytes");
_Static_assert(sizeof(struct vmcb_control) == VMCB_CONTROL_SIZE,
               "VMCB control area must be exactly 1024 bytes");
_Static_assert(sizeof(struct vmcb_save) == VMCB_SAVE_SIZE,
               "VMCB save area must end right after SPEC_CTRL");
_Static_assert(offsetof(struct vmcb, save) == VMCB_SAVE_OFFSET,
               "VMCB save area must start at 400h");
_Static_assert(sizeof(struct vmcb) == VMCB_SIZE,
               "VMCB must be exactly one 4 Kbyte page");

#undef VMCB_CHECK_CTRL
#undef VMCB_CHECK_SAVE

/* A save area holding the host's own state after a #VMEXIT: RIP where the
 * host resumes after its VMRUN and the host's CR3. No guest state looks
 * like that; QEMU's multi-threaded TCG produces it when it loses cpu0's
 * nested-paging clear (docs/design.md, "QEMU's multi-threaded TCG"). */
static inline int vmcb_save_is_host_image(const struct vmcb_save *s, uint64_t host_resume_rip,
                                          uint64_t host_cr3)
{
    return s->rip == host_resume_rip && s->cr3 == host_cr3;
}
