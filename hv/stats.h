/* Exit statistics, per vCPU: per exit code, how many and the cycles from
 * #VMEXIT to the next VMRUN; and the last exits, for dumps. Each vCPU
 * writes only its own; readers sum them (stats_print: per CPU and total). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

#define STATS_LAST_EXITS 16
/* Slots: exit codes 0x000-0x3FF as they are, 0x400-0x40F for NPF and the
 * AVIC/VMGEXIT codes, one for VMEXIT_INVALID and one for anything else. */
#define STATS_SLOT_LOW_END 0x410
#define STATS_NSLOTS (STATS_SLOT_LOW_END + 2)

struct exit_record {
    uint64_t exitcode, rip, exitinfo1, exitinfo2;
};

struct vcpu_stats {
    struct {
        uint64_t count, cycles;
    } slots[STATS_NSLOTS];
    struct exit_record last[STATS_LAST_EXITS];
    uint64_t total;
    uint64_t exit_tsc;
    unsigned current_slot; /* STATS_NSLOTS: none */
};

void stats_init(struct vcpu_stats *s);
void stats_exit_begin(struct vcpu_stats *s, const struct vmcb_control *c, uint64_t rip);
void stats_exit_done(struct vcpu_stats *s);
/* Per exit code, summed over every vCPU; false for codes the table does
 * not cover. */
bool stats_get(uint64_t exitcode, uint64_t *count, uint64_t *cycles);
uint64_t stats_total_exits(void);
/* Per CPU, then the total. */
void stats_print(void);
void stats_print_last_exits(const struct vcpu_stats *s);
