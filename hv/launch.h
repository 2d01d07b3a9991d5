/* Launching the loader as L1: its CPU state, captured by the entry
 * trampoline, becomes VMCB01's save area, and the boot CPU enters the run
 * loop. The loader resumes right after its call into the core, as L1. */
#pragma once
#include "hv/boot_info.h"

/* Returns only if it could not launch (out of hypervisor memory), before
 * anything was enabled. */
void launch_l1(struct hv_boot_info *info);
