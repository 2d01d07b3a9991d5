/* Protection of the guest's x87/SSE/AVX state from the host's own use.
 *
 * The core's files are built with -mgeneral-regs-only, but newlib (printf,
 * string functions) may use SSE. The host therefore runs with CR0.TS=1: the
 * first x87/SSE instruction the host executes raises #NM, whose handler
 * saves the guest's state with FXSAVE, clears TS and lets the host go on.
 * Before control goes back to the guest, fpu_guest_restore() reloads it and
 * sets TS again. Exits that never touch SSE pay nothing.
 *
 * FXSAVE (x87 + XMM0-15 + MXCSR) is enough: the host only runs legacy-SSE
 * code (newlib is built for baseline x86-64, no -mavx), and legacy SSE
 * instructions leave bits 255:128 of the YMM registers and all AVX-512 state
 * untouched (APM Vol. 1, 11.5), so those never need saving. Each CPU saves
 * into its own vCPU (struct vcpu). */
#pragma once
#include <stdbool.h>

void fpu_host_enter(void);
/* #NM handler; false if the #NM was not caused by the lazy scheme (a bug). */
bool fpu_handle_nm(void);
#include "hv/core/vcpu.h"
void fpu_guest_restore_slow(struct vcpu *v);
/* Before returning to the guest of vCPU v (NULL: the loader, before any
 * vCPU): reloads its state if the host used the FPU. */
static inline void fpu_guest_restore(struct vcpu *v)
{
    if (!v || __builtin_expect(v->fpu_saved, 0))
        fpu_guest_restore_slow(v);
}
/* percpu_init(): vCPU 0 takes over what the boot CPU saved before it. */
void fpu_adopt_boot_state(struct vcpu *v);
