/* The hypercall ABI between L1 and the hypervisor (VMMCALL, 0F 01 D9).
 *
 * In:  RAX = function, RBX, RCX, RDX = arguments.
 * Out: RAX = status (HV_OK or a negative HV_E*), RBX, RCX, RDX = results;
 *      other registers are preserved. Only CPL 0 may call; from CPL > 0
 *      every call fails with HV_EPERM. Buffers are guest-physical addresses
 *      and must lie inside one RAM range of L1's memory map. */
#pragma once

#define HV_ABI_VERSION 0x00010004u /* major 1, minor 4 */
#define HV_SIGNATURE "NestedSVM-HV" /* CPUID 0x40000000 EBX:ECX:EDX too */

enum hv_call {
    /* -> RBX = HV_ABI_VERSION, RCX:RDX = the 12-byte signature, zero padded
     *    (RCX bytes 0-7, RDX bytes 8-11). */
    HV_CALL_VERSION = 0,
    /* RBX = exit code -> RBX = count, RCX = cycles from #VMEXIT to the next
     * VMRUN, summed, RDX = total exits of all kinds. HV_EINVAL for an exit
     * code the statistics do not cover. */
    HV_CALL_STATS = 1,
    /* RBX = GPA of text, RCX = length (1..HV_LOG_MAX): prints
     * "[hv] L1: <text>" (non-printable bytes shown as '?'). */
    HV_CALL_LOG = 2,
    /* Prints the exit statistics table on the console. */
    HV_CALL_STATS_PRINT = 3,
    /* -> RBX = hypervisor region base, RCX = its size, RDX = number of L1
     *    accesses to it so far (see "L1 and the hypervisor's memory"). */
    HV_CALL_MEMINFO = 4,
    /* -> RBX = emulated VMRUNs of this vCPU, RCX = L2 exits reflected to
     *    L1, RDX = free pages in the hypervisor's page pool. */
    HV_CALL_NESTED_INFO = 5,
    /* -> RBX = TLB flushes by ASID (TLB_CONTROL 3), RCX = full flushes
     *    (TLB_CONTROL 1), RDX = NPT02 resyncs, all of this vCPU so far. */
    HV_CALL_TLB_INFO = 6,
    /* The loader has brought every AP it could under the hypervisor: from
     * now on INIT and SIPI to a CPU that is not under it are dropped, not
     * sent (a CPU started outside would read the hypervisor's memory).
     * -> RBX = CPUs under the hypervisor, RCX = CPUs the firmware reported.
     * Since ABI 1.1. */
    HV_CALL_SMP_READY = 7,
    /* DMA protection (README, "Security"): -> RBX = IOMMUs the hypervisor
     * owns (0: DMA is not protected), RCX = device accesses the IOMMUs
     * refused so far, RDX = other IOMMU events. Since ABI 1.2. */
    HV_CALL_DMA_INFO = 8,
    /* The exit statistics, for tools in L1 (tools/hvstat.c), one row per
     * call, versioned so that the rows can grow. Since ABI 1.3.
     * In: RBX = HV_STATS_VERSION, RCX = table, RDX = first row to look at.
     *   HV_STATS_EXITS: rows are exit codes (0x000-0x40F; HV_STATS_ROW_INVALID
     *     for VMEXIT_INVALID, HV_STATS_ROW_OTHER for the rest); only rows
     *     with exits are returned: RBX = the row, RCX = its count summed
     *     over every CPU, RDX = its cycles from #VMEXIT to the next VMRUN.
     *   HV_STATS_CPUS: rows are CPUs: RBX = the CPU, RCX = its exits,
     *     RDX = its L2 exits reflected to L1.
     *   HV_STATS_L2 (since ABI 1.4): rows are exit codes as for
     *     HV_STATS_EXITS, only those with L2 exits: RCX = the L2 exits of
     *     that code reflected to L1, RDX = those L0 handled alone.
     * RBX = HV_STATS_END when no row is left. Another version: HV_EINVAL
     * with RBX = the version supported. Unlike the other calls this one
     * may be made at any CPL while debug_shell = yes (counts only, a
     * debugging aid for userspace tools); with debug_shell = no, CPL 0. */
    HV_CALL_STATS_TABLE = 9,
};

#define HV_STATS_VERSION 1
#define HV_STATS_EXITS 0
#define HV_STATS_CPUS 1
#define HV_STATS_L2 2
#define HV_STATS_ROW_INVALID 0x410
#define HV_STATS_ROW_OTHER 0x411
#define HV_STATS_END 0xFFFFFFFFu

#define HV_LOG_MAX 256

#define HV_OK 0
#define HV_ENOSYS (-1LL) /* unknown function */
#define HV_EINVAL (-2LL) /* bad argument (length, exit code) */
#define HV_EFAULT (-3LL) /* buffer not in L1's RAM, or in the hypervisor's */
#define HV_EPERM (-4LL)  /* called from CPL > 0 */
