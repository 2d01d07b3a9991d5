/* The L1 test program's shared helpers. */
#pragma once
#include <efi.h>
#include <efilib.h>
#include <stdint.h>
#include "hv/exit/hypercall_guest.h"

void say(const char *fmt, ...);
void check(int ok, const char *name, const char *fmt, ...);
int checks_failed(void);

/* Runs under our hypervisor (its CPUID signature)? Without it (config
 * `hypervisor = no`, the bare-TCG comparison) a hypercall would #UD. */
int hv_present(void);
/* A check that cannot run here, reported as such (never as a pass). */
void skip(const char *name, const char *why);

/* fault_catch.asm */
extern volatile uint64_t catch_vector, catch_error, catch_skip;
void catch_install(void);
void catch_remove(void);

/* The exception vector an MSR access raised (-1 for none). */
int64_t try_wrmsr(uint32_t msr, uint64_t val);
int64_t try_rdmsr(uint32_t msr, uint64_t *val);

void run_l1_checks(EFI_SYSTEM_TABLE *st);
void run_fpu_check(void);
void run_nested_checks(void);
void run_smp_checks(void);

/* nested_checks.c: L1 as a guest hypervisor. */
struct vmcb;
void l1_svm_enable(void);
void l1_vmcb12_init(struct vmcb *v, void *l2_rip);
/* NPT12 for L2: the identity, or with one page mapped to target. */
uint64_t l1_npt12_identity(void);
uint64_t l1_npt12_build_for(volatile void *page, uint64_t target, uint64_t flags);
/* conformance_checks.c (hv_region: 0 when bare) */
void run_conformance_checks(uint64_t hv_region);
/* security_checks.c: after the conformance scenarios, or alone */
void run_security_checks(uint64_t hv_region);
void run_security_mode(void);
