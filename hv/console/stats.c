#include "hv/console/stats.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/smp/apic.h"
#include "hv/core/log.h"
#include "hv/core/percpu.h"

#define SLOT_INVALID STATS_SLOT_LOW_END
#define SLOT_OTHER (STATS_SLOT_LOW_END + 1)

void stats_init(struct vcpu_stats *s)
{
    s->current_slot = STATS_NSLOTS;
}

static unsigned slot_of(uint64_t code)
{
    /* TCG writes VMEXIT_INVALID as 0x00000000ffffffff (docs/design.md). */
    if (code == VMEXIT_INVALID || (uint32_t)code == 0xFFFFFFFFu)
        return SLOT_INVALID;
    return code < STATS_SLOT_LOW_END ? (unsigned)code : SLOT_OTHER;
}

void stats_exit_begin(struct vcpu_stats *s, const struct vmcb_control *c, uint64_t rip)
{
    s->exit_tsc = rdtsc_now();
    s->current_slot = slot_of(c->exitcode);
    s->slots[s->current_slot].count++;
    s->last[s->total % STATS_LAST_EXITS] =
        (struct exit_record){ c->exitcode, rip, c->exitinfo1, c->exitinfo2, 0 };
    s->total++;
}

void stats_exit_done(struct vcpu_stats *s)
{
    if (s->current_slot < STATS_NSLOTS)
        s->slots[s->current_slot].cycles += rdtsc_now() - s->exit_tsc;
    s->current_slot = STATS_NSLOTS;
}

void stats_sum_slot(unsigned slot, struct stats_row *sum)
{
    *sum = (struct stats_row){ 0 };
    for (unsigned i = 0; i < vcpu_count(); i++) {
        const struct stats_row *r = &vcpu_by_index(i)->stats.slots[slot];
        sum->count += r->count;
        sum->cycles += r->cycles;
        sum->l2_reflected += r->l2_reflected;
        sum->l2_l0 += r->l2_l0;
    }
}

uint64_t stats_l2_reflected(const struct vcpu_stats *s)
{
    uint64_t n = 0;
    for (unsigned slot = 0; slot < STATS_NSLOTS; slot++)
        n += s->slots[slot].l2_reflected;
    return n;
}

bool stats_sum(uint64_t exitcode, struct stats_row *sum)
{
    unsigned slot = slot_of(exitcode);
    if (slot == SLOT_OTHER)
        return false;
    stats_sum_slot(slot, sum);
    return true;
}

uint64_t stats_total_exits(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < vcpu_count(); i++)
        total += vcpu_by_index(i)->stats.total;
    return total;
}

static const char *slot_name(unsigned slot)
{
    if (slot == SLOT_INVALID)
        return "INVALID";
    if (slot == SLOT_OTHER)
        return "other";
    const char *n = svm_exit_name(slot);
    return n ? n : "?";
}

/* One row per exit code that occurred: the count on each CPU, then the
 * total and the average cycles over all CPUs. */
void stats_print(void)
{
    unsigned n = vcpu_count();
    pr_info("exit statistics: %lu exits on %u CPU(s)", stats_total_exits(), n);
    for (unsigned i = 0; i < n; i++)
        pr_info("  cpu%u: %lu exits", i, vcpu_by_index(i)->stats.total);
    pr_info("  %-6s %-16s %12s %14s %10s", "code", "exit", "count", "cycles", "avg");
    for (unsigned slot = 0; slot < STATS_NSLOTS; slot++) {
        struct stats_row r;
        stats_sum_slot(slot, &r);
        if (r.count)
            pr_info("  %#-6x %-16s %12lu %14lu %10lu", slot, slot_name(slot), r.count, r.cycles,
                    r.cycles / r.count);
    }
    apic_print_stats();
}

const char *stats_mark_text(unsigned marks, uint64_t exitcode, unsigned next_marks)
{
    if (marks & STATS_MARK_REFLECTED)
        return "L2 -> L1 #VMEXIT";
    if (marks & STATS_MARK_L2)
        return "L2 (L0 only)";
    if ((next_marks & STATS_MARK_L2) && exitcode == VMEXIT_VMRUN)
        return "L1 -> L2 VMRUN";
    return "L1";
}

void stats_print_last_exits(const struct vcpu_stats *s)
{
    uint64_t n = s->total < STATS_DUMP_EXITS ? s->total : STATS_DUMP_EXITS;
    pr_err("last %lu exits (oldest first):", n);
    for (uint64_t i = s->total - n; i < s->total; i++) {
        const struct exit_record *r = &s->last[i % STATS_LAST_EXITS];
        const char *name = svm_exit_name(r->exitcode);
        pr_err("  #%-8lu %-12s code %#lx RIP %#lx info1 %#lx info2 %#lx (%s)", i,
               name ? name : "?", r->exitcode, r->rip, r->exitinfo1, r->exitinfo2,
               stats_mark_text((unsigned)r->marks, r->exitcode,
                               i + 1 < s->total ? (unsigned)s->last[(i + 1) % STATS_LAST_EXITS].marks : 0));
    }
}
