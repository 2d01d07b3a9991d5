/* From exit code to handler: one small handler per exit, in a table. */
#pragma once
#include "hv/core/vcpu.h"

typedef void (*exit_handler_fn)(struct vcpu *v);

void exit_dispatch(struct vcpu *v);
/* The handler for an exit code (exit_unexpected for codes L0 never asked for). */
exit_handler_fn exit_handler_for(uint64_t exitcode);

/* Handlers (hv/exit/exit_*.c). */
void exit_cpuid(struct vcpu *v);
void exit_msr(struct vcpu *v);
void exit_vmmcall(struct vcpu *v);
void exit_svm_insn(struct vcpu *v);
void exit_shutdown(struct vcpu *v);
void exit_npf(struct vcpu *v);
void exit_ioio(struct vcpu *v);
/* The ports exit_ioio watches: ACPI PM1a control (0 = none) and whether to
 * print the statistics when L1 resets or powers off. */
void ioio_init(uint16_t pm1a_cnt_port, int s5_sleep_type, bool print_stats);
/* The ACPI PM1a control port (0: unknown), for the shell's poweroff. */
uint16_t ioio_pm1a_port(void);
/* SLP_TYPa of the DSDT's \_S5 (the loader's scan), -1 when unknown. */
int ioio_s5_sleep_type(void);
void exit_unexpected(struct vcpu *v);
void exit_nmi(struct vcpu *v);
void exit_intr(struct vcpu *v);
/* L1's NMI masking: its IRET, and the single step after it (hv/exit/exit_nmi.c). */
void exit_iret(struct vcpu *v);
void exit_db(struct vcpu *v);
void exit_ac(struct vcpu *v);
/* A #DB/#AC held back behind a cut-off event (hv/exit/exit_debug.c). */
void exit_deferred_event(struct vcpu *v);
/* #SX: a physical INIT redirected by VM_CR.R_INIT (hv/exit/exit_init.c). */
void exit_init_sx(struct vcpu *v);
void init_redirect_enable(void);
