/* smpcheck: run inside the L1 Linux guest (tests/integration/test_smp.py)
 * to show, CPU by CPU, that every CPU runs on our hypervisor and none can
 * read its memory. For each online CPU it pins itself there and prints
 *
 *   smpcheck: cpuN signature="NestedSVM-HV" mem 0xBASE=0xQWORD ...
 *
 * the CPUID 0x40000000 signature seen on that CPU and the first 8 bytes of
 * every large "Reserved" range of /proc/iomem (the hypervisor's region is
 * one: the firmware reserved it for us), read through /dev/mem. A CPU
 * outside the hypervisor shows QEMU's signature and the core's header
 * ("VSHVCORE"); under it, the decoy (all-ones). Built static by
 * tools/linux-l1.sh. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_RANGES 16
#define MIN_RANGE (16ULL << 20)

static unsigned long long ranges[MAX_RANGES];
static int nranges;

/* Top-level "Reserved" lines of /proc/iomem, at least MIN_RANGE long. */
static void find_reserved(void)
{
    FILE *f = fopen("/proc/iomem", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f) && nranges < MAX_RANGES) {
        unsigned long long lo, hi;
        if (line[0] == ' ' || sscanf(line, "%llx-%llx", &lo, &hi) != 2)
            continue;
        if (strstr(line, ": Reserved") && hi - lo + 1 >= MIN_RANGE)
            ranges[nranges++] = lo;
    }
    if (f)
        fclose(f);
}

static void report(int cpu, int mem)
{
    unsigned int a, b, c, d;
    char sig[13];
    __cpuid(0x40000000, a, b, c, d);
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    for (int i = 0; i < 12; i++)
        if (sig[i] < 0x20 || sig[i] > 0x7e)
            sig[i] = '?';
    sig[12] = 0;
    printf("smpcheck: cpu%d signature=\"%s\"", cpu, sig);
    for (int i = 0; i < nranges; i++) {
        uint64_t q = 0;
        if (pread(mem, &q, sizeof q, (off_t)ranges[i]) == sizeof q)
            printf(" mem 0x%llx=0x%016llx", ranges[i], (unsigned long long)q);
        else
            printf(" mem 0x%llx=unreadable", ranges[i]);
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    /* smpcheck run CPU PROGRAM...: PROGRAM pinned to CPU. */
    if (argc > 3 && strcmp(argv[1], "run") == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(argv[2]), &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            perror("smpcheck: sched_setaffinity");
            return 1;
        }
        execv(argv[3], argv + 3);
        perror("smpcheck: exec");
        return 1;
    }
    find_reserved();
    int mem = open("/dev/mem", O_RDONLY);
    long n = sysconf(_SC_NPROCESSORS_CONF);
    int seen = 0;
    for (int cpu = 0; cpu < n; cpu++) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            continue; /* offline */
        sched_yield();
        report(cpu, mem);
        seen++;
    }
    printf("smpcheck: %d CPU(s) checked\n", seen);
    return 0;
}
