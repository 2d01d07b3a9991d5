/* Exit statistics: per exit code, how many and the cycles from #VMEXIT to
 * the next VMRUN; and the last exits, for dumps. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "arch/x86/vmcb.h"

#define STATS_LAST_EXITS 16

struct exit_record {
    uint64_t exitcode, rip, exitinfo1, exitinfo2;
};

void stats_exit_begin(const struct vmcb_control *c, uint64_t rip);
void stats_exit_done(void);
/* Per exit code; false for codes the table does not cover. */
bool stats_get(uint64_t exitcode, uint64_t *count, uint64_t *cycles);
uint64_t stats_total_exits(void);
void stats_print(void);
void stats_print_last_exits(void);
