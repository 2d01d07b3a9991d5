/* kvmbench: what one L2 exit costs when a real guest hypervisor handles it
 * (`make bench`, tools/bench.py). KVM in L1 runs a tiny VM (L2) that makes
 * N exits of one kind:
 *     out   OUT to a port KVM hands to this program (KVM_EXIT_IO): the L2
 *           exit goes to KVM, back to userspace and in again
 *     cpuid CPUID, which KVM handles in its kernel
 * For each: the TSC ticks per L2 exit (under QEMU's -icount shift=0 a tick
 * is one instruction, of every level), and, read from the hypervisor with
 * HV_CALL_STATS_TABLE (userspace may while debug_shell = yes), the exits
 * to L0 per L2 exit, by exit code, and L0's ticks per L2 exit (its time
 * from #VMEXIT to the next VMRUN). The exits the sampling itself makes
 * (its hypercalls, counted between the two samples) are measured once
 * with nothing between two samples and subtracted. The codes that happen
 * at least once per 20 L2 exits are listed by name: those are the ones
 * each L2 exit causes; "other" is the rest (the run's first entry and
 * final HLT, L1's timer interrupts). Without our hypervisor (QEMU's SVM
 * straight, the baseline) the VMMCALL raises #UD: ticks only.
 *
 *   kvmbench [N]    N exits of each kind (default 2000), one line per
 *                   figure, "kvmbench:" first; status 0 when both ran */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "hv/exit/hypercall_guest.h"
#include "tinyvm.h"

#define PORT 0x10
#define ROWS (HV_STATS_ROW_OTHER + 1)
#define WARMUP 200

struct sample {
    uint64_t tsc;
    uint64_t count[ROWS], cycles[ROWS];
    uint64_t reflected;
};

static int have_hv = 1;
static uint64_t sampling_exits[ROWS]; /* what take() itself adds, per row */
static sigjmp_buf no_hv;

static void on_sigill(int sig)
{
    (void)sig;
    siglongjmp(no_hv, 1);
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}


/* Every row of one table; false if the hypervisor refused. */
static int table(uint64_t which, uint64_t *a, uint64_t *b)
{
    for (uint64_t row = 0;;) {
        struct hv_result r = hv_call(HV_CALL_STATS_TABLE, HV_STATS_VERSION, which, row);
        if (r.status != HV_OK)
            return 0;
        if (r.rbx == HV_STATS_END)
            return 1;
        if (r.rbx < ROWS) {
            a[r.rbx] = r.rcx;
            b[r.rbx] = r.rdx;
        }
        row = r.rbx + 1;
    }
}

static void take(struct sample *s)
{
    memset(s, 0, sizeof *s);
    if (have_hv && !sigsetjmp(no_hv, 1)) {
        static uint64_t refl[ROWS], l0[ROWS];
        memset(refl, 0, sizeof refl);
        if (!table(HV_STATS_EXITS, s->count, s->cycles) || !table(HV_STATS_L2, refl, l0)) {
            printf("kvmbench: the hypervisor refused its statistics (debug_shell = no?)\n");
            have_hv = 0;
        }
        for (unsigned i = 0; i < ROWS; i++)
            s->reflected += refl[i];
    } else {
        have_hv = 0;
    }
    s->tsc = rdtsc();
}

/* Runs the VM until its HLT; the number of OUTs it made, or -1. */
static long run_to_hlt(struct tinyvm *t)
{
    long outs = 0;
    for (;;) {
        if (ioctl(t->vcpu, KVM_RUN, 0) < 0) {
            printf("kvmbench: FAIL: KVM_RUN: %s\n", strerror(errno));
            return -1;
        }
        if (t->run->exit_reason == KVM_EXIT_IO && t->run->io.port == PORT) {
            outs++;
            continue;
        }
        if (t->run->exit_reason == KVM_EXIT_HLT)
            return outs;
        printf("kvmbench: FAIL: exit reason %u\n", t->run->exit_reason);
        return -1;
    }
}

/* Real-mode loops of n exits, then HLT. */
static size_t out_loop(uint8_t *c, unsigned n)
{
    const uint8_t code[] = {
        0xB0, 'K',                      /* mov al, 'K' */
        0xBE, n & 0xFF, n >> 8,         /* mov si, n */
        0xE6, PORT,                     /* 1: out PORT, al */
        0x4E,                           /* dec si */
        0x75, 0xFB,                     /* jnz 1b */
        0xF4,                           /* hlt */
    };
    memcpy(c, code, sizeof code);
    return sizeof code;
}

static size_t cpuid_loop(uint8_t *c, unsigned n)
{
    const uint8_t code[] = {
        0xBE, n & 0xFF, n >> 8,         /* mov si, n */
        0x31, 0xC0,                     /* 1: xor ax, ax */
        0x0F, 0xA2,                     /* cpuid */
        0x4E,                           /* dec si */
        0x75, 0xF9,                     /* jnz 1b */
        0xF4,                           /* hlt */
    };
    memcpy(c, code, sizeof code);
    return sizeof code;
}

static const char *row_name(unsigned row)
{
    static const struct { unsigned code; const char *name; } names[] = {
        { 0x60, "INTR" }, { 0x61, "NMI" }, { 0x72, "CPUID" }, { 0x78, "HLT" }, { 0x7B, "IOIO" },
        { 0x7C, "MSR" }, { 0x80, "VMRUN" }, { 0x81, "VMMCALL" }, { 0x82, "VMLOAD" },
        { 0x83, "VMSAVE" }, { 0x84, "STGI" }, { 0x85, "CLGI" }, { 0x400, "NPF" },
    };
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == row)
            return names[i].name;
    return NULL;
}

static int phase(struct tinyvm *t, const char *kind, size_t (*loop)(uint8_t *, unsigned),
                 unsigned n)
{
    uint8_t code[32];
    const char *what;
    struct sample a, b;
    if (tinyvm_reset(t, code, loop(code, WARMUP), &what) < 0 || run_to_hlt(t) < 0)
        return printf("kvmbench: FAIL: %s warm-up\n", kind), 1;
    if (tinyvm_reset(t, code, loop(code, n), &what) < 0)
        return printf("kvmbench: FAIL: %s: %s\n", kind, what), 1;
    take(&a);
    long outs = run_to_hlt(t);
    take(&b);
    if (outs < 0 || (loop == out_loop && outs != (long)n))
        return printf("kvmbench: FAIL: %s: %ld OUTs\n", kind, outs), 1;
    printf("kvmbench: %s: %u L2 exits, %lu ticks per L2 exit\n", kind, n,
           (unsigned long)((b.tsc - a.tsc) / n));
    if (!have_hv)
        return 0;
    uint64_t exits = 0, cycles = 0, each = 0;
    char by_code[512] = "";
    for (unsigned i = 0; i < ROWS; i++) {
        uint64_t d = b.count[i] - a.count[i];
        d = d > sampling_exits[i] ? d - sampling_exits[i] : 0;
        exits += d;
        cycles += b.cycles[i] - a.cycles[i];
        /* the codes that happen at least once per 20 L2 exits */
        if (d * 20 >= n && strlen(by_code) < sizeof by_code - 32) {
            const char *name = row_name(i);
            char one[40];
            each += d;
            if (name)
                snprintf(one, sizeof one, " %s %.2f", name, (double)d / n);
            else
                snprintf(one, sizeof one, " %#x %.2f", i, (double)d / n);
            strcat(by_code, one);
        }
    }
    char other[40];
    snprintf(other, sizeof other, " other %.2f", (double)(exits - each) / n);
    strcat(by_code, other);
    printf("kvmbench: %s: %.2f exits to L0 per L2 exit (%lu L2 exits reflected to L1),"
           " L0 %lu ticks per L2 exit\n", kind, (double)exits / n,
           (unsigned long)(b.reflected - a.reflected), (unsigned long)(cycles / n));
    printf("kvmbench: %s: exits to L0 per L2 exit by code:%s\n", kind, by_code);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
    if (argc > 2 || n < 20 || n > 0xFFFF) {
        fprintf(stderr, "usage: kvmbench [N: 20 to 65535]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = { .sa_handler = on_sigill };
    sigaction(SIGILL, &sa, NULL);
    struct tinyvm t;
    const char *what;
    uint8_t hlt = 0xF4;
    if (tinyvm_create(&t, &hlt, 1, &what) < 0)
        return printf("kvmbench: FAIL: %s: %s\n", what, strerror(errno)), 1;
    struct sample probe;
    take(&probe);
    printf("kvmbench: statistics from the hypervisor: %s\n", have_hv ? "yes" : "no (none under us)");
    if (have_hv) {
        struct sample a, b;
        uint64_t total = 0;
        take(&a);
        take(&b);
        for (unsigned i = 0; i < ROWS; i++)
            total += sampling_exits[i] = b.count[i] - a.count[i];
        printf("kvmbench: the sampling itself makes %lu exits to L0 (subtracted below)\n",
               (unsigned long)total);
    }
    int bad = phase(&t, "out", out_loop, n) | phase(&t, "cpuid", cpuid_loop, n);
    printf("kvmbench: %s\n", bad ? "failed" : "done");
    return bad;
}
