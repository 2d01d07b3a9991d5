/*
 * vmcb12_check.h - consistency checks on L1's VMCB (VMCB12) before a nested
 * VMRUN.
 *
 * When L1 executes VMRUN, the hypervisor reads L1's VMCB12 once into a
 * private copy and runs vmcb12_check() on that copy.  A failure must give L1
 * a #VMEXIT with EXITCODE = VMEXIT_INVALID (-1), exactly as a real CPU does
 * for an illegal guest state (AMD APM Vol. 2 15.5.1 "VMRUN Instruction",
 * "Canonicalization and Consistency Checks"); it is never a host error.
 * Checking the copy, not L1's page, is what makes this safe: L1 (or another
 * L1 vCPU) cannot change a field between the check and its use.
 *
 * The list has two parts, in this order:
 *   1. every VMRUN consistency check of the APM: the 15.5.1 list, the
 *      EVENTINJ rules of 15.20 and the vNMI rule of 15.21.10;
 *   2. our own refusals of features we do not virtualize for L2 (SEV, AVIC,
 *      LBR virtualization, ...) or did not advertise to L1 (nested paging,
 *      vGIF, vNMI), plus a few states no real execution can produce.  A
 *      real CPU might accept some of these; we answer VMEXIT_INVALID
 *      because we would otherwise have to run a state we cannot honour.
 * The names (vmcb12_check_names) say which part a check belongs to.
 *
 * Not checked here:
 *   - the VMCB address in rAX (4 KiB alignment, MAXPHYADDR): the CPU
 *     raises #GP in L1 for those, not VMEXIT_INVALID - the caller's job;
 *   - U_CET.SS with RFLAGS.VM (15.5.1): U_CET is not in a non-SEV-ES VMCB,
 *     so we refuse CR4.CET together with RFLAGS.VM instead (policy check);
 *   - VMCB clean bits: the copy is always checked whole, which the APM
 *     allows ("the final merged hardware state is used");
 *   - TLB_CONTROL encodings: the APM calls the others reserved but lists no
 *     VMRUN check; the caller interprets TLB_CONTROL itself anyway.
 *
 * Pure and freestanding: no libc, no global state; safe on any CPU.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/vmcb.h"

/*
 * What L1 was told about its virtual CPU.  All fields describe L1's view:
 * phys_limit is L1's guest-physical address space, not the host's.
 * Zero-initialize and set what applies: a field left 0/false refuses the
 * corresponding feature.
 */
struct vmcb12_check_env {
    uint64_t phys_limit;     /* 1 << MAXPHYADDR of L1's guest-physical space */
    uint32_t nasid;          /* ASIDs advertised to L1 (valid: 1..nasid-1) */
    uint64_t efer_supported; /* EFER bits the CPU has (MBZ = the rest) */
    uint64_t cr4_supported;  /* CR4 bits the CPU has; CR4.CET here also
                                makes #CP an injectable exception */
    bool np_allowed;         /* nested paging advertised to L1 */
    bool vgif_allowed;       /* vGIF advertised to L1 */
    bool vnmi_allowed;       /* vNMI advertised to L1 (CPUID 8000_000A EDX[25]) */
};

/* Check identifiers, in the order vmcb12_check() evaluates them. */
enum vmcb12_check_id {
    /* APM Vol. 2 15.5.1 / 15.20 / 15.21.10: the CPU's own checks. */
    VMCB12_CHK_EFER_SVME,
    VMCB12_CHK_CR0_CD_NW,
    VMCB12_CHK_CR0_HIGH,
    VMCB12_CHK_CR3_MBZ,
    VMCB12_CHK_CR4_MBZ,
    VMCB12_CHK_DR6_HIGH,
    VMCB12_CHK_DR7_HIGH,
    VMCB12_CHK_EFER_NO_LM,
    VMCB12_CHK_EFER_MBZ,
    VMCB12_CHK_LM_NO_PAE,
    VMCB12_CHK_LM_NO_PE,
    VMCB12_CHK_LM_CS_L_D,
    VMCB12_CHK_VMRUN_INTERCEPT,
    VMCB12_CHK_MSRPM_RANGE,
    VMCB12_CHK_IOPM_RANGE,
    VMCB12_CHK_EVENTINJ_TYPE,
    VMCB12_CHK_EVENTINJ_VECTOR,
    VMCB12_CHK_ASID_ZERO,
    VMCB12_CHK_S_CET_RSVD,
    VMCB12_CHK_CET_NO_WP,
    VMCB12_CHK_VNMI_NO_NMI_INTERCEPT,
    /* Our policy. */
    VMCB12_CHK_CET_VM86,
    VMCB12_CHK_ASID_RANGE,
    VMCB12_CHK_NP_NOT_ALLOWED,
    VMCB12_CHK_NCR3_RANGE,
    VMCB12_CHK_SEV,
    VMCB12_CHK_SEV_ES,
    VMCB12_CHK_NESTED_CTL_OTHER,
    VMCB12_CHK_AVIC,
    VMCB12_CHK_X2AVIC,
    VMCB12_CHK_VGIF_NOT_ALLOWED,
    VMCB12_CHK_VNMI_NOT_ALLOWED,
    VMCB12_CHK_LBR_VIRT,
    VMCB12_CHK_V_VMSAVE_VMLOAD,
    VMCB12_CHK_VIRT_EXT_OTHER,
    VMCB12_CHECK_COUNT
};

/*
 * NULL if the copy passes every check, else the name of the first failing
 * check (a static string from vmcb12_check_names, e.g. "EFER.SVME is
 * zero").  The caller then writes VMEXIT_INVALID into L1's VMCB12.
 */
const char *vmcb12_check(const struct vmcb *vmcb12,
                         const struct vmcb12_check_env *env);

/*
 * True if check `id` (an enum vmcb12_check_id) fails on this VMCB,
 * independently of the others; false for an unknown id.  For tests and for
 * logging every failing check, not just the first.
 */
bool vmcb12_check_fails(const struct vmcb *vmcb12,
                        const struct vmcb12_check_env *env, unsigned id);

/* Only the checks over fields every VMRUN reloads (EVENTINJ, ASID, RFLAGS,
 * S_CET, virt_ext): for a VMCB12 whose other groups are marked clean (APM
 * 15.15.3) and passed vmcb12_check() before. */
const char *vmcb12_check_reloaded(const struct vmcb *vmcb12,
                                  const struct vmcb12_check_env *env);

/* All check names, indexed by enum vmcb12_check_id. */
extern const char *const vmcb12_check_names[];
extern const unsigned vmcb12_check_count;

/*
 * The CPU ignores bits 11:0 of IOPM_BASE_PA and MSRPM_BASE_PA (APM Table
 * B-1), and the range check is done on the value with them cleared: the
 * caller must read L1's maps from this address too, never from the raw
 * field, or it would read up to 4 KiB past what was checked.
 */
#define VMCB12_BITMAP_BASE(pa)  ((pa) & ~UINT64_C(0xFFF))
