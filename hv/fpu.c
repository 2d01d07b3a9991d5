#include "hv/fpu.h"
#include <stdint.h>
#include "arch/x86/cpu.h"

#define MXCSR_DEFAULT 0x1F80 /* all SIMD exceptions masked, round to nearest */

/* One CPU for now; becomes per-CPU state with SMP. */
static struct {
    uint8_t area[512] __attribute__((aligned(16)));
    bool saved; /* the guest's state is in area, the host owns the FPU */
} guest_fpu;

void fpu_host_enter(void)
{
    guest_fpu.saved = false;
    write_cr0(read_cr0() | CR0_TS);
}

bool fpu_handle_nm(void)
{
    if (!(read_cr0() & CR0_TS) || guest_fpu.saved)
        return false;
    clts();
    __asm__ volatile("fxsave64 %0" : "=m"(guest_fpu.area));
    /* Host code must not run with whatever the guest left in MXCSR or the
     * x87 control word (e.g. unmasked exceptions). */
    uint32_t mxcsr = MXCSR_DEFAULT;
    __asm__ volatile("fninit; ldmxcsr %0" ::"m"(mxcsr));
    guest_fpu.saved = true;
    return true;
}

void fpu_guest_restore(void)
{
    if (guest_fpu.saved) {
        __asm__ volatile("fxrstor64 %0" ::"m"(guest_fpu.area));
        guest_fpu.saved = false;
        write_cr0(read_cr0() | CR0_TS);
    }
}
