/* Host exceptions: the frame built by arch/x86/exception_stubs.asm and the
 * crash dump. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include "boot/config.h"

struct exc_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
_Static_assert(offsetof(struct exc_frame, vector) == 15 * 8, "stub frame layout");
_Static_assert(sizeof(struct exc_frame) == 22 * 8, "stub frame layout");

void exception_init(enum fault_action action, uint64_t stack_lo, uint64_t stack_hi);
void exception_dispatch(struct exc_frame *f);
const char *exception_name(unsigned vector);
/* What to do after a fatal error has been reported: halt or reset. */
__attribute__((noreturn)) void hv_fatal_stop(void);
