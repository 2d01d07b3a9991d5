/* The exit round-trip benchmark (cmdline "bench"): after ExitBootServices,
 * with interrupts off, time N CPUIDs (each an L1 exit handled by L0) with
 * RDTSC. Under QEMU's -icount shift=0, RDTSC counts guest instructions, so
 * the same loop gives instructions per round trip, deterministically. */
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

void run_bench(EFI_HANDLE image)
{
    UINTN n, key, desc_size;
    UINT32 ver;
    EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&n, &key, &desc_size, &ver);
    if (!map || EFI_ERROR(uefi_call_wrapper(BS->ExitBootServices, 2, image, key))) {
        say("bench: ExitBootServices failed");
        return;
    }
    __asm__ volatile("cli");
    time_loop(1); /* warm up */
    uint64_t with_exit = time_loop(1), without = time_loop(0);
    struct hv_result mi = hv_call(HV_CALL_MEMINFO, 0, 0, 0);
    say("bench: %d CPUID round trips: %ld ticks total, loop overhead %ld",
        ROUNDS, with_exit, without);
    say("bench: per L1 exit round trip (CPUID handled by L0): %ld ticks",
        (with_exit - without) / ROUNDS);
    say("bench: hypervisor region %ld KiB", mi.rcx / 1024);
}
