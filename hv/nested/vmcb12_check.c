/*
 * vmcb12_check.c - VMRUN consistency checks on L1's VMCB copy.  See
 * vmcb12_check.h.  Pure and freestanding: no libc, no global state.
 *
 * Every check is one line of the switch in vmcb12_check_fails(), named by
 * one entry of vmcb12_check_names[]; vmcb12_check() runs them in enum order
 * and reports the first failure.
 */
#include "hv/nested/vmcb12_check.h"

#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"

/* Control-register bits cpu.h does not name (APM Vol. 2 3.1.1, 3.7). */
#ifndef CR0_NW
#define CR0_NW (1ULL << 29)
#endif
#ifndef CR0_CD
#define CR0_CD (1ULL << 30)
#endif
#ifndef CR4_CET
#define CR4_CET (1ULL << 23)
#endif
#ifndef RFLAGS_VM
#define RFLAGS_VM (1ULL << 17)
#endif

#define HIGH32_MASK    0xFFFFFFFF00000000ULL
/* Bits 63:52 of a physical-address register are MBZ (APM 5.3.2, Fig 5-16). */
#define PA_MBZ_HIGH    0xFFF0000000000000ULL
#define PA_ADDR_BITS   0x000FFFFFFFFFF000ULL  /* 51:12, the table base */

/*
 * S_CET (VMCB 1E0h): the AMD APM defines only SH_STK_EN (bit 0) and
 * WR_SHSTK_EN (bit 1); AMD64 has no indirect-branch tracking, so bits 63:2
 * are reserved and 15.5.1 makes any of them set an illegal state.
 */
#define S_CET_DEFINED  0x3ULL

/*
 * Vectors an EVENTINJ of TYPE 3 may carry (15.20: the vector must
 * "correspond to an exception"; vector 2 is NMI, not an exception).  From
 * the AMD64 exception table (APM Vol. 2 8.2, Table 8-1): #DE 0, #DB 1,
 * #BP 3, #OF 4, #BR 5, #UD 6, #NM 7, #DF 8, #TS 10, #NP 11, #SS 12, #GP 13,
 * #PF 14, #MF 16, #AC 17, #MC 18, #XF 19, #CP 21, #HV 28, #VC 29, #SX 30.
 * Left out: 9 (coprocessor segment overrun, reserved on AMD64), 15, 20
 * (Intel's #VE), 22-27, 31. #CP and #VC are exceptions of the architecture
 * whether or not L2 could raise them itself (CET, SEV-ES): injecting one is
 * only a delivery through L2's IDT, which the CPU performs (issue 12).
 */
#define EXC_VALID_BASE ((1u << 0) | (1u << 1) | (1u << 3) | (1u << 4) |   \
                        (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8) |   \
                        (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | \
                        (1u << 14) | (1u << 16) | (1u << 17) | (1u << 18) | \
                        (1u << 19) | (1u << 21) | (1u << 28) | (1u << 29) | \
                        (1u << 30))

/* nested_ctl / virt_ext bits the checks below treat individually. */
#define NESTED_CTL_KNOWN (VMCB_NP_ENABLE | VMCB_SEV_ENABLE | VMCB_SEV_ES_ENABLE)
#define VIRT_EXT_KNOWN   (VMCB_LBR_VIRT_ENABLE | VMCB_V_VMSAVE_VMLOAD_ENABLE)

const char *const vmcb12_check_names[] = {
    /* APM Vol. 2 15.5.1 (and 15.20, 15.21.10 where noted). */
    [VMCB12_CHK_EFER_SVME]             = "EFER.SVME is zero",
    [VMCB12_CHK_CR0_CD_NW]             = "CR0.CD is zero and CR0.NW is set",
    [VMCB12_CHK_CR0_HIGH]              = "CR0[63:32] are not zero",
    [VMCB12_CHK_CR3_MBZ]               = "CR3 MBZ bit set",
    [VMCB12_CHK_CR4_MBZ]               = "CR4 MBZ or unsupported bit set",
    [VMCB12_CHK_DR6_HIGH]              = "DR6[63:32] are not zero",
    [VMCB12_CHK_DR7_HIGH]              = "DR7[63:32] are not zero",
    [VMCB12_CHK_EFER_NO_LM]            = "EFER.LME or EFER.LMA set without long mode",
    [VMCB12_CHK_EFER_MBZ]              = "EFER MBZ or unsupported bit set",
    [VMCB12_CHK_LM_NO_PAE]             = "EFER.LME and CR0.PG set, CR4.PAE zero",
    [VMCB12_CHK_LM_NO_PE]              = "EFER.LME and CR0.PG set, CR0.PE zero",
    [VMCB12_CHK_LM_CS_L_D]             = "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set",
    [VMCB12_CHK_VMRUN_INTERCEPT]       = "VMRUN intercept bit is clear",
    [VMCB12_CHK_MSRPM_RANGE]           = "MSRPM extends beyond MAXPHYADDR",
    [VMCB12_CHK_IOPM_RANGE]            = "IOPM extends beyond MAXPHYADDR",
    [VMCB12_CHK_EVENTINJ_TYPE]         = "EVENTINJ type is reserved",
    [VMCB12_CHK_EVENTINJ_VECTOR]       = "EVENTINJ exception vector is not an exception",
    [VMCB12_CHK_ASID_ZERO]             = "ASID is zero",
    [VMCB12_CHK_S_CET_RSVD]            = "S_CET reserved bit set",
    [VMCB12_CHK_CET_NO_WP]             = "CR4.CET set and CR0.WP zero",
    [VMCB12_CHK_VNMI_NO_NMI_INTERCEPT] = "V_NMI_ENABLE set and NMI intercept clear",
    /* Policy. */
    [VMCB12_CHK_CET_VM86]              = "policy: CR4.CET with RFLAGS.VM",
    [VMCB12_CHK_ASID_RANGE]            = "policy: ASID not below advertised count",
    [VMCB12_CHK_NP_NOT_ALLOWED]        = "policy: nested paging not advertised",
    [VMCB12_CHK_NCR3_RANGE]            = "policy: nCR3 beyond MAXPHYADDR",
    [VMCB12_CHK_SEV]                   = "policy: SEV not supported",
    [VMCB12_CHK_SEV_ES]                = "policy: SEV-ES not supported",
    [VMCB12_CHK_NESTED_CTL_OTHER]      = "policy: unsupported nested_ctl bit",
    [VMCB12_CHK_AVIC]                  = "policy: AVIC not supported",
    [VMCB12_CHK_X2AVIC]                = "policy: x2AVIC not supported",
    [VMCB12_CHK_VGIF_NOT_ALLOWED]      = "policy: vGIF not advertised",
    [VMCB12_CHK_VNMI_NOT_ALLOWED]      = "policy: vNMI not advertised",
    [VMCB12_CHK_LBR_VIRT]              = "policy: LBR virtualization not supported",
    [VMCB12_CHK_V_VMSAVE_VMLOAD]       = "policy: virtual VMSAVE/VMLOAD not supported",
    [VMCB12_CHK_VIRT_EXT_OTHER]        = "policy: unsupported virt_ext bit",
};

_Static_assert(sizeof(vmcb12_check_names) / sizeof(vmcb12_check_names[0]) ==
                   VMCB12_CHECK_COUNT,
               "one name per check");

const unsigned vmcb12_check_count = VMCB12_CHECK_COUNT;

/*
 * A physical-address register (CR3, nCR3) names memory at or above
 * MAXPHYADDR.  Bits 63:52 are MBZ outright; the unimplemented bits 51:M are
 * MBZ too (APM 5.3.2: "must clear the unimplemented upper bits").  Bits
 * 11:0 are flags/PCID and not part of the address.  Comparing the address
 * against the limit, rather than masking, stays correct for any limit.
 */
static bool pa_beyond_limit(uint64_t reg, uint64_t limit)
{
    return (reg & PA_MBZ_HIGH) || (reg & PA_ADDR_BITS) >= limit;
}

/*
 * 15.5.1: "The MSR or IOIO intercept tables extend to a physical address
 * that is greater than or equal to the maximum supported physical address."
 * The CPU ignores base bits 11:0 (Table B-1), so the table occupies
 * [base & ~FFFh, that + size).  Written as a subtraction so that a base
 * near 2^64 cannot wrap base + size around to a small, "valid" value.
 */
static bool table_beyond_limit(uint64_t base, uint64_t size, uint64_t limit)
{
    uint64_t b = VMCB12_BITMAP_BASE(base);

    return b >= limit || limit - b < size;
}

static uint64_t eventinj_type(uint64_t ev)
{
    return (ev & VMCB_EVENT_TYPE_MASK) >> VMCB_EVENT_TYPE_SHIFT;
}

/* 15.20, Table 15-11: types 0, 2, 3 and 4 are defined, 1 and 5-7 reserved.
 * Only judged when V is set: an invalid entry injects nothing. */
static bool eventinj_type_reserved(uint64_t ev)
{
    uint64_t t = eventinj_type(ev);

    return (ev & VMCB_EVENT_V) && (t == 1 || t >= 5);
}

/* 15.20: TYPE 3 with a vector that is not an exception. */
static bool eventinj_vector_bad(uint64_t ev)
{
    uint32_t valid = EXC_VALID_BASE;
    unsigned vec = vmcb_event_vector(ev);

    if (!(ev & VMCB_EVENT_V) ||
        vmcb_event_type(ev) != VMCB_EVENT_TYPE_EXCEPTION)
        return false;
    return vec >= 32 || !((valid >> vec) & 1u);
}

/* Inlined into vmcb12_check()'s unrolled loop, where the switch folds away
 * and the shared values below are computed once: a nested VMRUN pays for
 * the checks, not for dispatching them. */
static inline __attribute__((always_inline)) bool
check_one(const struct vmcb *vmcb12, const struct vmcb12_check_env *env, unsigned id)
{
    const struct vmcb_save *s = &vmcb12->save;
    const struct vmcb_control *c = &vmcb12->control;
    const uint64_t lim = env->phys_limit;
    const uint64_t nctl = c->nested_ctl;
    const uint32_t ictl = c->int_ctl;
    const uint64_t vext = c->virt_ext;
    const bool np = (nctl & VMCB_NP_ENABLE) != 0;
    const bool vnmi = (ictl & VMCB_INT_CTL_V_NMI_ENABLE) != 0;
    const bool vgif = (ictl & VMCB_INT_CTL_VGIF_ENABLE) != 0;
    const bool nmi_icpt = (c->intercept_misc1 & VMCB_INTERCEPT1_NMI) != 0;
    /* "EFER.LME and CR0.PG both set": the APM's long-mode condition.  The
     * CPU does not check EFER.LMA against it, so neither do we. */
    const bool lme_pg = (s->efer & EFER_LME) && (s->cr0 & CR0_PG);
    /* Long mode as the CPU model offers it; LMA rides on LME. */
    const bool lm_ok = (env->efer_supported & EFER_LME) != 0;
    const uint64_t efer_ok = env->efer_supported | EFER_LME | EFER_LMA;
    const bool cs_l_d = (s->cs.attrib & VMCB_SEG_ATTR_L) &&
                        (s->cs.attrib & VMCB_SEG_ATTR_DB);

    switch ((enum vmcb12_check_id)id) {
    /* ------------------------------------------- APM Vol. 2 15.5.1 */
    case VMCB12_CHK_EFER_SVME:       return !(s->efer & EFER_SVME);
    case VMCB12_CHK_CR0_CD_NW:       return !(s->cr0 & CR0_CD) && (s->cr0 & CR0_NW);
    case VMCB12_CHK_CR0_HIGH:        return (s->cr0 & HIGH32_MASK) != 0;
    /* Long mode: Fig 5-16 (63:52 MBZ, 51:M unimplemented).  Outside long
     * mode the same limit is policy: no execution can leave such bits in
     * CR3 (a long-mode MOV CR3 would #GP, a legacy one writes 32 bits,
     * Figs 5-2/5-3), and they become live as soon as the guest enables
     * long-mode paging without reloading CR3.  The legacy low bits (2:0,
     * 11:5) are "Reserved", not MBZ (5.2.1): not checked. */
    case VMCB12_CHK_CR3_MBZ:         return pa_beyond_limit(s->cr3, lim);
    case VMCB12_CHK_CR4_MBZ:         return (s->cr4 & ~env->cr4_supported) != 0;
    case VMCB12_CHK_DR6_HIGH:        return (s->dr6 & HIGH32_MASK) != 0;
    case VMCB12_CHK_DR7_HIGH:        return (s->dr7 & HIGH32_MASK) != 0;
    case VMCB12_CHK_EFER_NO_LM:      return (s->efer & (EFER_LME | EFER_LMA)) && !lm_ok;
    /* LME/LMA are judged by the check above, so the two never overlap. */
    case VMCB12_CHK_EFER_MBZ:        return (s->efer & ~efer_ok) != 0;
    case VMCB12_CHK_LM_NO_PAE:       return lme_pg && !(s->cr4 & CR4_PAE);
    case VMCB12_CHK_LM_NO_PE:        return lme_pg && !(s->cr0 & CR0_PE);
    case VMCB12_CHK_LM_CS_L_D:       return lme_pg && (s->cr4 & CR4_PAE) && cs_l_d;
    case VMCB12_CHK_VMRUN_INTERCEPT: return !(c->intercept_misc2 & VMCB_INTERCEPT2_VMRUN);
    case VMCB12_CHK_MSRPM_RANGE:     return table_beyond_limit(c->msrpm_base_pa, MSRPM_SIZE, lim);
    case VMCB12_CHK_IOPM_RANGE:      return table_beyond_limit(c->iopm_base_pa, IOPM_SIZE, lim);
    case VMCB12_CHK_EVENTINJ_TYPE:   return eventinj_type_reserved(c->eventinj);
    case VMCB12_CHK_EVENTINJ_VECTOR: return eventinj_vector_bad(c->eventinj);
    case VMCB12_CHK_ASID_ZERO:       return c->guest_asid == 0;
    case VMCB12_CHK_S_CET_RSVD:      return (s->s_cet & ~S_CET_DEFINED) != 0;
    case VMCB12_CHK_CET_NO_WP:       return (s->cr4 & CR4_CET) && !(s->cr0 & CR0_WP);
    /* 15.21.10: vNMI needs the NMI intercept, or VMRUN fails. */
    case VMCB12_CHK_VNMI_NO_NMI_INTERCEPT: return vnmi && !nmi_icpt;
    /* ------------------------------------------------------ policy */
    /* 15.5.1 forbids CR4.CET with U_CET.SS and RFLAGS.VM, but U_CET is
     * not in a non-SEV-ES VMCB: refuse the pair whatever U_CET holds. */
    case VMCB12_CHK_CET_VM86:        return (s->cr4 & CR4_CET) && (s->rflags & RFLAGS_VM);
    /* L1 was told ASIDs 1..nasid-1 exist (CPUID 8000_000A EBX). */
    case VMCB12_CHK_ASID_RANGE:      return c->guest_asid >= env->nasid;
    case VMCB12_CHK_NP_NOT_ALLOWED:  return np && !env->np_allowed;
    /* The nested walk starts at nCR3 in L1's space: keep it inside. */
    case VMCB12_CHK_NCR3_RANGE:      return np && pa_beyond_limit(c->n_cr3, lim);
    case VMCB12_CHK_SEV:             return (nctl & VMCB_SEV_ENABLE) != 0;
    case VMCB12_CHK_SEV_ES:          return (nctl & VMCB_SEV_ES_ENABLE) != 0;
    case VMCB12_CHK_NESTED_CTL_OTHER: return (nctl & ~NESTED_CTL_KNOWN) != 0;
    case VMCB12_CHK_AVIC:            return (ictl & VMCB_INT_CTL_AVIC_ENABLE) != 0;
    case VMCB12_CHK_X2AVIC:          return (ictl & VMCB_INT_CTL_X2AVIC_ENABLE) != 0;
    case VMCB12_CHK_VGIF_NOT_ALLOWED: return vgif && !env->vgif_allowed;
    case VMCB12_CHK_VNMI_NOT_ALLOWED: return vnmi && !env->vnmi_allowed;
    case VMCB12_CHK_LBR_VIRT:        return (vext & VMCB_LBR_VIRT_ENABLE) != 0;
    case VMCB12_CHK_V_VMSAVE_VMLOAD: return (vext & VMCB_V_VMSAVE_VMLOAD_ENABLE) != 0;
    case VMCB12_CHK_VIRT_EXT_OTHER:  return (vext & ~VIRT_EXT_KNOWN) != 0;
    case VMCB12_CHECK_COUNT:         break;
    }
    return false;
}

bool vmcb12_check_fails(const struct vmcb *vmcb12,
                        const struct vmcb12_check_env *env, unsigned id)
{
    return check_one(vmcb12, env, id);
}

/* The checks that read only fields a VMRUN reloads whatever the VMCB clean
 * bits say (EVENTINJ, ASID, RFLAGS with CET, S_CET, virt_ext): all a VMRUN
 * needs when every other group is clean and was checked before. */
static const uint8_t volatile_ids[] = {
    VMCB12_CHK_EVENTINJ_TYPE, VMCB12_CHK_EVENTINJ_VECTOR, VMCB12_CHK_ASID_ZERO,
    VMCB12_CHK_S_CET_RSVD, VMCB12_CHK_CET_VM86, VMCB12_CHK_ASID_RANGE,
    VMCB12_CHK_LBR_VIRT, VMCB12_CHK_V_VMSAVE_VMLOAD, VMCB12_CHK_VIRT_EXT_OTHER,
};

const char *vmcb12_check_reloaded(const struct vmcb *vmcb12,
                                  const struct vmcb12_check_env *env)
{
#pragma GCC unroll 16
    for (unsigned i = 0; i < sizeof volatile_ids; i++)
        if (check_one(vmcb12, env, volatile_ids[i]))
            return vmcb12_check_names[volatile_ids[i]];
    return NULL;
}

const char *vmcb12_check(const struct vmcb *vmcb12,
                         const struct vmcb12_check_env *env)
{
#pragma GCC unroll 64
    for (unsigned id = 0; id < VMCB12_CHECK_COUNT; id++)
        if (check_one(vmcb12, env, id))
            return vmcb12_check_names[id];
    return NULL;
}
