/* Known-good VMCB12s for the unit tests (three CPU modes), with the
 * architectural bits they use spelled out here rather than taken from the
 * code under test. Include after <string.h>, arch/x86/svm.h and
 * arch/x86/vmcb.h. */
#pragma once

/* Architectural bits, spelled out here (not taken from the code under test). */
#define CR0_PE   (1ULL << 0)
#define CR0_MP   (1ULL << 1)
#define CR0_ET   (1ULL << 4)
#define CR0_NE   (1ULL << 5)
#define CR0_WP   (1ULL << 16)
#define CR0_AM   (1ULL << 18)
#define CR0_NW   (1ULL << 29)
#define CR0_CD   (1ULL << 30)
#define CR0_PG   (1ULL << 31)

#define CR4_PSE        (1ULL << 4)
#define CR4_PAE        (1ULL << 5)
#define CR4_PGE        (1ULL << 7)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_LA57       (1ULL << 12)
#define CR4_PCIDE      (1ULL << 17)
#define CR4_CET        (1ULL << 23)

#define RFLAGS_FIXED1  (1ULL << 1)
#define RFLAGS_VM      (1ULL << 17)

static inline void set_seg(struct vmcb_seg *s, uint16_t sel, uint16_t attrib,
                           uint32_t limit, uint64_t base)
{
    s->selector = sel;
    s->attrib = attrib;
    s->limit = limit;
    s->base = base;
}

/* Control area every base shares: VMRUN intercepted, ASID 1, maps in range. */
static inline void common_control(struct vmcb *v)
{
    v->control.intercept_misc1 = VMCB_INTERCEPT1_INTR | VMCB_INTERCEPT1_NMI |
                                 VMCB_INTERCEPT1_IOIO_PROT |
                                 VMCB_INTERCEPT1_MSR_PROT |
                                 VMCB_INTERCEPT1_SHUTDOWN;
    v->control.intercept_misc2 = VMCB_INTERCEPT2_VMRUN |
                                 VMCB_INTERCEPT2_VMMCALL;
    v->control.guest_asid = 1;
    v->control.iopm_base_pa = 0x10000;
    v->control.msrpm_base_pa = 0x20000;
    v->control.int_ctl = VMCB_INT_CTL_V_INTR_MASKING;
    v->save.dr6 = 0xFFFF0FF0;
    v->save.dr7 = 0x400;
    v->save.rflags = RFLAGS_FIXED1;
    v->save.g_pat = 0x0007040600070406ULL;
}

/* 64-bit long mode, as a 64-bit OS kernel runs. */
static inline void make_long_mode(struct vmcb *v)
{
    uint16_t code64 = VMCB_SEG_ATTRIB(0xB, 1, 0, 1, 0, 1, 0, 1);
    uint16_t data = VMCB_SEG_ATTRIB(0x3, 1, 0, 1, 0, 0, 1, 1);

    memset(v, 0, sizeof(*v));
    common_control(v);
    v->save.efer = EFER_SVME | EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    v->save.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    v->save.cr4 = CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    v->save.cr3 = 0x1000;
    set_seg(&v->save.cs, 0x10, code64, 0xFFFFFFFF, 0);
    set_seg(&v->save.ss, 0x18, data, 0xFFFFFFFF, 0);
    set_seg(&v->save.ds, 0x18, data, 0xFFFFFFFF, 0);
    set_seg(&v->save.es, 0x18, data, 0xFFFFFFFF, 0);
    v->save.rip = 0xFFFFFFFF81000000ULL;
}

/* 32-bit protected mode with non-PAE paging, EFER.LME = 0. */
static inline void make_prot32(struct vmcb *v)
{
    uint16_t code32 = VMCB_SEG_ATTRIB(0xB, 1, 0, 1, 0, 0, 1, 1);
    uint16_t data = VMCB_SEG_ATTRIB(0x3, 1, 0, 1, 0, 0, 1, 1);

    memset(v, 0, sizeof(*v));
    common_control(v);
    v->save.efer = EFER_SVME;
    v->save.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    v->save.cr4 = CR4_PSE | CR4_PGE;
    v->save.cr3 = 0x00400000;
    set_seg(&v->save.cs, 0x08, code32, 0xFFFFFFFF, 0);
    set_seg(&v->save.ss, 0x10, data, 0xFFFFFFFF, 0);
    set_seg(&v->save.ds, 0x10, data, 0xFFFFFFFF, 0);
    set_seg(&v->save.es, 0x10, data, 0xFFFFFFFF, 0);
    v->save.rip = 0x00100000;
}

/* Real mode as after RESET: CR0 = 6000_0010h (CD and NW set), no paging. */
static inline void make_real(struct vmcb *v)
{
    uint16_t code16 = VMCB_SEG_ATTRIB(0xB, 1, 0, 1, 0, 0, 0, 0);
    uint16_t data16 = VMCB_SEG_ATTRIB(0x3, 1, 0, 1, 0, 0, 0, 0);

    memset(v, 0, sizeof(*v));
    common_control(v);
    v->save.efer = EFER_SVME;
    v->save.cr0 = CR0_CD | CR0_NW | CR0_ET;
    v->save.cr4 = 0;
    v->save.cr3 = 0;
    set_seg(&v->save.cs, 0xF000, code16, 0xFFFF, 0xF0000);
    set_seg(&v->save.ss, 0, data16, 0xFFFF, 0);
    set_seg(&v->save.ds, 0, data16, 0xFFFF, 0);
    set_seg(&v->save.es, 0, data16, 0xFFFF, 0);
    v->save.rip = 0xFFF0;
}

