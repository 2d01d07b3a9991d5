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
/* What became of an exit, noted off the L1 exit path (hv/nested.c): it
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
    struct stats_row slots[STATS_NSLOTS];
    struct exit_record last[STATS_LAST_EXITS];
    uint64_t total;
    uint64_t exit_tsc;
    unsigned current_slot; /* STATS_NSLOTS: none */
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
/* Moves an exit between its code's L2 counts as its marks change. */
static inline void stats_count_marks(struct vcpu_stats *s, unsigned before, unsigned after)
{
    if (s->current_slot >= STATS_NSLOTS)
        return;
    struct stats_row *row = &s->slots[s->current_slot];
    if ((after & STATS_MARK_REFLECTED) && !(before & STATS_MARK_REFLECTED)) {
        row->l2_reflected++;
        if (before & STATS_MARK_L2)
            row->l2_l0--; /* counted as L0's alone a moment ago */
    } else if ((after & STATS_MARK_L2) && !(before & STATS_MARK_L2)) {
        row->l2_l0++;
    }
}
/* Marks the exit being handled (STATS_MARK_*), for the trace and its
 * code's L2 counts. Only the nested paths call it: L1's exits pay
 * nothing for the split. */
static inline void stats_mark_exit(struct vcpu_stats *s, unsigned marks)
{
    struct exit_record *r = &s->last[(s->total - 1) % STATS_LAST_EXITS];
    unsigned before = (unsigned)r->marks;
    r->marks = before | marks;
    stats_count_marks(s, before, before | marks);
}
/* "L2 -> L1 #VMEXIT", "L2 (L0 only)", "L1 -> L2 VMRUN" (an L1 VMRUN whose
 * next exit, next_marks, came from L2), "L1". */
const char *stats_mark_text(unsigned marks, uint64_t exitcode, unsigned next_marks);
