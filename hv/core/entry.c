/* The core's entry point, called by the loader's trampoline
 * (boot/enter_core.asm) on each CPU in turn, the boot CPU first, on the
 * core's own stack, page tables, GDT/TSS (that CPU's) and IDT. It does not
 * return when all goes well: the loader's state on that CPU becomes L1's,
 * and the loader (on an AP: the firmware's AP procedure) resumes as L1
 * right after its call into the core. A return (non-zero) means the
 * hypervisor could not start, and the loader boots on without it. */
#include <stdint.h>
#include "hv/core/boot_info.h"
#include "hv/core/exception.h"
#include "hv/core/fpu.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/core/svm_report.h"
#include "hv/core/symbols.h"
#include "arch/x86/svm_probe.h"
#include "hv/memory/guest_mem.h"
#include "hv/memory/iommu.h"
#include "arch/x86/cpu.h"
#include "hv/core/host_caps.h"
#include "hv/core/percpu.h"
#include "hv/core/launch.h"
#include "hv/tlb/tlb.h"
#include "hv/core/vcpu.h"

#define HV_VERSION "0.1"

extern const uint64_t exception_stub_table[HV_EXC_VECTORS];

/* Found by the loader at the start of the image (linker.ld puts .hvheader
 * first). */
__attribute__((section(".hvheader"), used))
const struct hv_core_header hv_core_header = {
    .magic = HV_CORE_MAGIC,
    .exception_stubs = (uint64_t)exception_stub_table,
};

/* config debug_crash=yes: a write to an address the core never maps, so the
 * crash dump path can be tested end to end (vector, CR2, backtrace). */
#define DEBUG_CRASH_ADDR 0xFFFF800000000000UL
static __attribute__((noinline)) void debug_crash(void)
{
    pr_warn("debug_crash=yes: faulting on purpose at %#lx", DEBUG_CRASH_ADDR);
    *(volatile uint64_t *)DEBUG_CRASH_ADDR = 0xdead;
}

static const struct hv_boot_info *boot_info;

/* An AP, once the boot CPU has set everything up: only its own vCPU is
 * left to launch (its memory was allocated on the boot CPU). */
static int ap_entry(struct hv_boot_info *info, uint32_t cpu)
{
    fpu_host_enter();
    struct vcpu *v = vcpu_by_index(cpu);
    if (info != boot_info || !v)
        return 3;
    percpu_enter(v);
    v->apic_id = cpu_apic_id(); /* the CPU's own word over the firmware's list */
    launch_l1(info, v);
    fpu_guest_restore(v);
    return 2;
}

static void host_caps_read(const struct svm_caps *caps)
{
    struct host_caps hc = {
        .nrips = svm_has(caps, SVM_FEAT_NRIPS),
        .flush_by_asid = svm_has(caps, SVM_FEAT_FLUSH_BY_ASID),
        .decode_assists = svm_has(caps, SVM_FEAT_DECODE_ASSISTS),
        .vgif = svm_has(caps, SVM_FEAT_VGIF),
        .pause_filter = svm_has(caps, SVM_FEAT_PAUSE_FILTER),
        .tsc_ratio = svm_has(caps, SVM_FEAT_TSC_RATE_MSR),
        .pause_threshold = svm_has(caps, SVM_FEAT_PAUSE_FILTER_THRESHOLD),
        .vmload_virt = svm_has(caps, SVM_FEAT_VMSAVE_VIRT),
        .monitor = (cpuid(1, 0).ecx >> 3) & 1,
        .x2apic = (cpuid(1, 0).ecx >> 21) & 1,
        .nasid = caps->nasid,
    };
    host_caps_init(&hc);
}

static uint32_t apic_ids[HV_MAX_CPUS];

int core_entry(struct hv_boot_info *info, uint32_t cpu);
int core_entry(struct hv_boot_info *info, uint32_t cpu)
{
    if (cpu != 0)
        return ap_entry(info, cpu);
    /* First: from here on the host may run newlib code that uses SSE. */
    fpu_host_enter();
    log_init(&info->config);
    log_ring_append(info->early_log, info->early_log_len);
    symbols_init(info);
    exception_init(info->config.on_fault, HV_VBASE, HV_VBASE + info->region_size);
    memory_init(info);

    pr_info("core " HV_VERSION " running at %#lx, region %#lx, %u CPU(s) reported",
            (uint64_t)HV_VBASE, info->region_pa, info->ncpus);
    struct svm_caps caps;
    svm_probe(&caps);
    svm_report(&caps);
    memory_report();

    if (info->config.debug_crash)
        debug_crash();
    if (svm_missing_requirement(&caps)) { /* the loader checked; be safe anyway */
        pr_err("not starting: %s", svm_missing_requirement(&caps));
        fpu_guest_restore(vcpu_current());
        return 1;
    }
    host_caps_read(&caps);
    for (uint32_t i = 0; i < info->ncpus && i < HV_MAX_CPUS; i++)
        apic_ids[i] = info->cpu[i].apic_id;
    if (!guest_mem_init(info))
        goto out_of_memory;
    iommu_init(info); /* failure leaves DMA unprotected, said on the console */
    if (percpu_init(info->ncpus, apic_ids) && launch_prepare(info)) {
        pr_info("core initialized");
        boot_info = info;
        struct vcpu *v = vcpu_by_index(0);
        v->apic_id = cpu_apic_id();
        launch_l1(info, v); /* the loader resumes as L1; we stay in the run loop */
    }
    iommu_abandon(info);
out_of_memory:
    pr_err("out of hypervisor memory (memory_mb=%u): not starting", info->config.memory_mb);
    fpu_guest_restore(vcpu_current());
    return 2;
}
