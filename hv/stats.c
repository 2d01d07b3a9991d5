#include "hv/stats.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/log.h"

/* Slots: exit codes 0x000-0x3FF as they are, 0x400-0x40F for NPF and the
 * AVIC/VMGEXIT codes, one for VMEXIT_INVALID and one for anything else. */
#define SLOT_LOW_END 0x410
#define SLOT_INVALID SLOT_LOW_END
#define SLOT_OTHER (SLOT_LOW_END + 1)
#define NSLOTS (SLOT_LOW_END + 2)

static struct {
    uint64_t count, cycles;
} slots[NSLOTS];
static struct exit_record last[STATS_LAST_EXITS];
static uint64_t total;
static uint64_t exit_tsc;
static unsigned current_slot = NSLOTS; /* none */


static unsigned slot_of(uint64_t code)
{
    /* TCG writes VMEXIT_INVALID as 0x00000000ffffffff (BRIEF §5). */
    if (code == VMEXIT_INVALID || (uint32_t)code == 0xFFFFFFFFu)
        return SLOT_INVALID;
    return code < SLOT_LOW_END ? (unsigned)code : SLOT_OTHER;
}

void stats_exit_begin(const struct vmcb_control *c, uint64_t rip)
{
    exit_tsc = rdtsc_now();
    current_slot = slot_of(c->exitcode);
    slots[current_slot].count++;
    last[total % STATS_LAST_EXITS] =
        (struct exit_record){ c->exitcode, rip, c->exitinfo1, c->exitinfo2 };
    total++;
}

void stats_exit_done(void)
{
    if (current_slot < NSLOTS)
        slots[current_slot].cycles += rdtsc_now() - exit_tsc;
    current_slot = NSLOTS;
}

bool stats_get(uint64_t exitcode, uint64_t *count, uint64_t *cycles)
{
    unsigned s = slot_of(exitcode);
    if (s == SLOT_OTHER)
        return false;
    *count = slots[s].count;
    *cycles = slots[s].cycles;
    return true;
}

uint64_t stats_total_exits(void)
{
    return total;
}

static const char *slot_name(unsigned s)
{
    if (s == SLOT_INVALID)
        return "INVALID";
    if (s == SLOT_OTHER)
        return "other";
    const char *n = svm_exit_name(s);
    return n ? n : "?";
}

void stats_print(void)
{
    pr_info("exit statistics: %lu exits", total);
    pr_info("  %-6s %-16s %12s %14s %10s", "code", "exit", "count", "cycles", "avg");
    for (unsigned s = 0; s < NSLOTS; s++) {
        if (!slots[s].count)
            continue;
        pr_info("  %#-6x %-16s %12lu %14lu %10lu", s, slot_name(s), slots[s].count,
                slots[s].cycles, slots[s].cycles / slots[s].count);
    }
}

void stats_print_last_exits(void)
{
    uint64_t n = total < STATS_LAST_EXITS ? total : STATS_LAST_EXITS;
    pr_err("last %lu exits (oldest first):", n);
    for (uint64_t i = total - n; i < total; i++) {
        const struct exit_record *r = &last[i % STATS_LAST_EXITS];
        const char *name = svm_exit_name(r->exitcode);
        pr_err("  #%-8lu %-12s code %#lx RIP %#lx info1 %#lx info2 %#lx", i,
               name ? name : "?", r->exitcode, r->rip, r->exitinfo1, r->exitinfo2);
    }
}
