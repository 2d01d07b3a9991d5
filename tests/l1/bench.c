/* The exit round-trip benchmark (cmdline "bench"): with interrupts off (so
 * no firmware code runs in between), time N CPUIDs (each an L1 exit handled
 * by L0) with RDTSC. Under QEMU's -icount shift=0, RDTSC counts guest
 * instructions, the hypervisor's included, so the same loop gives
 * instructions per round trip, deterministically. The firmware's boot
 * services stay up: GNU-EFI's formatting needs them to print the result. */
#include "tests/l1/l1test.h"
#include "arch/x86/cpu.h"

#define ROUNDS 20000

static inline uint64_t rdtsc_serialized(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Cost of the loop itself, with an instruction that never exits. */
static uint64_t time_loop(int exit)
{
    uint64_t t0 = rdtsc_serialized();
    for (int i = 0; i < ROUNDS; i++) {
        if (exit)
            cpuid(0, 0);
        else
            __asm__ volatile("nop; nop" ::: "memory");
    }
    return rdtsc_serialized() - t0;
}

void run_bench(void)
{
    __asm__ volatile("cli" ::: "memory");
    time_loop(1); /* warm up */
    uint64_t with_exit = time_loop(1), without = time_loop(0);
    __asm__ volatile("sti" ::: "memory");
    say("bench: %d CPUID round trips: %ld ticks total, loop overhead %ld",
        ROUNDS, with_exit, without);
    say("bench: per CPUID round trip: %ld ticks", (with_exit - without) / ROUNDS);
    /* Without the hypervisor (the baseline run), VMMCALL would #UD. */
    if (cpuid(0x40000000u, 0).ebx == *(const uint32_t *)HV_SIGNATURE)
        hv_call(HV_CALL_STATS_PRINT, 0, 0, 0);
}
