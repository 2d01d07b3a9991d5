/* The debug shell's commands. Each reads the hypervisor's state as it is
 * this moment, without stopping the other CPUs: a vCPU's fields may be a
 * few exits apart from each other (good enough for a look, and it keeps
 * L1 running while someone looks). */
#include "hv/console/shell.h"
#include <stdlib.h>
#include <string.h>
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/console/console.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/core/percpu.h"
#include "hv/console/shell_line.h"
#include "hv/console/stats.h"
#include "hv/console/vmcb_decode.h"
#include "lib/newlib_glue.h"
#include "lib/ringbuf.h"

#define PORT_RESET_CONTROL 0xCF9

typedef void (*cmd_fn)(int argc, char **argv);
struct command {
    const char *name, *args, *help;
    cmd_fn fn;
};
static const struct command commands[];

/* Per CPU, what `stats` and `cpus` showed last: the rates are since then. */
struct snapshot {
    uint64_t tsc, total;
};
static struct snapshot cpus_snap[HV_MAX_CPUS];
static struct snapshot stats_snap[HV_MAX_CPUS];
static uint64_t stats_snap_count[HV_MAX_CPUS][STATS_NSLOTS];
static uint64_t boot_tsc;

static const char *exit_name(uint64_t code)
{
    if ((uint32_t)code == 0xFFFFFFFFu)
        return "INVALID";
    const char *n = svm_exit_name(code);
    return n ? n : "?";
}

/* Per second, from a count over TSC ticks (per 10^9 ticks if the TSC's
 * rate is unknown, said in the header). */
static uint64_t rate(uint64_t count, uint64_t ticks)
{
    uint64_t hz = console_tsc_hz() ? console_tsc_hz() : 1000000000ULL;
    uint64_t ms = ticks / (hz / 1000); /* no 128-bit division in the core */
    return ms ? count * 1000 / ms : 0;
}

static const char *mode_of(const struct vmcb_save *s)
{
    if (s->efer & EFER_LMA)
        return (s->cs.attrib & (1u << 9)) ? "64-bit" : "compat";
    if (!(s->cr0 & CR0_PE))
        return "real";
    return (s->cr0 & CR0_PG) ? "prot+paging" : "protected";
}

static void cmd_cpus(int argc, char **argv)
{
    uint64_t now = rdtsc_now();
    console_printf("%-4s %-7s %-3s %-18s %-3s %-11s %-14s %10s %10s\n", "cpu", "apic", "L", "RIP",
                   "CPL", "mode", "last exit", "exits", "exits/s");
    for (unsigned i = 0; i < vcpu_count(); i++) {
        struct vcpu *v = vcpu_by_index(i);
        if (!__atomic_load_n(&v->launched, __ATOMIC_ACQUIRE)) {
            console_printf("%-4u %-7u not under the hypervisor (yet)\n", i, v->apic_id);
            continue;
        }
        const struct vmcb_save *s = &v->vmcb.va->save;
        uint64_t total = v->stats.total;
        uint64_t last = total ? v->stats.last[(total - 1) % STATS_LAST_EXITS].exitcode : 0;
        struct snapshot *sn = &cpus_snap[i];
        uint64_t since = sn->tsc ? sn->tsc : boot_tsc;
        console_printf("%-4u %-7u L%-2d %#-18lx %-3u %-11s %-14s %10lu %10lu\n", i, v->apic_id,
                       v->nested.in_l2 ? 2 : 1, s->rip, s->cpl, mode_of(s),
                       total ? exit_name(last) : "-", total, rate(total - sn->total, now - since));
        sn->tsc = now;
        sn->total = total;
    }
    if (!console_tsc_hz())
        console_printf("(TSC rate unknown: rates are per 10^9 TSC ticks)\n");
}

static void stats_reset(void)
{
    uint64_t now = rdtsc_now();
    for (unsigned i = 0; i < vcpu_count(); i++) {
        const struct vcpu_stats *s = &vcpu_by_index(i)->stats;
        for (unsigned slot = 0; slot < STATS_NSLOTS; slot++)
            stats_snap_count[i][slot] = s->slots[slot].count;
        stats_snap[i].tsc = now;
        stats_snap[i].total = s->total;
    }
}

/* Short names of enum tlb_why (hv/tlb/tlb_policy.h), for `stats`. */
static const char *const tlb_why_names[TLB_WHY_COUNT] = {
    [TLB_WHY_INIT] = "init", [TLB_WHY_L0] = "l0", [TLB_WHY_NPT01] = "npt01",
    [TLB_WHY_NPT02] = "npt02", [TLB_WHY_NPT02_DROP] = "npt02drop",
    [TLB_WHY_L1_CONTROL] = "l1ctl", [TLB_WHY_VASID] = "vasid", [TLB_WHY_NCR3] = "ncr3",
    [TLB_WHY_INVLPGA] = "invlpga",
};

/* One row per exit code that occurred on the CPUs [first, end): count
 * since boot, since the last `stats`, its rate, the L2 exits among them
 * (reflected to L1, or L0's alone) and cycles per exit. */
static void stats_codes(unsigned first, unsigned end, uint64_t now, uint64_t since)
{
    console_printf("  %-6s %-16s %12s %10s %10s %10s %10s %10s\n", "code", "exit", "count", "new",
                   "new/s", "L2>L1", "L2:L0", "cycles");
    for (unsigned slot = 0; slot < STATS_NSLOTS; slot++) {
        uint64_t count = 0, cycles = 0, fresh = 0, refl = 0, l0 = 0;
        for (unsigned i = first; i < end; i++) {
            const struct vcpu_stats *s = &vcpu_by_index(i)->stats;
            count += s->slots[slot].count;
            cycles += s->slots[slot].cycles;
            refl += s->slots[slot].l2_reflected;
            l0 += s->slots[slot].l2_l0;
            fresh += s->slots[slot].count - stats_snap_count[i][slot];
        }
        if (!count)
            continue;
        uint64_t code = slot == STATS_SLOT_LOW_END ? VMEXIT_INVALID : slot;
        console_printf("  %#-6x %-16s %12lu %10lu %10lu %10lu %10lu %10lu\n", slot,
                       slot == STATS_SLOT_LOW_END + 1 ? "other" : exit_name(code), count, fresh,
                       rate(fresh, now - since), refl, l0, cycles / count);
    }
}

/* Per CPU: exits, the L2 ones split (the sums of the rows above), the TLB flushes L0 asked for in its
 * VMCBs (TLB_CONTROL 03h or 01h, docs/design.md "TLB") and NPT02 resyncs;
 * then the flushes by the reason that called for them (one flush may
 * serve several). */
static void stats_cpus(unsigned first, unsigned end, uint64_t now, uint64_t since)
{
    console_printf("  %-4s %12s %10s %10s %12s %12s %10s %10s %10s\n", "cpu", "exits", "new",
                   "new/s", "L2:reflected", "L2:L0-only", "flush:asid", "flush:all", "npt02:resync");
    uint64_t tot = 0, tot_new = 0;
    for (unsigned i = first; i < end; i++) {
        const struct vcpu *v = vcpu_by_index(i);
        uint64_t fresh = v->stats.total - stats_snap[i].total, refl = 0, l0 = 0;
        for (unsigned slot = 0; slot < STATS_NSLOTS; slot++) {
            refl += v->stats.slots[slot].l2_reflected;
            l0 += v->stats.slots[slot].l2_l0;
        }
        tot += v->stats.total;
        tot_new += fresh;
        console_printf("  cpu%-2u %12lu %10lu %10lu %12lu %12lu %10lu %10lu %10lu\n", i,
                       v->stats.total, fresh, rate(fresh, now - since), refl, l0,
                       v->tlb.flushes_asid, v->tlb.flushes_all, v->tlb.npt02_resyncs);
    }
    console_printf("  total %12lu %10lu %10lu\n", tot, tot_new, rate(tot_new, now - since));
    console_printf("  TLB flushes by reason:");
    for (unsigned w = 0; w < TLB_WHY_COUNT; w++)
        console_printf(" %9s", tlb_why_names[w]);
    console_printf("\n");
    for (unsigned i = first; i < end; i++) {
        console_printf("  cpu%-2u               ", i);
        for (unsigned w = 0; w < TLB_WHY_COUNT; w++)
            console_printf(" %9lu", vcpu_by_index(i)->tlb.flushes_by_reason[w]);
        console_printf("\n");
    }
}

/* stats [cpu C] [reset] */
static void cmd_stats(int argc, char **argv)
{
    unsigned first = 0, end = vcpu_count();
    bool reset = false, ok = true;
    for (int a = 1; a < argc && ok; a++) {
        uint64_t c;
        if (!strcmp(argv[a], "reset"))
            reset = true;
        else if (!strcmp(argv[a], "cpu") && a + 1 < argc && shell_parse_uint(argv[a + 1], &c) &&
                 c < vcpu_count())
            first = (unsigned)c, end = first + 1, a++;
        else
            ok = false;
    }
    if (!ok) {
        console_printf("usage: stats [cpu C] [reset] (CPUs 0 to %u)\n", vcpu_count() - 1);
        return;
    }
    if (reset) {
        stats_reset();
        console_printf("statistics: the rates now count from here\n");
        return;
    }
    uint64_t now = rdtsc_now();
    uint64_t since = stats_snap[first].tsc ? stats_snap[first].tsc : boot_tsc;
    console_printf("exits per code%s: count since boot, since the last `stats` (and per second "
                   "over the %lu ms since), L2 exits reflected to L1 or L0's alone, cycles per "
                   "exit\n", end - first == 1 ? " on this CPU" : "",
                   console_tsc_hz() ? (now - since) / (console_tsc_hz() / 1000) : 0);
    if (end - first == 1)
        console_printf("  (cpu%u)\n", first);
    stats_codes(first, end, now, since);
    stats_cpus(first, end, now, since);
    stats_reset();
}

static void cmd_mem(int argc, char **argv)
{
    const struct page_alloc *pool = hv_pages();
    size_t used, size;
    heap_usage(&used, &size);
    console_printf("region %#lx, %lu KiB\n", hv_region_pa(), hv_region_size() / 1024);
    console_printf("page pool: %lu KiB, %lu KiB used, %lu KiB free\n", pool->npages * 4,
                   (pool->npages - page_alloc_free_pages(pool)) * 4,
                   page_alloc_free_pages(pool) * 4);
    for (unsigned i = 0; i < vcpu_count(); i++) {
        const struct nested *n = &vcpu_by_index(i)->nested;
        uint64_t used = 0, free = 0;
        for (unsigned e = 0; e < n->npt02_count; e++) {
            used += n->npt02[e].root ? npt02_table_pages(&n->npt02[e]) : 0;
            free += n->npt02[e].free_pages;
        }
        console_printf("cpu%u: NPT02 %lu table pages in use, %lu on free lists (%u L2 entries)\n",
                       i, used, free, n->npt02_count);
    }
    console_printf("heap (newlib): %lu KiB used of %lu KiB\n", (unsigned long)used / 1024, (unsigned long)size / 1024);
}

static void cmd_log(int argc, char **argv)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    if (argc == 1) {
        console_printf("log level on the console: %s (the ring keeps every level)\n",
                       names[log_console_level()]);
        return;
    }
    for (unsigned l = 0; argc == 2 && l < 4; l++) {
        if (!strcmp(argv[1], names[l])) {
            log_set_console_level((enum log_level)l);
            console_printf("log level on the console: %s\n", names[l]);
            return;
        }
    }
    console_printf("usage: log [error|warn|info|debug]\n");
}

/* The last lines of the in-memory log (default 40). */
static void cmd_dmesg(int argc, char **argv)
{
    static char buf[64 * 1024];
    uint64_t want = 40;
    if (argc > 2 || (argc == 2 && (!shell_parse_uint(argv[1], &want) || !want))) {
        console_printf("usage: dmesg [lines]\n");
        return;
    }
    size_t n = ringbuf_read(log_ring(), 0, buf, sizeof buf);
    size_t start = n;
    uint64_t lines = 0;
    while (start > 0) {
        if (buf[start - 1] == '\n' && start != n && ++lines == want)
            break;
        start--;
    }
    console_printf("--- log ring: %lu bytes kept, %lu written since start ---\n", (unsigned long)
                   ringbuf_len(log_ring()), ringbuf_total(log_ring()));
    log_console_write(buf + start, n - start, true);
}

static void cmd_reboot(int argc, char **argv)
{
    console_printf("resetting the machine (port 0xCF9)\n");
    outb(PORT_RESET_CONTROL, 0x02);
    outb(PORT_RESET_CONTROL, 0x06); /* full reset: CPU reset + system reset */
    console_printf("error: the reset did not happen\n");
}

static void cmd_poweroff(int argc, char **argv)
{
    uint16_t port = ioio_pm1a_port();
    int slp_typ = ioio_s5_sleep_type();
    if (!port || slp_typ < 0) {
        console_printf("error: no ACPI %s known; try reboot\n",
                       port ? "\\_S5 sleep type (the DSDT's \\_S5 is not a plain package)"
                            : "PM1a control port");
        return;
    }
    /* S5: SLP_TYPa from the DSDT's \_S5 (the loader's scan) with SLP_EN
     * (ACPI 6.x, 4.8.3.2.1); PM1b, where a machine has one, is not
     * written. */
    console_printf("powering off (ACPI PM1a at %#x, SLP_TYP %d)\n", port, slp_typ);
    outw(port, (uint16_t)((slp_typ & 7) << 10 | 1u << 13));
    console_printf("error: the power-off did not happen\n");
}

/* One VMCB, by field name with its APM offset (Appendix B), then the
 * decoded fields. */
static void print_vmcb(const char *title, const struct vmcb *vmcb, uint64_t pa)
{
    char text[768];
    size_t n;
    const struct vmcb_field *f = vmcb_control_fields(&n);
    console_printf("%s at %#lx: control area\n", title, pa);
    for (size_t i = 0; i < n; i++)
        console_printf("  %03xh %-22s %#lx\n", f[i].offset, f[i].name,
                       vmcb_field_value(&vmcb->control, &f[i]));
    vmcb_intercept_names(&vmcb->control, text, sizeof text);
    console_printf("  intercepts: %s\n", text);
    vmcb_decode_event(vmcb->control.eventinj, text, sizeof text);
    console_printf("  EVENTINJ: %s\n", text);
    vmcb_decode_event(vmcb->control.exitintinfo, text, sizeof text);
    console_printf("  EXITINTINFO: %s\n", text);
    vmcb_decode_int_ctl(vmcb->control.int_ctl, vmcb->control.int_vector, text, sizeof text);
    console_printf("  int_ctl: %s\n", text);
    console_printf("  exitcode: %s\n", exit_name(vmcb->control.exitcode));
    f = vmcb_save_fields(&n);
    console_printf("%s: state save area (offsets from 400h)\n", title);
    for (size_t i = 0; i < n; i++)
        console_printf("  %03xh %-22s %#lx\n", f[i].offset, f[i].name,
                       vmcb_field_value(&vmcb->save, &f[i]));
}

static struct vcpu *vcpu_arg(const char *arg)
{
    uint64_t id;
    if (!shell_parse_uint(arg, &id) || id >= vcpu_count()) {
        console_printf("error: no vCPU '%s' (0 to %u)\n", arg, vcpu_count() - 1);
        return 0;
    }
    return vcpu_by_index((unsigned)id);
}

static void cmd_vcpu(int argc, char **argv)
{
    if (argc != 2) {
        console_printf("usage: vcpu N\n");
        return;
    }
    struct vcpu *v = vcpu_arg(argv[1]);
    if (!v)
        return;
    const struct nested *n = &v->nested;
    console_printf("vCPU %u (APIC ID %u): %s, in %s; %lu exits, %lu emulated VMRUNs, "
                   "%lu L2 exits reflected\n", v->id, v->apic_id,
                   v->launched ? "under the hypervisor" : "not launched",
                   n->in_l2 ? "L2" : "L1", v->stats.total, n->vmruns, stats_l2_reflected(&v->stats));
    print_vmcb("VMCB01", v->vmcb01.va, v->vmcb01.pa);
    if (n->vmruns && n->vmcb02.va) {
        print_vmcb("VMCB02", n->vmcb02.va, n->vmcb02.pa);
        /* The private copy of what L1 handed to its last VMRUN. */
        print_vmcb("VMCB12 (last copy)", n->vmcb12, n->vmcb12_pa);
    }
}

/* `trace off` keeps a copy of every ring, shown until `trace on`. */
static struct vcpu_stats *frozen;

static void cmd_trace(int argc, char **argv)
{
    uint64_t count = 16, code = 0, want_cpu = ~0ULL;
    bool filter = false;
    unsigned n = vcpu_count();
    if (argc == 2 && !strcmp(argv[1], "off")) {
        if (!frozen)
            frozen = malloc(sizeof *frozen * n);
        if (!frozen) {
            console_printf("error: no memory for the copy\n");
            return;
        }
        for (unsigned i = 0; i < n; i++)
            frozen[i] = vcpu_by_index(i)->stats;
        console_printf("trace off: `trace` shows the exits up to now until `trace on`\n");
        return;
    }
    if (argc == 2 && !strcmp(argv[1], "on")) {
        free(frozen);
        frozen = 0;
        console_printf("trace on: `trace` shows the latest exits\n");
        return;
    }
    for (int i = 1; i < argc; i++) {
        bool ok = true;
        if (!strcmp(argv[i], "code") && i + 1 < argc)
            ok = shell_parse_uint(argv[++i], &code), filter = true;
        else if (!strcmp(argv[i], "cpu") && i + 1 < argc)
            ok = shell_parse_uint(argv[++i], &want_cpu) && want_cpu < n;
        else
            ok = shell_parse_uint(argv[i], &count) && count > 0;
        if (!ok) {
            console_printf("usage: trace [N] [cpu C] [code X] | trace on | trace off\n");
            return;
        }
    }
    if (count > STATS_LAST_EXITS)
        count = STATS_LAST_EXITS;
    for (unsigned c = 0; c < n; c++) {
        if (want_cpu != ~0ULL && c != want_cpu)
            continue;
        const struct vcpu_stats *s = frozen ? &frozen[c] : &vcpu_by_index(c)->stats;
        uint64_t total = s->total, first = total > STATS_LAST_EXITS ? total - STATS_LAST_EXITS : 0;
        console_printf("cpu%u: last %lu%s exits of %lu%s (oldest first)\n", c, count,
                       filter ? " matching" : "", total, frozen ? ", as of `trace off`" : "");
        /* The newest `count` that match, printed oldest first. */
        uint64_t from = total, shown = 0;
        while (from > first && shown < count) {
            from--;
            if (!filter || s->last[from % STATS_LAST_EXITS].exitcode == code)
                shown++;
        }
        for (uint64_t i = from; i < total; i++) {
            const struct exit_record *r = &s->last[i % STATS_LAST_EXITS];
            if (filter && r->exitcode != code)
                continue;
            console_printf("  #%-9lu %-17s %-12s RIP %#-18lx info1 %#lx info2 %#lx\n", i,
                           stats_mark_text((unsigned)r->marks, r->exitcode,
                                           i + 1 < total ? (unsigned)s->last[(i + 1) % STATS_LAST_EXITS].marks : 0),
                           exit_name(r->exitcode), r->rip, r->exitinfo1, r->exitinfo2);
        }
    }
}

static void cmd_continue(int argc, char **argv)
{
    console_return_to_l1();
}

static void cmd_help(int argc, char **argv)
{
    for (const struct command *c = commands; c->name; c++)
        console_printf("  %-8s %-24s %s\n", c->name, c->args, c->help);
}

static const struct command commands[] = {
    { "help", "", "this list", cmd_help },
    { "cpus", "", "each vCPU: L1/L2, RIP, CPL, mode, last exit, exits and exits/s", cmd_cpus },
    { "stats", "[cpu C] [reset]", "exits per code and per CPU, since boot and the last stats",
      cmd_stats },
    { "mem", "", "the page pool, NPT02 tables, the newlib heap", cmd_mem },
    { "log", "[error|warn|info|debug]", "show or set the console's log level", cmd_log },
    { "dmesg", "[lines]", "the last lines of the in-memory log (default 40)", cmd_dmesg },
    { "vcpu", "N", "vCPU N's VMCB01 (and VMCB02, VMCB12 copy when nested), decoded", cmd_vcpu },
    { "trace", "[N] [cpu C] [code X]", "each vCPU's last exits (on|off: follow or freeze)",
      cmd_trace },
    { "reboot", "", "reset the machine (port 0xCF9)", cmd_reboot },
    { "poweroff", "", "power the machine off (ACPI S5)", cmd_poweroff },
    { "continue", "", "give the console back to L1 (as Ctrl-A x3 does)", cmd_continue },
    { 0, 0, 0, 0 },
};

void shell_init(void)
{
    boot_tsc = rdtsc_now();
}

void shell_run(char *text)
{
    char *argv[SHELL_MAX_ARGS];
    int argc = shell_split(text, argv, SHELL_MAX_ARGS);
    if (argc == 0)
        return;
    if (argc < 0) {
        console_printf("error: more than %d words\n", SHELL_MAX_ARGS);
        return;
    }
    for (const struct command *c = commands; c->name; c++) {
        if (!strcmp(argv[0], c->name)) {
            c->fn(argc, argv);
            return;
        }
    }
    console_printf("error: unknown command '%s' ('help' lists them)\n", argv[0]);
}
