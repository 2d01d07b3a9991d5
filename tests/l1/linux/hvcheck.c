/* hvcheck: run inside the L1 Linux guest (the initramfs of
 * tests/integration/test_linux.py) to show which hypervisor it runs on.
 * Prints the CPUID.1:ECX[31] "hypervisor present" bit, then leaf 0x40000000:
 * the highest hypervisor leaf (EAX) and the 12-byte vendor signature
 * (EBX, ECX, EDX), e.g. "NestedSVM-HV" under ours. Built static by
 * tools/linux-l1.sh. */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    unsigned int a, b, c, d;
    char sig[13];

    __cpuid(1, a, b, c, d);
    printf("hvcheck: hypervisor bit=%u\n", (c >> 31) & 1);

    /* __cpuid, not __get_cpuid: the hypervisor range is not bounded by
     * leaf 0's maximum. */
    __cpuid(0x40000000, a, b, c, d);
    memcpy(sig + 0, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    for (int i = 0; i < 12; i++)  /* keep the console line printable */
        if (sig[i] < 0x20 || sig[i] > 0x7e)
            sig[i] = sig[i] ? '?' : ' ';
    sig[12] = 0;
    printf("hvcheck: leaf 0x40000000 max=0x%08x signature=\"%.12s\"\n", a, sig);
    return 0;
}
