#include "hv/nested_route.h"
#include "arch/x86/svm.h"

bool nested_exit_uses_map(uint64_t code)
{
    return code == VMEXIT_MSR || code == VMEXIT_IOIO;
}

static bool bit(uint32_t vector, uint64_t n)
{
    return (vector >> n) & 1;
}

bool nested_l1_intercepts(const struct vmcb_control *c12, uint64_t code, bool map_bit)
{
    if (code == VMEXIT_MSR)
        return (c12->intercept_misc1 & VMCB_INTERCEPT1_MSR_PROT) && map_bit;
    if (code == VMEXIT_IOIO)
        return (c12->intercept_misc1 & VMCB_INTERCEPT1_IOIO_PROT) && map_bit;
    if (code < 0x20)
        return bit(c12->intercept_cr, code);
    if (code < 0x40)
        return bit(c12->intercept_dr, code - 0x20);
    if (code < 0x60)
        return bit(c12->intercept_exceptions, code - 0x40);
    if (code < 0x80)
        return bit(c12->intercept_misc1, code - 0x60);
    if (code < 0xA0)
        return bit(c12->intercept_misc2, code - 0x80);
    if (code < 0xC0)
        return bit(c12->intercept_misc3, code - 0xA0);
    return false;
}
