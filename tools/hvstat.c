/* hvstat: the hypervisor's exit statistics from inside L1, like kvm_stat.
 *
 * A static Linux program (no libraries needed in L1): it asks the
 * hypervisor with VMMCALL (HV_CALL_STATS_TABLE, hv/exit/hypercall_abi.h), which
 * answers userspace while the hypervisor runs with debug_shell = yes.
 *
 *   hvstat          every second: each exit code's total and rate, the L2
 *                   exits among them reflected to L1 or L0's alone, per CPU
 *   hvstat -1       once: totals only
 *   hvstat N        every N seconds
 *
 * Built by `make build/hvstat`, and into the Linux test initramfs
 * (tools/linux-l1.sh). Run it anywhere but under this hypervisor and the
 * VMMCALL raises #UD (SIGILL): the program says so. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "arch/x86/svm.h"
#include "hv/exit/hypercall_guest.h"

#define MAX_ROWS (HV_STATS_ROW_OTHER + 1)
#define MAX_CPUS 64


static void no_hypervisor(int sig)
{
    (void)sig;
    static const char msg[] = "hvstat: VMMCALL failed (#UD): not running on the nested SVM hypervisor\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(2);
}

struct sample {
    uint64_t count[MAX_ROWS];
    uint64_t cycles[MAX_ROWS];
    uint64_t l2_reflected[MAX_ROWS], l2_l0[MAX_ROWS];
    uint64_t cpu_exits[MAX_CPUS], cpu_reflected[MAX_CPUS];
    unsigned ncpus;
};

static void take(struct sample *s, uint64_t table)
{
    uint64_t row = 0;
    for (;;) {
        struct hv_result r = hv_call(HV_CALL_STATS_TABLE, HV_STATS_VERSION, table, row);
        if (r.status != HV_OK) {
            fprintf(stderr, "hvstat: the hypervisor refused (%lld)%s\n", (long long)r.status,
                    r.status == HV_EPERM ? ": userspace may ask only with debug_shell = yes"
                    : r.status == HV_EINVAL ? ": another statistics version" : "");
            exit(1);
        }
        if (r.rbx == HV_STATS_END)
            return;
        if (table == HV_STATS_EXITS && r.rbx < MAX_ROWS) {
            s->count[r.rbx] = r.rcx;
            s->cycles[r.rbx] = r.rdx;
        } else if (table == HV_STATS_L2 && r.rbx < MAX_ROWS) {
            s->l2_reflected[r.rbx] = r.rcx;
            s->l2_l0[r.rbx] = r.rdx;
        } else if (table == HV_STATS_CPUS && r.rbx < MAX_CPUS) {
            s->cpu_exits[r.rbx] = r.rcx;
            s->cpu_reflected[r.rbx] = r.rdx;
            s->ncpus = (unsigned)r.rbx + 1;
        }
        row = r.rbx + 1;
    }
}

static void take_all(struct sample *s)
{
    take(s, HV_STATS_EXITS);
    take(s, HV_STATS_L2);
    take(s, HV_STATS_CPUS);
}

static const char *row_name(unsigned row)
{
    if (row == HV_STATS_ROW_INVALID)
        return "INVALID";
    if (row == HV_STATS_ROW_OTHER)
        return "other";
    const char *n = svm_exit_name(row);
    return n ? n : "?";
}

static void print(const struct sample *now, const struct sample *before, unsigned secs)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < MAX_ROWS; i++)
        total += now->count[i];
    printf("%-6s %-16s %14s %7s %12s %10s %12s %12s\n", "code", "exit", "Total", "%Total",
           before ? "Cur/s" : "", "cycles", "L2>L1", "L2:L0");
    for (unsigned i = 0; i < MAX_ROWS; i++) {
        if (!now->count[i])
            continue;
        char rate[24] = "";
        if (before)
            snprintf(rate, sizeof rate, "%llu",
                     (unsigned long long)((now->count[i] - before->count[i]) / secs));
        printf("%#-6x %-16s %14llu %6.1f%% %12s %10llu %12llu %12llu\n", i, row_name(i),
               (unsigned long long)now->count[i], 100.0 * (double)now->count[i] / (double)total,
               rate, (unsigned long long)(now->cycles[i] / now->count[i]),
               (unsigned long long)now->l2_reflected[i], (unsigned long long)now->l2_l0[i]);
    }
    for (unsigned c = 0; c < now->ncpus; c++)
        printf("cpu%-3u exits %llu, L2 exits reflected to L1 %llu\n", c,
               (unsigned long long)now->cpu_exits[c], (unsigned long long)now->cpu_reflected[c]);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int once = argc > 1 && !strcmp(argv[1], "-1");
    unsigned secs = argc > 1 && !once ? (unsigned)atoi(argv[1]) : 1;
    if (argc > 2 || (argc == 2 && !once && !secs)) {
        fprintf(stderr, "usage: hvstat [-1 | seconds]\n");
        return 2;
    }
    signal(SIGILL, no_hypervisor);
    static struct sample a, b;
    struct sample *now = &a, *before = &b;
    take_all(now);
    if (once) {
        print(now, NULL, 0);
        return 0;
    }
    for (;;) {
        struct sample *t = before;
        before = now;
        now = t;
        memset(now, 0, sizeof *now);
        sleep(secs);
        take_all(now);
        printf("\n");
        print(now, before, secs);
    }
}
