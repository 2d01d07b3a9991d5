/*
 * Unit tests for hv/nested/vmcb12_check.c (AMD APM Vol. 2 15.5.1 "Canonicalization
 * and Consistency Checks", 15.20 EVENTINJ, 15.21.10 vNMI, plus our policy).
 *
 * Shape: three known-good VMCB12s (64-bit long mode, 32-bit protected mode,
 * real mode) must pass; then a table of cases, each breaking exactly one
 * thing in one of them.  For a failing case the runner asserts the exact
 * name returned AND that no other check fails on that VMCB, so a case
 * cannot pass by accident through a neighbouring check.  Every name in
 * vmcb12_check_names must be the expected result of some case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"
#include "arch/x86/vmcb.h"
#include "hv/nested/vmcb12_check.h"
#include "tests/unit/vmcb12_fixture.h"

#define PHYS_LIMIT     (1ULL << 48)   /* MAXPHYADDR 48 for the default L1 */
#define NASID          16u

/* CR4 bits a typical Zen CPU has, without CET (23) and LA57 (12). */
#define CR4_SUPPORTED  (0x7FFULL | (1ULL << 11) | (1ULL << 16) | CR4_PCIDE | \
                        (1ULL << 18) | (1ULL << 20) | (1ULL << 21) | (1ULL << 22))
#define EFER_SUPPORTED (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME | \
                        EFER_FFXSR)

static struct vmcb12_check_env default_env(void)
{
    struct vmcb12_check_env e;

    memset(&e, 0, sizeof(e));
    e.phys_limit = PHYS_LIMIT;
    e.nasid = NASID;
    e.efer_supported = EFER_SUPPORTED;
    e.cr4_supported = CR4_SUPPORTED;
    e.np_allowed = true;
    e.vgif_allowed = true;
    e.vnmi_allowed = false;
    return e;
}

/* Reports every failing check before failing the test: a clearer message
 * than a bare pointer comparison. */
static void expect_pass(const struct vmcb *v, const struct vmcb12_check_env *e)
{
    const char *got = vmcb12_check(v, e);

    for (unsigned id = 0; id < vmcb12_check_count; id++)
        if (vmcb12_check_fails(v, e, id))
            print_error("  failing check %u: %s\n", id, vmcb12_check_names[id]);
    if (got)
        fail_msg("expected pass, got \"%s\"", got);
}

static void expect_only(const struct vmcb *v, const struct vmcb12_check_env *e,
                        const char *name)
{
    const char *got = vmcb12_check(v, e);

    if (!got)
        fail_msg("expected \"%s\", got pass", name);
    assert_string_equal(got, name);
    for (unsigned id = 0; id < vmcb12_check_count; id++) {
        bool should = strcmp(vmcb12_check_names[id], name) == 0;
        if (vmcb12_check_fails(v, e, id) != should)
            fail_msg("check \"%s\" %s, but the case targets \"%s\"",
                     vmcb12_check_names[id], should ? "passes" : "also fails",
                     name);
    }
}

static void test_valid_long_mode_passes(void **state)
{
    struct vmcb v;
    struct vmcb12_check_env e = default_env();

    (void)state;
    make_long_mode(&v);
    expect_pass(&v, &e);
}

static void test_valid_prot32_passes(void **state)
{
    struct vmcb v;
    struct vmcb12_check_env e = default_env();

    (void)state;
    make_prot32(&v);
    expect_pass(&v, &e);
}

static void test_valid_real_mode_passes(void **state)
{
    struct vmcb v;
    struct vmcb12_check_env e = default_env();

    (void)state;
    make_real(&v);
    expect_pass(&v, &e);
    /* Also without long-mode support at all (a 32-bit-only CPU model). */
    e.efer_supported = EFER_SVME | EFER_SCE | EFER_NXE;
    expect_pass(&v, &e);
}

/* ------------------------------------------------------------- cases */

enum base { LONG, PROT32, REAL };

struct tcase {
    const char *label;
    enum base base;
    void (*mutate)(struct vmcb *v, struct vmcb12_check_env *e);
    const char *expect;  /* exact check name, or NULL: must pass */
};

#define MUT(fn, ...)                                                      \
    static void fn(struct vmcb *v, struct vmcb12_check_env *e)            \
    {                                                                     \
        (void)v;                                                          \
        (void)e;                                                          \
        __VA_ARGS__;                                                      \
    }

/* APM 15.5.1 */
MUT(m_svme_clear, v->save.efer &= ~EFER_SVME)
MUT(m_nw_without_cd, v->save.cr0 |= CR0_NW)
MUT(m_cd_and_nw, v->save.cr0 |= CR0_CD | CR0_NW)
MUT(m_cd_only, v->save.cr0 |= CR0_CD)
MUT(m_real_nw_only, v->save.cr0 &= ~CR0_CD)
MUT(m_cr0_bit32, v->save.cr0 |= 1ULL << 32)
MUT(m_cr0_bit63, v->save.cr0 |= 1ULL << 63)
MUT(m_cr3_at_limit, v->save.cr3 = PHYS_LIMIT)
MUT(m_cr3_below_limit, v->save.cr3 = (PHYS_LIMIT - 0x1000) | 0x18)
MUT(m_cr3_bit63, v->save.cr3 |= 1ULL << 63)
MUT(m_cr3_bit52_wide, e->phys_limit = 1ULL << 52; v->save.cr3 |= 1ULL << 52)
MUT(m_cr3_top_wide, e->phys_limit = 1ULL << 52;
    v->save.cr3 = (1ULL << 52) - 0x1000)
MUT(m_cr3_low_reserved, v->save.cr3 |= 0xFE7)      /* 11:5, 2:0, PCIDE=0 */
MUT(m_cr3_pcid, v->save.cr4 |= CR4_PCIDE; v->save.cr3 |= 0xFFF)
MUT(m_prot32_cr3_high, v->save.cr3 = 0x100000000ULL)  /* left long mode */
MUT(m_prot32_cr3_at_limit, v->save.cr3 = PHYS_LIMIT)
MUT(m_prot32_pae_cr3_low, v->save.cr4 |= CR4_PAE; v->save.cr3 = 0x1007)
MUT(m_cr4_la57, v->save.cr4 |= CR4_LA57)
MUT(m_cr4_bit63, v->save.cr4 |= 1ULL << 63)
MUT(m_cr4_cet_unsupported, v->save.cr4 |= CR4_CET)
MUT(m_dr6_bit32, v->save.dr6 |= 1ULL << 32)
MUT(m_dr7_bit63, v->save.dr7 |= 1ULL << 63)
MUT(m_no_lm_lme, e->efer_supported &= ~(EFER_LME | EFER_LMA);
    v->save.efer |= EFER_LME)
MUT(m_no_lm_lma, e->efer_supported &= ~(EFER_LME | EFER_LMA);
    v->save.efer |= EFER_LMA)
MUT(m_efer_bit1, v->save.efer |= 1ULL << 1)
MUT(m_efer_lmsle, v->save.efer |= EFER_LMSLE)   /* not in EFER_SUPPORTED */
MUT(m_efer_bit63, v->save.efer |= 1ULL << 63)
MUT(m_lm_no_pae, v->save.cr4 &= ~CR4_PAE)
MUT(m_lm_no_pe, v->save.cr0 &= ~CR0_PE)
MUT(m_cs_l_and_d, v->save.cs.attrib |= VMCB_SEG_ATTR_DB)
/* PAE=0: only the PAE check may fire, the CS.L/CS.D one needs all five. */
MUT(m_no_pae_cs_l_and_d, v->save.cr4 &= ~CR4_PAE;
    v->save.cs.attrib |= VMCB_SEG_ATTR_DB)
MUT(m_cs_compat, v->save.cs.attrib = (uint16_t)((v->save.cs.attrib &
                                      ~VMCB_SEG_ATTR_L) | VMCB_SEG_ATTR_DB))
MUT(m_prot32_cs_l_and_d, v->save.cs.attrib |= VMCB_SEG_ATTR_L)
MUT(m_lme_no_pg, v->save.efer = EFER_SVME | EFER_LME;    /* about to enter LM */
    v->save.cr0 &= ~CR0_PG)
MUT(m_paged_real, v->save.cr0 |= CR0_PG)                 /* PE=0 PG=1: 15.19 */
MUT(m_no_vmrun_icpt, v->control.intercept_misc2 &= ~VMCB_INTERCEPT2_VMRUN)
MUT(m_msrpm_last_fit, v->control.msrpm_base_pa = PHYS_LIMIT - MSRPM_SIZE)
MUT(m_msrpm_low_bits, v->control.msrpm_base_pa = PHYS_LIMIT - MSRPM_SIZE + 1)
MUT(m_msrpm_low_fff, v->control.msrpm_base_pa = PHYS_LIMIT - MSRPM_SIZE + 0xFFF)
MUT(m_msrpm_next_page, v->control.msrpm_base_pa = PHYS_LIMIT - MSRPM_SIZE + 0x1000)
MUT(m_msrpm_at_limit, v->control.msrpm_base_pa = PHYS_LIMIT)
MUT(m_msrpm_wrap, v->control.msrpm_base_pa = 0xFFFFFFFFFFFFE000ULL)
MUT(m_msrpm_wrap2, v->control.msrpm_base_pa = 0xFFFFFFFFFFFFFFFFULL)
MUT(m_iopm_last_fit, v->control.iopm_base_pa = PHYS_LIMIT - IOPM_SIZE)
MUT(m_iopm_low_bits, v->control.iopm_base_pa = PHYS_LIMIT - IOPM_SIZE + 1)
MUT(m_iopm_next_page, v->control.iopm_base_pa = PHYS_LIMIT - IOPM_SIZE + 0x1000)
MUT(m_iopm_at_limit, v->control.iopm_base_pa = PHYS_LIMIT)
MUT(m_iopm_wrap, v->control.iopm_base_pa = 0xFFFFFFFFFFFFD000ULL)
MUT(m_evt_type1, v->control.eventinj = VMCB_EVENT_V | (1ULL << 8) | 32)
MUT(m_evt_type5, v->control.eventinj = VMCB_EVENT_V | (5ULL << 8) | 32)
MUT(m_evt_type7, v->control.eventinj = VMCB_EVENT_V | (7ULL << 8) | 32)
MUT(m_evt_type7_not_valid, v->control.eventinj = (7ULL << 8) | 2)
MUT(m_evt_exc_nmi, v->control.eventinj = vmcb_event_make(2, VMCB_EVENT_TYPE_EXCEPTION, 0, 0))
MUT(m_evt_exc_32, v->control.eventinj = vmcb_event_make(32, VMCB_EVENT_TYPE_EXCEPTION, 0, 0))
MUT(m_evt_exc_vc, v->control.eventinj = vmcb_event_make(29, VMCB_EVENT_TYPE_EXCEPTION, 1, 0))
MUT(m_evt_exc_cp_no_cet, v->control.eventinj = vmcb_event_make(21, VMCB_EVENT_TYPE_EXCEPTION, 1, 0))
MUT(m_evt_exc_cp_cet, e->cr4_supported |= CR4_CET;
    v->control.eventinj = vmcb_event_make(21, VMCB_EVENT_TYPE_EXCEPTION, 1, 0))
MUT(m_evt_exc_gp, v->control.eventinj = vmcb_event_make(13, VMCB_EVENT_TYPE_EXCEPTION, 1, 0))
MUT(m_evt_nmi, v->control.eventinj = vmcb_event_make(2, VMCB_EVENT_TYPE_NMI, 0, 0))
MUT(m_evt_intr, v->control.eventinj = vmcb_event_make(0x20, VMCB_EVENT_TYPE_INTR, 0, 0))
MUT(m_evt_soft, v->control.eventinj = vmcb_event_make(0x80, VMCB_EVENT_TYPE_SOFT_INT, 0, 0))
MUT(m_asid_zero, v->control.guest_asid = 0)
MUT(m_s_cet_bit2, v->save.s_cet = 1ULL << 2)
MUT(m_s_cet_ok, v->save.s_cet = 3)
MUT(m_cet_no_wp, e->cr4_supported |= CR4_CET; v->save.cr4 |= CR4_CET;
    v->save.cr0 &= ~CR0_WP)
MUT(m_cet_wp, e->cr4_supported |= CR4_CET; v->save.cr4 |= CR4_CET)
MUT(m_vnmi_no_icpt, e->vnmi_allowed = true;
    v->control.int_ctl |= VMCB_INT_CTL_V_NMI_ENABLE;
    v->control.intercept_misc1 &= ~VMCB_INTERCEPT1_NMI)
MUT(m_vnmi_ok, e->vnmi_allowed = true;
    v->control.int_ctl |= VMCB_INT_CTL_V_NMI_ENABLE)
/* Policy */
MUT(m_cet_vm86, e->cr4_supported |= CR4_CET; v->save.cr4 |= CR4_CET;
    v->save.rflags |= RFLAGS_VM)
MUT(m_vm86_no_cet, v->save.rflags |= RFLAGS_VM)
MUT(m_asid_last, v->control.guest_asid = NASID - 1)
MUT(m_asid_nasid, v->control.guest_asid = NASID)
MUT(m_asid_max, v->control.guest_asid = 0xFFFFFFFFu)
MUT(m_np_not_allowed, e->np_allowed = false;
    v->control.nested_ctl = VMCB_NP_ENABLE; v->control.n_cr3 = 0x5000)
MUT(m_np_ok, v->control.nested_ctl = VMCB_NP_ENABLE;
    v->control.n_cr3 = PHYS_LIMIT - 0x1000)
MUT(m_ncr3_at_limit, v->control.nested_ctl = VMCB_NP_ENABLE;
    v->control.n_cr3 = PHYS_LIMIT)
MUT(m_ncr3_ignored, v->control.n_cr3 = ~0ULL)            /* NP off */
MUT(m_sev, v->control.nested_ctl = VMCB_SEV_ENABLE)
MUT(m_sev_es, v->control.nested_ctl = VMCB_SEV_ES_ENABLE)
MUT(m_gmet, v->control.nested_ctl = VMCB_GMET_ENABLE)
MUT(m_nested_ctl_bit63, v->control.nested_ctl = 1ULL << 63)
MUT(m_avic, v->control.int_ctl |= VMCB_INT_CTL_AVIC_ENABLE)
MUT(m_x2avic, v->control.int_ctl |= VMCB_INT_CTL_X2AVIC_ENABLE)
MUT(m_vgif_not_allowed, e->vgif_allowed = false;
    v->control.int_ctl |= VMCB_INT_CTL_VGIF_ENABLE)
MUT(m_vgif_ok, v->control.int_ctl |= VMCB_INT_CTL_VGIF_ENABLE | VMCB_INT_CTL_VGIF)
MUT(m_vnmi_not_allowed, v->control.int_ctl |= VMCB_INT_CTL_V_NMI_ENABLE)
MUT(m_lbr_virt, v->control.virt_ext = VMCB_LBR_VIRT_ENABLE)
MUT(m_v_vmsave, v->control.virt_ext = VMCB_V_VMSAVE_VMLOAD_ENABLE)
MUT(m_ibs_virt, v->control.virt_ext = VMCB_IBS_VIRT_ENABLE)
MUT(m_virt_ext_bit63, v->control.virt_ext = 1ULL << 63)

#define N_EFER_SVME   "EFER.SVME is zero"
#define N_CD_NW       "CR0.CD is zero and CR0.NW is set"
#define N_CR0_HIGH    "CR0[63:32] are not zero"
#define N_CR3         "CR3 MBZ bit set"
#define N_CR4         "CR4 MBZ or unsupported bit set"
#define N_DR6         "DR6[63:32] are not zero"
#define N_DR7         "DR7[63:32] are not zero"
#define N_NO_LM       "EFER.LME or EFER.LMA set without long mode"
#define N_EFER_MBZ    "EFER MBZ or unsupported bit set"
#define N_LM_PAE      "EFER.LME and CR0.PG set, CR4.PAE zero"
#define N_LM_PE       "EFER.LME and CR0.PG set, CR0.PE zero"
#define N_LM_CS       "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set"
#define N_VMRUN       "VMRUN intercept bit is clear"
#define N_MSRPM       "MSRPM extends beyond MAXPHYADDR"
#define N_IOPM        "IOPM extends beyond MAXPHYADDR"
#define N_EVT_TYPE    "EVENTINJ type is reserved"
#define N_EVT_VEC     "EVENTINJ exception vector is not an exception"
#define N_ASID0       "ASID is zero"
#define N_S_CET       "S_CET reserved bit set"
#define N_CET_WP      "CR4.CET set and CR0.WP zero"
#define N_VNMI_ICPT   "V_NMI_ENABLE set and NMI intercept clear"
#define N_CET_VM86    "policy: CR4.CET with RFLAGS.VM"
#define N_ASID_RANGE  "policy: ASID not below advertised count"
#define N_NP          "policy: nested paging not advertised"
#define N_NCR3        "policy: nCR3 beyond MAXPHYADDR"
#define N_SEV         "policy: SEV not supported"
#define N_SEV_ES      "policy: SEV-ES not supported"
#define N_NCTL        "policy: unsupported nested_ctl bit"
#define N_AVIC        "policy: AVIC not supported"
#define N_X2AVIC      "policy: x2AVIC not supported"
#define N_VGIF        "policy: vGIF not advertised"
#define N_VNMI        "policy: vNMI not advertised"
#define N_LBR         "policy: LBR virtualization not supported"
#define N_VVMLOAD     "policy: virtual VMSAVE/VMLOAD not supported"
#define N_VEXT        "policy: unsupported virt_ext bit"

static const struct tcase cases[] = {
    /* APM 15.5.1 list, in order. */
    { "EFER.SVME clear",                 LONG,   m_svme_clear,          N_EFER_SVME },
    { "EFER.SVME clear (real mode)",     REAL,   m_svme_clear,          N_EFER_SVME },
    { "CR0.NW without CR0.CD",           LONG,   m_nw_without_cd,       N_CD_NW },
    { "CR0.NW without CR0.CD (real)",    REAL,   m_real_nw_only,        N_CD_NW },
    { "CR0.CD and CR0.NW ok",            LONG,   m_cd_and_nw,           NULL },
    { "CR0.CD alone ok",                 LONG,   m_cd_only,             NULL },
    { "CR0 bit 32",                      LONG,   m_cr0_bit32,           N_CR0_HIGH },
    { "CR0 bit 63",                      PROT32, m_cr0_bit63,           N_CR0_HIGH },
    { "CR3 at MAXPHYADDR",               LONG,   m_cr3_at_limit,        N_CR3 },
    { "CR3 last page below limit ok",    LONG,   m_cr3_below_limit,     NULL },
    { "CR3 bit 63",                      LONG,   m_cr3_bit63,           N_CR3 },
    { "CR3 bit 52, MAXPHYADDR 52",       LONG,   m_cr3_bit52_wide,      N_CR3 },
    { "CR3 top page, MAXPHYADDR 52 ok",  LONG,   m_cr3_top_wide,        NULL },
    { "CR3 reserved low bits ok",        LONG,   m_cr3_low_reserved,    NULL },
    { "CR3 PCID bits ok",                LONG,   m_cr3_pcid,            NULL },
    { "legacy CR3 above 4G ok",          PROT32, m_prot32_cr3_high,     NULL },
    { "legacy CR3 at MAXPHYADDR",        PROT32, m_prot32_cr3_at_limit, N_CR3 },
    { "legacy PAE CR3 bits 2:0 ok",      PROT32, m_prot32_pae_cr3_low,  NULL },
    { "CR4.LA57 unsupported",            LONG,   m_cr4_la57,            N_CR4 },
    { "CR4 bit 63",                      REAL,   m_cr4_bit63,           N_CR4 },
    { "CR4.CET unsupported",             LONG,   m_cr4_cet_unsupported, N_CR4 },
    { "DR6 bit 32",                      LONG,   m_dr6_bit32,           N_DR6 },
    { "DR7 bit 63",                      LONG,   m_dr7_bit63,           N_DR7 },
    { "EFER.LME without long mode",      REAL,   m_no_lm_lme,           N_NO_LM },
    { "EFER.LMA without long mode",      PROT32, m_no_lm_lma,           N_NO_LM },
    { "EFER bit 1",                      LONG,   m_efer_bit1,           N_EFER_MBZ },
    { "EFER.LMSLE unsupported",          LONG,   m_efer_lmsle,          N_EFER_MBZ },
    { "EFER bit 63",                     REAL,   m_efer_bit63,          N_EFER_MBZ },
    { "long mode without CR4.PAE",       LONG,   m_lm_no_pae,           N_LM_PAE },
    { "long mode without CR0.PE",        LONG,   m_lm_no_pe,            N_LM_PE },
    { "long mode CS.L and CS.D",         LONG,   m_cs_l_and_d,          N_LM_CS },
    { "no CR4.PAE, CS.L and CS.D",       LONG,   m_no_pae_cs_l_and_d,   N_LM_PAE },
    { "compatibility-mode CS ok",        LONG,   m_cs_compat,           NULL },
    { "CS.L and CS.D outside LM ok",     PROT32, m_prot32_cs_l_and_d,   NULL },
    { "EFER.LME, CR0.PG=0, PAE=0 ok",    PROT32, m_lme_no_pg,           NULL },
    { "paged real mode ok (15.19)",      REAL,   m_paged_real,          NULL },
    { "VMRUN intercept clear",           LONG,   m_no_vmrun_icpt,       N_VMRUN },
    { "MSRPM at limit-8K ok",            LONG,   m_msrpm_last_fit,      NULL },
    { "MSRPM at limit-8K+1 ok (11:0)",   LONG,   m_msrpm_low_bits,      NULL },
    { "MSRPM at limit-8K+FFFh ok",       LONG,   m_msrpm_low_fff,       NULL },
    { "MSRPM at limit-4K",               LONG,   m_msrpm_next_page,     N_MSRPM },
    { "MSRPM at limit",                  LONG,   m_msrpm_at_limit,      N_MSRPM },
    { "MSRPM base+size wraps",           LONG,   m_msrpm_wrap,          N_MSRPM },
    { "MSRPM all ones",                  LONG,   m_msrpm_wrap2,         N_MSRPM },
    { "IOPM at limit-12K ok",            LONG,   m_iopm_last_fit,       NULL },
    { "IOPM at limit-12K+1 ok (11:0)",   LONG,   m_iopm_low_bits,       NULL },
    { "IOPM at limit-8K",                LONG,   m_iopm_next_page,      N_IOPM },
    { "IOPM at limit",                   LONG,   m_iopm_at_limit,       N_IOPM },
    { "IOPM base+size wraps",            LONG,   m_iopm_wrap,           N_IOPM },
    /* APM 15.20 */
    { "EVENTINJ type 1",                 LONG,   m_evt_type1,           N_EVT_TYPE },
    { "EVENTINJ type 5",                 LONG,   m_evt_type5,           N_EVT_TYPE },
    { "EVENTINJ type 7",                 LONG,   m_evt_type7,           N_EVT_TYPE },
    { "EVENTINJ type 7 without V ok",    LONG,   m_evt_type7_not_valid, NULL },
    { "EVENTINJ exception vector 2",     LONG,   m_evt_exc_nmi,         N_EVT_VEC },
    { "EVENTINJ exception vector 32",    LONG,   m_evt_exc_32,          N_EVT_VEC },
    { "EVENTINJ #VC",                    LONG,   m_evt_exc_vc,          NULL },
    { "EVENTINJ #CP without CET",        LONG,   m_evt_exc_cp_no_cet,   NULL },
    { "EVENTINJ #CP with CET ok",        LONG,   m_evt_exc_cp_cet,      NULL },
    { "EVENTINJ #GP ok",                 LONG,   m_evt_exc_gp,          NULL },
    { "EVENTINJ NMI ok",                 LONG,   m_evt_nmi,             NULL },
    { "EVENTINJ INTR ok",                PROT32, m_evt_intr,            NULL },
    { "EVENTINJ INTn ok",                REAL,   m_evt_soft,            NULL },
    { "ASID zero",                       LONG,   m_asid_zero,           N_ASID0 },
    /* CET lines of 15.5.1 */
    { "S_CET bit 2",                     LONG,   m_s_cet_bit2,          N_S_CET },
    { "S_CET bits 1:0 ok",               LONG,   m_s_cet_ok,            NULL },
    { "CR4.CET without CR0.WP",          LONG,   m_cet_no_wp,           N_CET_WP },
    { "CR4.CET with CR0.WP ok",          LONG,   m_cet_wp,              NULL },
    /* APM 15.21.10 */
    { "vNMI without NMI intercept",      LONG,   m_vnmi_no_icpt,        N_VNMI_ICPT },
    { "vNMI with NMI intercept ok",      LONG,   m_vnmi_ok,             NULL },
    /* Policy */
    { "CR4.CET with RFLAGS.VM",          PROT32, m_cet_vm86,            N_CET_VM86 },
    { "RFLAGS.VM without CET ok",        PROT32, m_vm86_no_cet,         NULL },
    { "ASID nasid-1 ok",                 LONG,   m_asid_last,           NULL },
    { "ASID nasid",                      LONG,   m_asid_nasid,          N_ASID_RANGE },
    { "ASID 0xFFFFFFFF",                 LONG,   m_asid_max,            N_ASID_RANGE },
    { "NP not advertised",               LONG,   m_np_not_allowed,      N_NP },
    { "NP advertised ok",                LONG,   m_np_ok,               NULL },
    { "nCR3 at MAXPHYADDR",              LONG,   m_ncr3_at_limit,       N_NCR3 },
    { "nCR3 ignored without NP ok",      LONG,   m_ncr3_ignored,        NULL },
    { "SEV",                             LONG,   m_sev,                 N_SEV },
    { "SEV-ES",                          LONG,   m_sev_es,              N_SEV_ES },
    { "GMET",                            LONG,   m_gmet,                N_NCTL },
    { "nested_ctl bit 63",               LONG,   m_nested_ctl_bit63,    N_NCTL },
    { "AVIC",                            LONG,   m_avic,                N_AVIC },
    { "x2AVIC",                          LONG,   m_x2avic,              N_X2AVIC },
    { "vGIF not advertised",             LONG,   m_vgif_not_allowed,    N_VGIF },
    { "vGIF advertised ok",              LONG,   m_vgif_ok,             NULL },
    { "vNMI not advertised",             LONG,   m_vnmi_not_allowed,    N_VNMI },
    { "LBR virtualization",              LONG,   m_lbr_virt,            N_LBR },
    { "virtual VMSAVE/VMLOAD",           LONG,   m_v_vmsave,            N_VVMLOAD },
    { "IBS virtualization",              LONG,   m_ibs_virt,            N_VEXT },
    { "virt_ext bit 63",                 LONG,   m_virt_ext_bit63,      N_VEXT },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void build_case(const struct tcase *c, struct vmcb *v,
                       struct vmcb12_check_env *e)
{
    *e = default_env();
    switch (c->base) {
    case LONG:   make_long_mode(v); break;
    case PROT32: make_prot32(v); break;
    case REAL:   make_real(v); break;
    }
    c->mutate(v, e);
}

static void run_case(void **state)
{
    const struct tcase *c = *state;
    struct vmcb v;
    struct vmcb12_check_env e;

    build_case(c, &v, &e);
    if (c->expect)
        expect_only(&v, &e, c->expect);
    else
        expect_pass(&v, &e);
}

/* Every name is the target of at least one failing case. */
static void test_every_name_hit(void **state)
{
    bool hit[VMCB12_CHECK_COUNT] = { false };

    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        struct vmcb v;
        struct vmcb12_check_env e;
        const char *got;
        bool known = false;

        if (!cases[i].expect)
            continue;
        build_case(&cases[i], &v, &e);
        got = vmcb12_check(&v, &e);
        assert_non_null(got);
        for (unsigned id = 0; id < vmcb12_check_count; id++) {
            if (strcmp(vmcb12_check_names[id], cases[i].expect) == 0) {
                known = true;
                /* The pointer returned is the table entry itself. */
                assert_ptr_equal(got, vmcb12_check_names[id]);
                hit[id] = true;
            }
        }
        if (!known)
            fail_msg("case \"%s\" expects unknown name \"%s\"",
                     cases[i].label, cases[i].expect);
    }
    for (unsigned id = 0; id < vmcb12_check_count; id++)
        if (!hit[id])
            fail_msg("no test hits check %u \"%s\"", id,
                     vmcb12_check_names[id]);
}

static void test_names_table(void **state)
{
    (void)state;
    assert_int_equal(vmcb12_check_count, VMCB12_CHECK_COUNT);
    for (unsigned i = 0; i < vmcb12_check_count; i++) {
        const char *n = vmcb12_check_names[i];
        bool policy = strncmp(n, "policy: ", 8) == 0;

        assert_non_null(n);
        assert_true(strlen(n) > 0);
        /* APM checks first, then ours: the prefix says which is which. */
        assert_int_equal(policy, i >= VMCB12_CHK_CET_VM86);
        for (unsigned j = 0; j < i; j++)
            assert_string_not_equal(n, vmcb12_check_names[j]);
    }
}

/* With several faults, the first in list order is reported. */
static void test_first_failure_wins(void **state)
{
    struct vmcb v;
    struct vmcb12_check_env e = default_env();

    (void)state;
    make_long_mode(&v);
    v.control.guest_asid = 0;
    v.control.nested_ctl = VMCB_SEV_ENABLE;
    v.save.dr7 |= 1ULL << 40;
    assert_string_equal(vmcb12_check(&v, &e), N_DR7);
    v.save.efer &= ~EFER_SVME;
    assert_string_equal(vmcb12_check(&v, &e), N_EFER_SVME);
}

static void test_unknown_id(void **state)
{
    struct vmcb v;
    struct vmcb12_check_env e = default_env();

    (void)state;
    make_long_mode(&v);
    v.save.efer = 0;    /* fails plenty of real checks */
    assert_false(vmcb12_check_fails(&v, &e, VMCB12_CHECK_COUNT));
    assert_false(vmcb12_check_fails(&v, &e, ~0u));
}

/* All 256 vectors with TYPE 3: exactly the AMD64 exception vectors pass. */
static void test_eventinj_exception_vectors(void **state)
{
    /* APM Table 8-1: with or without CET, #CP and #VC included. */
    static const unsigned ok[] = { 0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13,
                                   14, 16, 17, 18, 19, 21, 28, 29, 30 };
    struct vmcb v;

    (void)state;
    for (int cet = 0; cet < 2; cet++) {
        struct vmcb12_check_env e = default_env();

        if (cet)
            e.cr4_supported |= CR4_CET;
        for (unsigned vec = 0; vec < 256; vec++) {
            bool want = false;

            for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                want |= vec == ok[i];
            make_long_mode(&v);
            v.control.eventinj = vmcb_event_make((uint8_t)vec,
                                                 VMCB_EVENT_TYPE_EXCEPTION,
                                                 1, 0x1234);
            if (want)
                expect_pass(&v, &e);
            else
                expect_only(&v, &e, N_EVT_VEC);
            /* The same vector is fine for every other defined type. */
            v.control.eventinj = vmcb_event_make((uint8_t)vec,
                                                 VMCB_EVENT_TYPE_INTR, 0, 0);
            expect_pass(&v, &e);
            v.control.eventinj = vmcb_event_make((uint8_t)vec,
                                                 VMCB_EVENT_TYPE_NMI, 0, 0);
            expect_pass(&v, &e);
            v.control.eventinj = vmcb_event_make((uint8_t)vec,
                                                 VMCB_EVENT_TYPE_SOFT_INT, 0, 0);
            expect_pass(&v, &e);
        }
    }
}

/* Every TYPE, with and without V; V clear never fails. */
static void test_eventinj_types(void **state)
{
    struct vmcb v;
    struct vmcb12_check_env e = default_env();

    (void)state;
    for (uint64_t t = 0; t < 8; t++) {
        bool reserved = t == 1 || t >= 5;

        make_long_mode(&v);
        /* Vector 14 (#PF) so TYPE 3 is legal too. */
        v.control.eventinj = VMCB_EVENT_V | (t << 8) | 14;
        if (reserved)
            expect_only(&v, &e, N_EVT_TYPE);
        else
            expect_pass(&v, &e);
        /* Invalid entry: the rest of the field is not looked at. */
        v.control.eventinj = (t << 8) | 2 | VMCB_EVENT_EV |
                             (0xFFFFFFFFULL << 32) | (0x7FFFFULL << 12);
        expect_pass(&v, &e);
    }
}

/* MSRPM/IOPM edges for several MAXPHYADDRs, from the last fitting page up. */
static void test_bitmap_limits(void **state)
{
    static const unsigned maxphy[] = { 32, 36, 40, 48, 52 };

    (void)state;
    for (size_t i = 0; i < sizeof(maxphy) / sizeof(maxphy[0]); i++) {
        uint64_t lim = 1ULL << maxphy[i];
        struct vmcb12_check_env e = default_env();
        struct vmcb v;

        e.phys_limit = lim;
        for (uint64_t off = 0; off <= 0x5000; off += 0x800) {
            make_long_mode(&v);
            v.control.msrpm_base_pa = lim - MSRPM_SIZE + off;
            if ((lim - MSRPM_SIZE + off) / 0x1000 * 0x1000 + MSRPM_SIZE <= lim)
                expect_pass(&v, &e);
            else
                expect_only(&v, &e, N_MSRPM);

            make_long_mode(&v);
            v.control.iopm_base_pa = lim - IOPM_SIZE + off;
            if ((lim - IOPM_SIZE + off) / 0x1000 * 0x1000 + IOPM_SIZE <= lim)
                expect_pass(&v, &e);
            else
                expect_only(&v, &e, N_IOPM);
        }
    }
}

/* The check only reads the copy. */
static void test_input_not_modified(void **state)
{
    static struct vmcb v, before;
    struct vmcb12_check_env e = default_env(), e_before;

    (void)state;
    make_long_mode(&v);
    v.control.eventinj = VMCB_EVENT_V | (5ULL << 8);
    v.save.cr0 |= 1ULL << 40;
    memcpy(&before, &v, sizeof(v));
    e_before = e;
    assert_non_null(vmcb12_check(&v, &e));
    for (unsigned id = 0; id <= vmcb12_check_count; id++)
        (void)vmcb12_check_fails(&v, &e, id);
    assert_memory_equal(&v, &before, sizeof(v));
    assert_memory_equal(&e, &e_before, sizeof(e));
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_valid_long_mode_passes),
        cmocka_unit_test(test_valid_prot32_passes),
        cmocka_unit_test(test_valid_real_mode_passes),
        cmocka_unit_test(test_names_table),
        cmocka_unit_test(test_every_name_hit),
        cmocka_unit_test(test_first_failure_wins),
        cmocka_unit_test(test_unknown_id),
        cmocka_unit_test(test_eventinj_exception_vectors),
        cmocka_unit_test(test_eventinj_types),
        cmocka_unit_test(test_bitmap_limits),
        cmocka_unit_test(test_input_not_modified),
    };
    enum { N_FIXED = sizeof(fixed) / sizeof(fixed[0]) };
    /* One named cmocka test per case, so a failure names the broken field. */
    static struct CMUnitTest tests[N_FIXED + N_CASES];

    for (size_t i = 0; i < N_FIXED; i++)
        tests[i] = fixed[i];
    for (size_t i = 0; i < N_CASES; i++) {
        tests[N_FIXED + i].name = cases[i].label;
        tests[N_FIXED + i].test_func = run_case;
        tests[N_FIXED + i].initial_state = (void *)&cases[i];
    }
    return _cmocka_run_group_tests("vmcb12_check", tests, N_FIXED + N_CASES,
                                   NULL, NULL);
}
