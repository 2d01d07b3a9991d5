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

/* RDTSC ticks for CALIBRATE_INSNS instructions of a known loop (3 per
 * round: NOP, DEC, JNZ): tells whether a tick is an instruction (-icount
 * shift=0) or a host cycle. */
#define CALIBRATE_ROUNDS 100000
#define CALIBRATE_INSNS (3 * CALIBRATE_ROUNDS)
static uint64_t time_known_loop(void)
{
    uint64_t t0 = rdtsc_serialized();
    __asm__ volatile("mov %0, %%ecx\n1: nop\n dec %%ecx\n jnz 1b" ::"i"(CALIBRATE_ROUNDS)
                     : "ecx", "memory");
    return rdtsc_serialized() - t0;
}

void run_bench(void)
{
    __asm__ volatile("cli" ::: "memory");
    time_loop(1); /* warm up */
    uint64_t with_exit = time_loop(1), without = time_loop(0);
    uint64_t known = time_known_loop();
    __asm__ volatile("sti" ::: "memory");
    say("bench: calibration: %d instructions took %ld ticks", CALIBRATE_INSNS, known);
    say("bench: %d CPUID round trips: %ld ticks total, loop overhead %ld",
        ROUNDS, with_exit, without);
    say("bench: per CPUID round trip: %ld ticks", (with_exit - without) / ROUNDS);
    /* Without the hypervisor (the baseline run), VMMCALL would #UD. */
    if (cpuid(0x40000000u, 0).ebx == *(const uint32_t *)HV_SIGNATURE)
        hv_call(HV_CALL_STATS_PRINT, 0, 0, 0);
}
