/* VMCB fields in words, for the debug shell's `vcpu N`: fields by name
 * with their offsets (APM Vol. 2, Appendix B, Tables B-1 and B-2),
 * intercepts by the name of the exit they cause (Appendix C), and the
 * event fields (EVENTINJ and EXITINTINFO, 15.20 and 15.7.2) and int_ctl
 * (V_TPR, V_IRQ, ..., 15.21.1) decoded. Pure code over a struct vmcb,
 * unit-tested (tests/unit/test_vmcb_decode.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

struct vmcb_field {
    const char *name;
    uint16_t offset; /* in the control area, or the save area (+400h in the VMCB) */
    uint8_t size;    /* bytes: 1, 2, 4 or 8 */
};

/* The fields `vcpu N` shows, in offset order; *n gets the count. */
const struct vmcb_field *vmcb_control_fields(size_t *n);
const struct vmcb_field *vmcb_save_fields(size_t *n);
/* A field's value from its area (the control or the save area). */
uint64_t vmcb_field_value(const void *area, const struct vmcb_field *f);

/* Each writes a NUL-terminated text into buf (cut to n) and returns its
 * length as snprintf would. */
/* "none", or e.g. "exception 14 (#PF) error code 0x2", "NMI", "INTR 0x20". */
int vmcb_decode_event(uint64_t ev, char *buf, size_t n);
/* e.g. "V_TPR=0x0 V_IRQ V_INTR_PRIO=15 V_INTR_MASKING V_INTR_VECTOR=0x20". */
int vmcb_decode_int_ctl(uint32_t int_ctl, uint8_t vector, char *buf, size_t n);
/* The intercepts set, space separated: "CR0_WRITE EXCP_DB CPUID ...". */
int vmcb_intercept_names(const struct vmcb_control *c, char *buf, size_t n);
