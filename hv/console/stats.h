/* Exit statistics, per vCPU: per exit code, how many and the cycles from
 * #VMEXIT to the next VMRUN; and the last exits, for dumps. Each vCPU
 * writes only its own; readers sum them (stats_print: per CPU and total). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

/* The last exits of a vCPU: its trace (the shell's `trace`) and what
 * crash dumps show (the last STATS_DUMP_EXITS of them). A power of two. */
#define STATS_LAST_EXITS 64
#define STATS_DUMP_EXITS 16
/* What became of an exit, noted off the L1 exit path (hv/nested/nested.c): it
 * came from L2; it went to L1 as its #VMEXIT. (A VMRUN that entered L2
 * is the L1 VMRUN exit that an L2 exit follows: stats_mark_text's next.) */
#define STATS_MARK_L2 1u
#define STATS_MARK_REFLECTED 2u
/* Slots: exit codes 0x000-0x3FF as they are, 0x400-0x40F for NPF and the
 * AVIC/VMGEXIT codes, one for VMEXIT_INVALID and one for anything else. */
#define STATS_SLOT_LOW_END 0x410
#define STATS_NSLOTS (STATS_SLOT_LOW_END + 2)

struct exit_record {
    uint64_t exitcode, rip, exitinfo1, exitinfo2;
    uint64_t marks; /* STATS_MARK_*: zeroed at the exit, set off the L1 exit path */
};

/* One exit code's figures: count, cycles from #VMEXIT to the next VMRUN
 * and, of count, the exits of L2: reflected to L1 as its #VMEXIT, or
 * handled by L0 alone (from the marks the nested code leaves on the exit). */
struct stats_row {
    uint64_t count, cycles, l2_reflected, l2_l0;
};

struct vcpu_stats {
    /* One more than the codes: the row written while no exit is under
     * way (current_slot == STATS_NSLOTS), which nothing reads. */
    struct stats_row slots[STATS_NSLOTS + 1];
    struct exit_record last[STATS_LAST_EXITS];
    uint64_t total;
    uint64_t exit_tsc;
    unsigned current_slot; /* STATS_NSLOTS: no exit under way */
};

void stats_init(struct vcpu_stats *s);
void stats_exit_begin(struct vcpu_stats *s, const struct vmcb_control *c, uint64_t rip);
void stats_exit_done(struct vcpu_stats *s);
/* One slot's row summed over every vCPU. */
void stats_sum_slot(unsigned slot, struct stats_row *sum);
/* The same by exit code; false for codes the table does not cover. */
bool stats_sum(uint64_t exitcode, struct stats_row *sum);
uint64_t stats_total_exits(void);
/* Per CPU, then the total. */
void stats_print(void);
/* The last STATS_DUMP_EXITS exits, for crash dumps. */
void stats_print_last_exits(const struct vcpu_stats *s);
/* The exit being handled came from L2 and goes the slow way through
 * hv/nested/nested.c (l2_exit_other): for the trace, and counted as L0's alone;
 * stats_l2_settled() moves it if it ended up reflected after all. */
static inline void stats_mark_l2(struct vcpu_stats *s)
{
    s->last[(s->total - 1) % STATS_LAST_EXITS].marks |= STATS_MARK_L2;
    s->slots[s->current_slot].l2_l0++;
}
/* The exit being handled was reflected to L1 as its #VMEXIT. On the usual
 * path of a reflected exit, which make bench measures: a mark and a count,
 * no branch. */
static inline void stats_mark_reflected(struct vcpu_stats *s)
{
    s->last[(s->total - 1) % STATS_LAST_EXITS].marks |= STATS_MARK_L2 | STATS_MARK_REFLECTED;
    s->slots[s->current_slot].l2_reflected++;
}
/* After the slow way: an exit stats_mark_l2() counted as L0's that was
 * reflected is not L0's alone. */
static inline void stats_l2_settled(struct vcpu_stats *s)
{
    if (s->last[(s->total - 1) % STATS_LAST_EXITS].marks & STATS_MARK_REFLECTED)
        s->slots[s->current_slot].l2_l0--;
}
/* This vCPU's L2 exits reflected to L1 so far (the sum of its rows). */
uint64_t stats_l2_reflected(const struct vcpu_stats *s);
/* "L2 -> L1 #VMEXIT", "L2 (L0 only)", "L1 -> L2 VMRUN" (an L1 VMRUN whose
 * next exit, next_marks, came from L2), "L1". */
const char *stats_mark_text(unsigned marks, uint64_t exitcode, unsigned next_marks);
