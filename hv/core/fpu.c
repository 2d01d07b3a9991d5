#include "hv/core/fpu.h"
#include <stdint.h>
#include "arch/x86/cpu.h"
#include "hv/core/percpu.h"

#define MXCSR_DEFAULT 0x1F80 /* all SIMD exceptions masked, round to nearest */

/* Before the boot CPU has a vCPU (its early init), the loader's state is
 * kept here; percpu_init() hands it to vCPU 0 (fpu_adopt_boot_state). */
static struct {
    uint8_t area[512] __attribute__((aligned(16)));
    bool saved;
} boot_fpu;

struct fpu_slot {
    uint8_t *area;
    bool *saved; /* the guest's state is in area, the host owns the FPU */
};

static struct fpu_slot slot_of(struct vcpu *v)
{
    if (!v)
        return (struct fpu_slot){ boot_fpu.area, &boot_fpu.saved };
    return (struct fpu_slot){ v->fpu_area, &v->fpu_saved };
}

void fpu_adopt_boot_state(struct vcpu *v)
{
    if (!boot_fpu.saved)
        return;
    for (unsigned i = 0; i < sizeof boot_fpu.area; i++)
        v->fpu_area[i] = boot_fpu.area[i];
    v->fpu_saved = true;
    boot_fpu.saved = false;
}

void fpu_host_enter(void)
{
    write_cr0(read_cr0() | CR0_TS);
}

bool fpu_handle_nm(void)
{
    struct fpu_slot s = slot_of(vcpu_current());
    if (!(read_cr0() & CR0_TS) || *s.saved)
        return false;
    clts();
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])s.area));
    /* Host code must not run with whatever the guest left in MXCSR or the
     * x87 control word (e.g. unmasked exceptions). */
    uint32_t mxcsr = MXCSR_DEFAULT;
    __asm__ volatile("fninit; ldmxcsr %0" ::"m"(mxcsr));
    *s.saved = true;
    return true;
}

void fpu_guest_restore_slow(struct vcpu *v)
{
    struct fpu_slot s = slot_of(v);
    if (*s.saved) {
        __asm__ volatile("fxrstor64 %0" ::"m"(*(uint8_t(*)[512])s.area));
        *s.saved = false;
        write_cr0(read_cr0() | CR0_TS);
    }
}
