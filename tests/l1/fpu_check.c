/* Guest FPU/SSE/AVX state survives exits: XMM0-15 (and the upper halves of
 * YMM0-15 where AVX is on) are loaded with known values, then many exits of
 * every kind the L1 program can cause (CPUID, intercepted RDMSR/WRMSR,
 * hypercalls, including ones that make the hypervisor print, which runs
 * newlib code that uses SSE), then every register is compared. */
#include "tests/l1/l1test.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"

#define ITERATIONS 300
#define CPUID_1_ECX_XSAVE (1u << 26)
#define CPUID_1_ECX_AVX (1u << 28)
#define XCR0_X87_SSE_AVX 0x7

/* fpu_exits.asm: loads 16 (X|Y)MM registers from in, makes the exits,
 * stores them to out. */
void fpu_exits(const uint8_t *in, uint8_t *out, uint64_t iterations, int avx,
               const char *msg, uint64_t msg_len);

static int enable_avx(void)
{
    struct cpuid_regs r = cpuid(1, 0);
    if (!(r.ecx & CPUID_1_ECX_XSAVE) || !(r.ecx & CPUID_1_ECX_AVX))
        return 0;
    write_cr4(read_cr4() | CR4_OSXSAVE);
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    lo |= XCR0_X87_SSE_AVX;
    __asm__ volatile("xsetbv" ::"a"(lo), "d"(hi), "c"(0));
    return 1;
}

void run_fpu_check(void)
{
    static uint8_t in[16 * 32] __attribute__((aligned(32)));
    static uint8_t out[16 * 32] __attribute__((aligned(32)));
    static const char msg[] = "fpu check: an exit that makes the hypervisor print";
    for (unsigned i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 7 + 3);
    int avx = enable_avx();
    uint64_t before = hv_call(HV_CALL_STATS, VMEXIT_MSR, 0, 0).rbx;
    fpu_exits(in, out, ITERATIONS, avx, msg, sizeof msg - 1);
    uint64_t after = hv_call(HV_CALL_STATS, VMEXIT_MSR, 0, 0).rbx;
    unsigned width = avx ? 32 : 16, bad = 0;
    for (unsigned r = 0; r < 16; r++)
        for (unsigned b = 0; b < width; b++)
            if (in[r * 32 + b] != out[r * 32 + b])
                bad++;
    check(after - before >= ITERATIONS, "fpu_exits_happened", "%ld MSR exits", after - before);
    check(bad == 0, avx ? "fpu_ymm0_15_intact" : "fpu_xmm0_15_intact",
          "%d bytes differ", bad);
    say("FPU check covered %a registers over %d iterations", avx ? "YMM0-15" : "XMM0-15",
        ITERATIONS);
}
