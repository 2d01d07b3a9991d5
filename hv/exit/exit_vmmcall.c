/* VMMCALL from L1: the hypercall ABI of hv/exit/hypercall_abi.h. */
#include "hv/memory/iommu.h"
#include "hv/console/console.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/smp/apic.h"
#include "hv/core/percpu.h"
#include "hv/memory/guest_mem.h"
#include "hv/exit/hypercall_abi.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/console/stats.h"

static int64_t call_version(struct vcpu *v)
{
    const char *s = HV_SIGNATURE;
    uint64_t lo = 0, hi = 0;
    for (int i = 0; i < 8; i++)
        lo |= (uint64_t)(uint8_t)s[i] << (8 * i);
    for (int i = 0; i < 4; i++)
        hi |= (uint64_t)(uint8_t)s[8 + i] << (8 * i);
    v->regs.rbx = HV_ABI_VERSION;
    v->regs.rcx = lo;
    v->regs.rdx = hi;
    return HV_OK;
}

static int64_t call_stats(struct vcpu *v)
{
    struct stats_row r;
    if (!stats_sum(v->regs.rbx, &r))
        return HV_EINVAL;
    v->regs.rbx = r.count;
    v->regs.rcx = r.cycles;
    v->regs.rdx = stats_total_exits();
    return HV_OK;
}

/* The text is copied once into the hypervisor's own buffer, then printed:
 * L1 (another CPU, later) cannot change it between check and use. */
static int64_t call_log(struct vcpu *v)
{
    uint64_t gpa = v->regs.rbx, len = v->regs.rcx;
    char text[HV_LOG_MAX + 1];
    if (len == 0 || len > HV_LOG_MAX)
        return HV_EINVAL;
    if (!l1_ram_ok(gpa, len))
        return HV_EFAULT;
    const volatile char *src = (const volatile char *)gpa; /* identity map */
    for (uint64_t i = 0; i < len; i++) {
        char c = src[i];
        text[i] = (c >= 0x20 && c < 0x7F) ? c : '?';
    }
    text[len] = 0;
    pr_info("L1: %s", text);
    return HV_OK;
}

static int64_t call_meminfo(struct vcpu *v)
{
    v->regs.rbx = hv_region_pa();
    v->regs.rcx = hv_region_size();
    v->regs.rdx = guest_mem_hv_accesses();
    return HV_OK;
}

static int64_t call_dma_info(struct vcpu *v)
{
    struct iommu_stats st;
    iommu_get_stats(&st); /* drains the event logs first */
    v->regs.rbx = st.owned;
    v->regs.rcx = st.dma_faults;
    v->regs.rdx = st.other_events;
    return HV_OK;
}

static int64_t call_nested_info(struct vcpu *v)
{
    v->regs.rbx = v->nested.vmruns;
    v->regs.rcx = stats_l2_reflected(&v->stats);
    v->regs.rdx = page_alloc_free_pages(hv_pages());
    return HV_OK;
}

static int64_t call_tlb_info(struct vcpu *v)
{
    v->regs.rbx = v->tlb.flushes_asid;
    v->regs.rcx = v->tlb.flushes_all;
    v->regs.rdx = v->tlb.npt02_resyncs;
    return HV_OK;
}

static int64_t call_smp_ready(struct vcpu *v)
{
    unsigned in = apic_smp_ready();
    v->regs.rbx = in;
    v->regs.rcx = vcpu_count();
    return HV_OK;
}

/* One row of HV_STATS_EXITS or HV_STATS_L2: the exit code's two figures
 * summed over every CPU; false when that table leaves the row out. */
static bool exit_code_row(uint64_t table, unsigned slot, uint64_t *a, uint64_t *b)
{
    struct stats_row r;
    stats_sum_slot(slot, &r);
    *a = table == HV_STATS_EXITS ? r.count : r.l2_reflected;
    *b = table == HV_STATS_EXITS ? r.cycles : r.l2_l0;
    return table == HV_STATS_EXITS ? r.count != 0 : (r.l2_reflected | r.l2_l0) != 0;
}

static int64_t call_stats_table(struct vcpu *v)
{
    uint64_t table = v->regs.rcx, row = v->regs.rdx, a, b;
    if (v->regs.rbx != HV_STATS_VERSION) {
        v->regs.rbx = HV_STATS_VERSION;
        return HV_EINVAL;
    }
    _Static_assert(HV_STATS_ROW_OTHER + 1 == STATS_NSLOTS, "rows are the statistics' slots");
    if (table == HV_STATS_EXITS || table == HV_STATS_L2) {
        for (; row < STATS_NSLOTS; row++) {
            if (exit_code_row(table, (unsigned)row, &a, &b)) {
                v->regs.rbx = row;
                v->regs.rcx = a;
                v->regs.rdx = b;
                return HV_OK;
            }
        }
    } else if (table == HV_STATS_CPUS) {
        if (row < vcpu_count()) {
            const struct vcpu *c = vcpu_by_index((unsigned)row);
            v->regs.rbx = row;
            v->regs.rcx = c->stats.total;
            v->regs.rdx = stats_l2_reflected(&c->stats);
            return HV_OK;
        }
    } else {
        return HV_EINVAL;
    }
    v->regs.rbx = HV_STATS_END;
    return HV_OK;
}

static int64_t hypercall(struct vcpu *v, uint64_t fn)
{
    switch (fn) {
    case HV_CALL_VERSION:
        return call_version(v);
    case HV_CALL_STATS:
        return call_stats(v);
    case HV_CALL_LOG:
        return call_log(v);
    case HV_CALL_STATS_PRINT:
        stats_print();
        return HV_OK;
    case HV_CALL_MEMINFO:
        return call_meminfo(v);
    case HV_CALL_NESTED_INFO:
        return call_nested_info(v);
    case HV_CALL_TLB_INFO:
        return call_tlb_info(v);
    case HV_CALL_SMP_READY:
        return call_smp_ready(v);
    case HV_CALL_DMA_INFO:
        return call_dma_info(v);
    case HV_CALL_STATS_TABLE:
        return call_stats_table(v);
    }
    return HV_ENOSYS;
}

void exit_vmmcall(struct vcpu *v)
{
    struct vmcb_save *s = &v->vmcb.va->save;
    bool allowed = !s->cpl || (s->rax == HV_CALL_STATS_TABLE && console_debug_shell());
    s->rax = (uint64_t)(allowed ? hypercall(v, s->rax) : HV_EPERM);
    vcpu_skip_insn(v);
}
