/* Thin wrappers around the x86 instructions the core and the loader use.
 * Everything here is an inline function so it can be used from the
 * freestanding core, the PIC UEFI loader and host unit tests alike. */
#pragma once
#include <stdint.h>

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)

#define CR4_PAE        (1ULL << 5)
#define CR4_PGE        (1ULL << 7)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_OSXSAVE    (1ULL << 18)
#define CR4_LA57       (1ULL << 12)
#define CR4_SMEP       (1ULL << 20)
#define CR4_PKE        (1ULL << 22)

#define RFLAGS_TF (1ULL << 8)
#define RFLAGS_IF (1ULL << 9)
#define DR6_BS    (1ULL << 14) /* single step (APM Vol. 2, 13.1.1.3) */
#define DR7_GD    (1ULL << 13) /* general detect; cleared when #DB is delivered */
#define DR6_B0_B3 0xFULL       /* breakpoint conditions met */
#define RFLAGS_RF (1ULL << 16)

#define MSR_FS_BASE        0xC0000100u
#define MSR_GS_BASE        0xC0000101u
#define MSR_KERNEL_GS_BASE 0xC0000102u

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

/* 1 GiB pages (CPUID 0x80000001 EDX[26]), for paging and nested paging. */
static inline int cpu_has_1g_pages(void)
{
    return (cpuid(0x80000001u, 0).edx >> 26) & 1;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

#define DEFINE_CR_ACCESS(n)                                                  \
    static inline uint64_t read_cr##n(void)                                  \
    {                                                                        \
        uint64_t v;                                                          \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                    \
        return v;                                                            \
    }                                                                        \
    static inline void write_cr##n(uint64_t v)                               \
    {                                                                        \
        __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory");             \
    }
DEFINE_CR_ACCESS(0)
DEFINE_CR_ACCESS(2)
DEFINE_CR_ACCESS(3)
DEFINE_CR_ACCESS(4)
DEFINE_CR_ACCESS(8)
#undef DEFINE_CR_ACCESS

static inline uint64_t rdtsc_now(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t read_rflags(void)
{
    uint64_t v;
    __asm__ volatile("pushfq; popq %0" : "=r"(v));
    return v;
}

static inline uint64_t read_rbp(void)
{
    uint64_t v;
    __asm__ volatile("mov %%rbp, %0" : "=r"(v));
    return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}

static inline void cpu_pause(void) { __asm__ volatile("pause"); }
static inline void cpu_cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void cpu_hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void clts(void) { __asm__ volatile("clts"); }

/* Stops this CPU for good: interrupts off, HLT in a loop (an NMI or SMI
 * could wake it, so loop). */
static inline __attribute__((noreturn)) void cpu_halt_forever(void)
{
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}
