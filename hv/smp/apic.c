#include "hv/smp/apic.h"
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/msr.h"
#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"
#include "arch/x86/vectors.h"
#include "hv/decode/guest_fetch.h"
#include "hv/memory/guest_mem.h"
#include "hv/core/host_caps.h"
#include "hv/core/log.h"
#include "hv/core/percpu.h"
#include "hv/decode/store_decode.h"
#include "hv/tlb/tlb.h"
#include "hv/smp/vcpu_request.h"
#include "lib/spinlock.h"

#define NPF_WRITE (1ULL << 1)
#define DFR_RESET 0xFFFFFFFFu
#define SEND_WAIT_LOOPS 100000

static volatile uint32_t *xapic_reg(uint64_t base, unsigned off)
{
    return (volatile uint32_t *)(base + off); /* identity map, MMIO */
}

void apic_intercept_msrs(uint8_t *msrpm)
{
    msrpm_set(msrpm, MSR_X2APIC_ICR, false, true);
}

static void protect_page(uint64_t base, bool on)
{
    guest_mem_set_writable(base & APIC_BASE_ADDR_MASK, !on);
}

bool apic_init(struct vcpu *bsp)
{
    uint64_t msr = rdmsr(MSR_APIC_BASE);
    if ((msr & APIC_BASE_ENABLE) && !(msr & APIC_BASE_EXTD))
        protect_page(msr, true);
    tlb_npt01_changed(bsp);
    return true;
}

void apic_vcpu_init(struct vcpu *v)
{
    uint64_t msr = rdmsr(MSR_APIC_BASE);
    v->apic.base = msr & APIC_BASE_ADDR_MASK;
    v->apic.x2apic = (msr & APIC_BASE_EXTD) != 0;
    v->apic.dfr = DFR_RESET;
    if ((msr & APIC_BASE_ENABLE) && !v->apic.x2apic) {
        v->apic.ldr = *xapic_reg(v->apic.base, APIC_REG_LDR);
        v->apic.dfr = *xapic_reg(v->apic.base, APIC_REG_DFR);
    }
}

/* The hypervisor's own ICR write on this CPU (its APIC is in L1's mode). */
static void physical_icr_write(const struct vcpu *self, uint32_t dest, uint32_t low)
{
    if (self->apic.x2apic) {
        /* WRMSR to the x2APIC is not serializing: the request bit the
         * target will read must be visible before the IPI. */
        __asm__ volatile("mfence; lfence" ::: "memory");
        wrmsr(MSR_X2APIC_ICR, (uint64_t)dest << 32 | low);
        return;
    }
    volatile uint32_t *lo = xapic_reg(self->apic.base, APIC_REG_ICR_LO);
    for (int i = 0; i < SEND_WAIT_LOOPS && (*lo & ICR_DELIVERY_PENDING); i++)
        __asm__ volatile("pause");
    *xapic_reg(self->apic.base, APIC_REG_ICR_HI) = dest << 24;
    *lo = low;
}

/* One kick NMI in flight per target: NMIs merge, so a second one could
 * arrive after the first was taken and reach L1 as a spurious NMI. The
 * caller set its request bit first; the NMI already on its way makes the
 * target serve it too. */
void apic_self_nmi(struct vcpu *v)
{
    physical_icr_write(v, v->apic_id, ICR_MODE_NMI << 8 | ICR_LEVEL_ASSERT);
}

void apic_kick(struct vcpu *target)
{
    struct vcpu *self = vcpu_current();
    if (__atomic_exchange_n(&target->kick_pending, 1, __ATOMIC_SEQ_CST))
        return;
    __atomic_fetch_add(&target->kicks, 1, __ATOMIC_RELAXED);
    physical_icr_write(self, target->apic_id, ICR_MODE_NMI << 8 | ICR_LEVEL_ASSERT);
}

/* Until the loader says bring-up is over, INIT/SIPI to an AP the firmware
 * still owns go to the hardware (that is how the firmware starts it). */
static bool smp_ready;

unsigned apic_smp_ready(void)
{
    unsigned in = 0;
    __atomic_store_n(&smp_ready, true, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < vcpu_count(); i++) {
        struct vcpu *o = vcpu_by_index(i);
        if (__atomic_load_n(&o->launched, __ATOMIC_ACQUIRE))
            in++;
        else
            pr_err("cpu%u (APIC ID %u) is not under the hypervisor: INIT and SIPI to it "
                   "are dropped", o->id, o->apic_id);
    }
    pr_info("bring-up over: %u of %u CPU(s) under the hypervisor", in, vcpu_count());
    return in;
}

static void init_one(struct vcpu *t)
{
    if (t->id == 0) {
        /* The boot CPU is never reset under the OS (nothing would restart
         * it): the INIT is dropped, with a note. */
        pr_warn_limited("INIT to the boot CPU ignored");
        return;
    }
    if (ap_state_init(&t->ap) && t != vcpu_current())
        apic_kick(t);
}

static void sipi_one(struct vcpu *t, uint8_t vector)
{
    enum ap_sipi_result r = ap_state_sipi(&t->ap, vector);
    if (r != AP_SIPI_ACCEPTED)
        pr_debug("SIPI (vector %#x) to cpu%u ignored: %s", vector, t->id,
                 r == AP_SIPI_IGNORED_RUNNING ? "not waiting for one" : "one is pending");
}

/* INIT and SIPI: emulated for every vCPU that runs as our guest; a CPU
 * the firmware still owns (its AP not yet launched) gets the real one. */
static void send_init_sipi(struct vcpu *v, const struct icr *i, uint32_t low)
{
    if (icr_is_init_deassert(i))
        return; /* no effect on any CPU this runs on */
    bool any = false;
    for (unsigned n = 0; n < vcpu_count(); n++) {
        struct vcpu *t = vcpu_by_index(n);
        struct apic_target at = { t->apic_id, t->apic.ldr, t->apic.dfr };
        if (!icr_targets(i, v->apic_id, &at))
            continue;
        any = true;
        if (!__atomic_load_n(&t->launched, __ATOMIC_ACQUIRE)) {
            if (__atomic_load_n(&smp_ready, __ATOMIC_ACQUIRE))
                pr_warn_limited("%s to cpu%u, which is not under the hypervisor: dropped",
                                i->mode == ICR_MODE_INIT ? "INIT" : "SIPI", t->id);
            else
                physical_icr_write(v, t->apic_id, low & ~(ICR_LOGICAL | 3u << 18));
        }
        else if (i->mode == ICR_MODE_INIT)
            init_one(t);
        else
            sipi_one(t, i->vector);
    }
    if (!any)
        pr_warn_limited("%s to APIC ID %#x: no such CPU, dropped",
                i->mode == ICR_MODE_INIT ? "INIT" : "SIPI", i->dest);
}

static void icr_send(struct vcpu *v, uint64_t icr)
{
    struct icr i = icr_decode(icr, v->apic.x2apic);
    v->apic.icr_writes++;
    if (i.mode == ICR_MODE_INIT || i.mode == ICR_MODE_STARTUP) {
        send_init_sipi(v, &i, (uint32_t)icr);
        return;
    }
    if (v->apic.x2apic) {
        wrmsr(MSR_X2APIC_ICR, icr);
        return;
    }
    physical_icr_write(v, (uint32_t)(icr >> 56), (uint32_t)icr);
}

void apic_x2apic_icr_write(struct vcpu *v, uint64_t val)
{
    icr_send(v, val);
}

static uint64_t gpr(const struct vcpu *v, unsigned reg)
{
    const struct guest_regs *r = &v->regs;
    const struct vmcb_save *s = &v->vmcb.va->save;
    const uint64_t all[16] = {
        s->rax, r->rcx, r->rdx, r->rbx, s->rsp, r->rbp,
        r->rsi, r->rdi, r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
    };
    return all[reg & 15];
}

/* The bytes at the guest's RIP: from the VMCB where the CPU has decode
 * assists, else fetched through the guest's page tables. */
static unsigned fetch(const struct vcpu *v, uint8_t *buf)
{
    const struct vmcb_control *c = &v->vmcb.va->control;
    if (host_caps()->decode_assists && c->guest_insn_len) {
        unsigned n = c->guest_insn_len < STORE_INSN_MAX ? c->guest_insn_len : STORE_INSN_MAX;
        for (unsigned i = 0; i < n; i++)
            buf[i] = c->guest_insn_bytes[i];
        return n;
    }
    return guest_fetch_insn(v, buf, STORE_INSN_MAX);
}

static void mmio_write(struct vcpu *v, unsigned off, uint32_t val)
{
    v->apic.writes++;
    v->apic.writes_by_reg[(off >> 4) & 63]++;
    switch (off) {
    case APIC_REG_ICR_LO:
        icr_send(v, (uint64_t)v->apic.icr_high << 32 | val);
        return;
    case APIC_REG_ICR_HI:
        v->apic.icr_high = val;
        break;
    case APIC_REG_LDR:
        v->apic.ldr = val;
        break;
    case APIC_REG_DFR:
        v->apic.dfr = val;
        break;
    }
    *xapic_reg(v->apic.base, off) = val;
}

/* Is this page some vCPU's xAPIC page (read-only in NPT01)? */
static bool any_xapic_page(uint64_t page)
{
    for (unsigned i = 0; i < vcpu_count(); i++) {
        const struct vcpu *o = vcpu_by_index(i);
        if (__atomic_load_n(&o->launched, __ATOMIC_ACQUIRE) && !o->apic.x2apic &&
            o->apic.base == page)
            return true;
    }
    return false;
}

/* A store to another vCPU's APIC page (this one moved its own, or is in
 * x2APIC mode): to this CPU it is plain memory (or nothing), so the store
 * is performed as it is and the guest goes on. */
static void plain_store(uint64_t gpa, const struct store_insn *s, uint64_t val)
{
    switch (s->size) {
    case 1: *(volatile uint8_t *)gpa = (uint8_t)val; break;
    case 2: *(volatile uint16_t *)gpa = (uint16_t)val; break;
    case 4: *(volatile uint32_t *)gpa = (uint32_t)val; break;
    default: *(volatile uint64_t *)gpa = val; break;
    }
}

bool apic_mmio_fault(struct vcpu *v, uint64_t gpa, uint64_t exitinfo1)
{
    uint64_t page = gpa & ~0xFFFULL;
    if (!(exitinfo1 & NPF_WRITE) || !any_xapic_page(page))
        return false;
    bool own = !v->apic.x2apic && page == v->apic.base;
    uint8_t bytes[STORE_INSN_MAX];
    struct store_insn s;
    /* The guest that wrote: L1, or an L2 that L1 let reach its APIC page
     * (without nested paging, or mapping it in NPT12): as on a CPU, the
     * write goes to L1's (the physical) local APIC. */
    struct vmcb_save *g = &v->vmcb.va->save;
    bool code64 = guest_code64(g);
    bool code16 = !code64 && !(g->cs.attrib & VMCB_SEG_ATTR_DB); /* not decoded */
    unsigned n = code16 ? 0 : fetch(v, bytes);
    /* Another vCPU's page is plain memory here, but only a store that stays
     * inside it is performed (one across the page end could reach the next
     * page, whatever NPT01 says of it), and XCHG (which would have to give
     * the old value back) is refused. */
    if (!store_decode(bytes, n, code64, &s) || (own && (s.size != 4 || (gpa & 3))) ||
        (!own && !((gpa & 0xFFF) + s.size <= 4096 && !s.exchange))) {
        /* The defined outcome of a write the hypervisor cannot perform
         * (docs/design.md, "Several CPUs"): #GP in the guest, nothing
         * reaches the APIC. */
        v->apic.unknown_writes++;
        pr_warn_limited("%s write to the APIC page at %#lx (RIP %#lx) by an instruction not "
                "decoded as a 32-bit store: #GP", v->nested.in_l2 ? "L2" : "L1", gpa, g->rip);
        vcpu_inject_exception(v, VEC_GP, true, 0);
        return true;
    }
    uint64_t val = s.is_imm ? s.imm : gpr(v, s.reg);
    if (s.high_byte)
        val >>= 8; /* AH, CH, DH, BH */
    vcpu_complete_insn(v, g->rip + s.len);
    if (own)
        mmio_write(v, (unsigned)(gpa & 0xFFF), (uint32_t)val);
    else
        plain_store(gpa, &s, val);
    return true;
}

/* Which pages are xAPIC pages, and so read-only, changes under this lock:
 * the decision to unprotect a page and another vCPU's move onto it must
 * not cross. */
static struct spinlock pages_lock;

void apic_base_changed(struct vcpu *v, uint64_t old, uint64_t val)
{
    bool was_x = (old & APIC_BASE_EXTD) != 0, now_x = (val & APIC_BASE_EXTD) != 0;
    bool was_on = (old & APIC_BASE_ENABLE) && !was_x, now_on = (val & APIC_BASE_ENABLE) && !now_x;
    bool moved = (old & APIC_BASE_ADDR_MASK) != (val & APIC_BASE_ADDR_MASK);
    spin_lock(&pages_lock);
    /* This CPU's view first: kicks sent from here use the APIC's new mode. */
    v->apic.base = val & APIC_BASE_ADDR_MASK;
    v->apic.x2apic = now_x;
    if (now_x)
        v->apic.ldr = x2apic_ldr(v->apic_id);
    /* The page this vCPU leaves becomes plain memory again unless another
     * vCPU still has its xAPIC there (more rights: no flush owed). */
    uint64_t old_page = old & APIC_BASE_ADDR_MASK;
    if (was_on && (moved || !now_on) && !any_xapic_page(old_page))
        protect_page(old_page, false);
    bool protect = now_on && (moved || !was_on);
    if (protect)
        protect_page(val, true);
    spin_unlock(&pages_lock);
    if (protect) {
        /* A page that becomes the xAPIC page loses its write right: every
         * CPU flushes before this one relies on it (no lock held). */
        tlb_npt01_changed(v);
        vcpu_request_all(v, VCPU_REQ_NPT01_FLUSH);
    }
}

/* Which APIC registers L1 writes, summed over the CPUs: where the APIC
 * page's exits come from (EOI, timer, ICR...). */
void apic_print_stats(void)
{
    static const struct { unsigned off; const char *name; } regs[] = {
        { 0x080, "TPR" }, { 0x0B0, "EOI" }, { 0x0D0, "LDR" }, { 0x0E0, "DFR" },
        { 0x0F0, "SVR" }, { 0x280, "ESR" }, { 0x300, "ICR low" }, { 0x310, "ICR high" },
        { 0x320, "LVT timer" }, { 0x380, "timer initial count" }, { 0x3E0, "timer divide" },
    };
    uint64_t total = 0;
    for (unsigned i = 0; i < vcpu_count(); i++)
        total += vcpu_by_index(i)->apic.writes;
    if (!total)
        return;
    pr_info("xAPIC writes by L1 (each one an exit): %lu", total);
    for (unsigned r = 0; r < sizeof regs / sizeof *regs; r++) {
        uint64_t n = 0;
        for (unsigned i = 0; i < vcpu_count(); i++)
            n += vcpu_by_index(i)->apic.writes_by_reg[regs[r].off >> 4];
        if (n)
            pr_info("  %-20s %10lu", regs[r].name, n);
    }
}
