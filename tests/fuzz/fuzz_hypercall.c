/* Fuzz target: L1's hypercalls (hv/exit/exit_vmmcall.c, ABI in
 * hv/exit/hypercall_abi.h), with the real RIP advance and single-step trap of
 * hv/core/vcpu.c and hv/decode/insn_len.c.
 *
 * Input: a sequence of VMMCALLs, each: flags (CPL, NRIPS, TF, RF, an event
 * already queued, interrupt shadow, 32- or 64-bit code), the function (mostly a known one), RBX/RCX/RDX and the
 * other registers, and some bytes written into L1's RAM first (the text a
 * LOG call may point at). Buffers are addresses in the fake L1 RAM
 * (tests/fuzz/fake_l1_ram.h, with the hypervisor's region poisoned) or
 * anything at all.
 *
 * Invariants after every call:
 *   - RAX is HV_OK or one of the documented errors; from CPL > 0 it is
 *     HV_EPERM; an unknown function is HV_ENOSYS;
 *   - a failed call changes no register but RAX; a call changes no register
 *     outside RAX, RBX, RCX, RDX, and only those its function returns, with
 *     the values the ABI names (signature, the statistics, ...);
 *   - LOG: HV_EINVAL exactly for a length outside 1..HV_LOG_MAX, then
 *     HV_EFAULT exactly for a buffer not inside L1's RAM; on success one line
 *     "L1: <text>" with the buffer's bytes, non-printable ones as '?', and
 *     nothing read outside the buffer (ASan: the region is poisoned);
 *   - the guest moves past the VMMCALL (nRIP with NRIPS, else RIP + 3,
 *     which wraps at 2^32 in 32-bit code and at 2^64 in 64-bit code), its
 *     interrupt shadow and RFLAGS.RF end, a TF owes a #DB trap (DR6.BS), and
 *     nothing else of the VMCB's save area changes. */
#include <stdarg.h>
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "arch/x86/vectors.h"
#include "hv/smp/apic.h"
#include "hv/core/exception.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/memory/guest_mem.h"
#include "hv/core/host_caps.h"
#include "hv/exit/hypercall_abi.h"
#include "hv/memory/iommu.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/nested/nested.h"
#include "hv/core/percpu.h"
#include "hv/console/stats.h"
#include "tests/fuzz/fake_l1_ram.h"
#include "tests/fuzz/fuzz_check.h"

/* --- stand-ins for the rest of the hypervisor -------------------------- */
static char last_log[LOG_LINE_MAX];
static unsigned log_lines, stats_prints, smp_ready_calls;

void log_printf(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
    log_lines++;
}
void hv_fatal_stop(void)
{
    fuzz_broken("the hypervisor never stops on a hypercall", __FILE__, __LINE__);
}
void stats_print_last_exits(const struct vcpu_stats *s) {}
bool nested_l1_takes_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
    fuzz_broken("no L2 here", __FILE__, __LINE__);
}

#define STATS_COVERED 0x500 /* exit codes the stand-in statistics cover */
void stats_sum_slot(unsigned slot, struct stats_row *sum)
{
    /* Every third row empty, so that the tables skip some. */
    *sum = slot % 3 ? (struct stats_row){ slot * 7 + 1, slot * 13 + 5, slot % 2, slot % 5 }
                    : (struct stats_row){ 0 };
}
bool stats_sum(uint64_t code, struct stats_row *sum)
{
    if (code >= STATS_COVERED)
        return false;
    *sum = (struct stats_row){ code * 7 + 1, code * 13 + 5, 0, 0 };
    return true;
}
uint64_t stats_total_exits(void) { return 0x1234; }
/* The stand-in: the fuzzed vCPU's reflected count sits in its first row. */
uint64_t stats_l2_reflected(const struct vcpu_stats *s) { return s->slots[0].l2_reflected; }
void stats_print(void) { stats_prints++; }
uint64_t hv_region_pa(void) { return fake_hv_lo(); }
uint64_t hv_region_size(void) { return FAKE_HV_PAGES * 4096ull; }
uint64_t guest_mem_hv_accesses(void) { return 42; }
void iommu_get_stats(struct iommu_stats *s) { *s = (struct iommu_stats){ 1, 5, 7 }; }
/* debug_shell = no: every call from CPL > 0 is refused. */
bool console_debug_shell(void) { return false; }
static struct page_alloc pages;
struct page_alloc *hv_pages(void) { return &pages; }
uint64_t page_alloc_free_pages(const struct page_alloc *pa) { return 777; }
unsigned apic_smp_ready(void) { smp_ready_calls++; return 3; }
unsigned vcpu_count(void) { return 4; }

/* --- the vCPU ------------------------------------------------------------- */
static struct vcpu vcpu;
/* The statistics table reads every vCPU: here one, four times over. */
struct vcpu *vcpu_by_index(unsigned i) { (void)i; return &vcpu; }
static struct vmcb vmcb01, guest_cpu;

static void vcpu_reset(void)
{
    memset(&vcpu, 0, sizeof vcpu);
    memset(&vmcb01, 0, sizeof vmcb01);
    vcpu.vmcb = vcpu.vmcb01 = (struct vmcb_ref){ &vmcb01, 0x1000 };
    vcpu.guest_cpu = (struct vmcb_ref){ &guest_cpu, 0x2000 };
}

/* What one call's input says. */
struct call {
    uint8_t flags;
    uint64_t fn;
};
#define F_CPL3 0x01
#define F_NRIPS 0x02
#define F_TF 0x04
#define F_RF 0x08
#define F_EVENT 0x10  /* an event is already queued */
#define F_SHADOW 0x20 /* in an interrupt shadow */
#define F_CODE32 0x40 /* L1 runs 32-bit code (else 64-bit) */

static bool code64(void)
{
    return (vmcb01.save.efer & EFER_LMA) && (vmcb01.save.cs.attrib & VMCB_SEG_ATTR_L);
}

static void load_call(struct fuzz_in *in, struct call *c)
{
    c->flags = in_u8(in);
    uint8_t sel = in_u8(in);
    c->fn = sel < 0xF0 ? sel % 9 : in_u64(in); /* 8 is unknown */
    /* Text for a LOG call: bytes somewhere in L1's RAM. */
    uint16_t at = in_u16(in) % (FAKE_RAM_PAGES * 4096u);
    uint8_t n = in_u8(in);
    for (unsigned i = 0; i < n; i++) {
        uint8_t b = in_u8(in);
        if (l1_ram_ok(fake_ram_base() + at + i, 1))
            fake_ram[at + i] = b;
    }
    struct vmcb_save *s = &vmcb01.save;
    uint8_t gsel = in_u8(in);
    vcpu.regs.rbx = c->fn == HV_CALL_LOG ? fake_gpa(gsel, in_u64(in)) : in_u64(in);
    vcpu.regs.rcx = gsel & 0x40 ? in_u64(in) : in_u16(in) % (HV_LOG_MAX + 8);
    vcpu.regs.rdx = in_u64(in);
    vcpu.regs.rsi = in_u64(in);
    vcpu.regs.r15 = in_u64(in);
    s->rax = c->fn;
    s->rip = in_u64(in);
    s->rsp = in_u64(in);
    s->rflags = 2 | (c->flags & F_TF ? RFLAGS_TF : 0) | (c->flags & F_RF ? RFLAGS_RF : 0);
    s->cpl = c->flags & F_CPL3 ? 3 : 0;
    s->efer = EFER_SVME | EFER_LME | EFER_LMA;
    s->cs.attrib = c->flags & F_CODE32 ? VMCB_SEG_ATTR_DB : VMCB_SEG_ATTR_L;
    if (c->flags & F_CODE32)
        s->rip = (uint32_t)s->rip;
    s->dr6 = 0xFFFF0FF0;
    vmcb01.control.exitcode = VMEXIT_VMMCALL;
    vmcb01.control.nrip = c->flags & F_NRIPS ? in_u64(in) : 0;
    vmcb01.control.eventinj = c->flags & F_EVENT ? vmcb_event_make(32, VMCB_EVENT_TYPE_INTR, 0, 0) : 0;
    vmcb01.control.int_state = c->flags & F_SHADOW ? VMCB_INT_STATE_INTERRUPT_SHADOW : 0;
    host_caps_init(&(struct host_caps){ .nrips = (c->flags & F_NRIPS) != 0 });
}

/* --- the invariants ---------------------------------------------------- */
static bool status_known(int64_t r)
{
    return r == HV_OK || r == HV_ENOSYS || r == HV_EINVAL || r == HV_EFAULT || r == HV_EPERM;
}

static void check_log_call(const struct guest_regs *before, int64_t r, unsigned lines_before)
{
    uint64_t gpa = before->rbx, len = before->rcx;
    if (len == 0 || len > HV_LOG_MAX) {
        FUZZ_CHECK(r == HV_EINVAL, "LOG: a length outside 1..HV_LOG_MAX is HV_EINVAL");
        return;
    }
    if (!l1_ram_ok(gpa, len)) {
        FUZZ_CHECK(r == HV_EFAULT, "LOG: a buffer outside L1's RAM is HV_EFAULT");
        return;
    }
    FUZZ_CHECK(r == HV_OK, "LOG: a good buffer is logged");
    FUZZ_CHECK(log_lines == lines_before + 1, "LOG: one line per call");
    char want[LOG_LINE_MAX];
    size_t k = (size_t)snprintf(want, sizeof want, "L1: ");
    const uint8_t *src = (const uint8_t *)(uintptr_t)gpa;
    for (uint64_t i = 0; i < len; i++)
        want[k++] = src[i] >= 0x20 && src[i] < 0x7F ? (char)src[i] : '?';
    want[k] = 0;
    FUZZ_CHECK(strcmp(last_log, want) == 0, "LOG: the line is the buffer, non-printables as '?'");
}

/* Which of RBX, RCX, RDX a successful call returns, and their values. */
static void check_results(uint64_t fn, const struct guest_regs *b, const struct guest_regs *a)
{
    const struct guest_regs same = *b;
    switch (fn) {
    case HV_CALL_VERSION: {
        uint64_t lo, hi = 0;
        memcpy(&lo, HV_SIGNATURE, 8);
        memcpy(&hi, &HV_SIGNATURE[8], 4);
        FUZZ_CHECK(a->rbx == HV_ABI_VERSION && a->rcx == lo && a->rdx == hi,
                   "VERSION: the ABI version and the signature");
        return;
    }
    case HV_CALL_STATS: {
        struct stats_row r;
        stats_sum(b->rbx, &r);
        FUZZ_CHECK(a->rbx == r.count && a->rcx == r.cycles && a->rdx == stats_total_exits(),
                   "STATS: count, cycles, total");
        return;
    }
    case HV_CALL_MEMINFO:
        FUZZ_CHECK(a->rbx == hv_region_pa() && a->rcx == hv_region_size() &&
                       a->rdx == guest_mem_hv_accesses(),
                   "MEMINFO: region and accesses");
        return;
    case HV_CALL_NESTED_INFO:
        FUZZ_CHECK(a->rbx == vcpu.nested.vmruns && a->rcx == stats_l2_reflected(&vcpu.stats) &&
                       a->rdx == page_alloc_free_pages(&pages),
                   "NESTED_INFO: VMRUNs, reflected exits, free pages");
        return;
    case HV_CALL_TLB_INFO:
        FUZZ_CHECK(a->rbx == vcpu.tlb.flushes_asid && a->rcx == vcpu.tlb.flushes_all &&
                       a->rdx == vcpu.tlb.npt02_resyncs,
                   "TLB_INFO: the vCPU's flush counts");
        return;
    case HV_CALL_SMP_READY:
        FUZZ_CHECK(a->rbx == 3 && a->rcx == vcpu_count() && a->rdx == same.rdx,
                   "SMP_READY: CPUs under the hypervisor and reported");
        return;
    case HV_CALL_DMA_INFO:
        FUZZ_CHECK(a->rbx == 1 && a->rcx == 5 && a->rdx == 7,
                   "DMA_INFO: IOMMUs owned, refusals, other events");
        return;
    case HV_CALL_STATS_TABLE:
        FUZZ_CHECK(a->rbx == HV_STATS_END ||
                       (b->rcx != HV_STATS_CPUS ? a->rbx < STATS_NSLOTS && a->rbx >= b->rdx
                                                : a->rbx < vcpu_count() && a->rbx == b->rdx),
                   "STATS_TABLE: a row at or after the one asked for, or the end");
        return;
    }
    FUZZ_CHECK(a->rbx == same.rbx && a->rcx == same.rcx && a->rdx == same.rdx,
               "a call without results leaves RBX, RCX, RDX");
}

static void check_save_area(const struct call *c, const struct vmcb *before)
{
    struct vmcb want = *before;
    /* The CPU's nRIP, else RIP + 3, which in 32-bit code wraps at 4 GiB
     * as EIP does (in 64-bit code at 2^64: an instruction may end there). */
    uint64_t next = (c->flags & F_NRIPS) && before->control.nrip ? before->control.nrip
                                                                 : before->save.rip + 3;
    if (!code64() && !((c->flags & F_NRIPS) && before->control.nrip))
        next = (uint32_t)next;
    want.save.rip = next;
    want.save.rax = vmcb01.save.rax; /* the status, checked apart */
    want.control.int_state &= ~VMCB_INT_STATE_INTERRUPT_SHADOW;
    want.save.rflags &= ~RFLAGS_RF;
    if ((before->save.rflags & RFLAGS_TF) && !(before->control.eventinj & VMCB_EVENT_V)) {
        want.save.dr6 |= DR6_BS;
        want.save.dr7 &= ~DR7_GD; /* as delivering #DB does */
        want.control.eventinj = vmcb_event_make(VEC_DB, VMCB_EVENT_TYPE_EXCEPTION, 0, 0);
    }
    FUZZ_CHECK(vmcb01.save.rip == next, "the guest moves past the VMMCALL");
    FUZZ_CHECK(!(vmcb01.save.rflags & RFLAGS_RF), "RFLAGS.RF ends with the instruction");
    FUZZ_CHECK(vmcb01.control.eventinj == want.control.eventinj,
               "a TF owes a #DB trap after the VMMCALL (and nothing else is injected)");
    FUZZ_CHECK(!memcmp(&vmcb01, &want, sizeof want), "nothing else of the VMCB changes");
}

static void one_call(struct fuzz_in *in)
{
    struct call c;
    load_call(in, &c);
    const struct guest_regs before = vcpu.regs;
    static struct vmcb vmcb_before;
    vmcb_before = vmcb01;
    unsigned lines = log_lines, prints = stats_prints, smp = smp_ready_calls;

    exit_vmmcall(&vcpu);

    int64_t r = (int64_t)vmcb01.save.rax;
    const struct guest_regs *after = &vcpu.regs;
    FUZZ_CHECK(status_known(r), "RAX is HV_OK or a documented error");
    check_save_area(&c, &vmcb_before);
    if (c.flags & F_CPL3)
        FUZZ_CHECK(r == HV_EPERM, "from CPL > 0 every call is HV_EPERM");
    else if (c.fn > HV_CALL_STATS_TABLE)
        FUZZ_CHECK(r == HV_ENOSYS, "an unknown function is HV_ENOSYS");
    else if (c.fn == HV_CALL_STATS_TABLE)
        FUZZ_CHECK((r == HV_OK) == (before.rbx == HV_STATS_VERSION &&
                                    before.rcx <= HV_STATS_L2),
                   "STATS_TABLE: HV_EINVAL for another version or table");
    else if (c.fn == HV_CALL_LOG)
        check_log_call(&before, r, lines);
    else if (c.fn == HV_CALL_STATS)
        FUZZ_CHECK((r == HV_OK) == (before.rbx < STATS_COVERED), "STATS: HV_EINVAL for codes not covered");
    else
        FUZZ_CHECK(r == HV_OK, "the other functions succeed");
    if (r != HV_OK) {
        struct guest_regs want = before;
        if (c.fn == HV_CALL_STATS_TABLE && !(c.flags & F_CPL3) && before.rbx != HV_STATS_VERSION)
            want.rbx = HV_STATS_VERSION; /* the version it speaks, documented */
        FUZZ_CHECK(!memcmp(after, &want, sizeof want), "a failed call changes no register but RAX");
        FUZZ_CHECK(log_lines == lines && stats_prints == prints && smp_ready_calls == smp,
                   "a failed call does nothing");
        return;
    }
    check_results(c.fn, &before, after);
    FUZZ_CHECK(after->rsi == before.rsi && after->rdi == before.rdi && after->rbp == before.rbp &&
                   after->r8 == before.r8 && after->r15 == before.r15,
               "registers outside RAX, RBX, RCX, RDX are preserved");
    FUZZ_CHECK(stats_prints == prints + (c.fn == HV_CALL_STATS_PRINT), "STATS_PRINT prints, once");
    FUZZ_CHECK(smp_ready_calls == smp + (c.fn == HV_CALL_SMP_READY), "SMP_READY ends bring-up, once");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    fake_ram_init();
    fake_ram_clear();
    vcpu_reset();
    vcpu.nested.vmruns = in_u16(&in);
    vcpu.stats.slots[0].l2_reflected = in_u16(&in);
    vcpu.tlb.flushes_asid = in_u16(&in);
    for (int i = 0; i < 16 && !in_empty(&in); i++)
        one_call(&in);
    return 0;
}
