/* Launching L1 on a CPU: the state the entry trampoline captured there
 * (the loader's on the boot CPU, the firmware's AP procedure on an AP)
 * becomes VMCB01's save area, and the CPU enters the run loop. The caller
 * resumes right after its call into the core, as L1. */
#pragma once
#include <stdbool.h>
#include "hv/core/boot_info.h"
#include "hv/core/vcpu.h"

/* Once, on the boot CPU: what the vCPUs share (L0's permission maps, the
 * APIC page's protection) and every vCPU's memory. false: out of memory,
 * nothing enabled. */
bool launch_prepare(const struct hv_boot_info *info);
/* Returns only if it could not launch, before anything was enabled. */
void launch_l1(struct hv_boot_info *info, struct vcpu *v);
