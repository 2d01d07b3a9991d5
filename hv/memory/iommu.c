/* The AMD IOMMU driver of DMA protection; see iommu.h. Section numbers are
 * those of the AMD I/O Virtualization Technology (IOMMU) Specification. The
 * IOMMUs are machine-wide, not per vCPU: their state lives here, and the
 * event log is drained under one lock by whichever CPU gets there. */
#include "hv/memory/iommu.h"
#include "arch/x86/amd_iommu.h"
#include "arch/x86/cpu.h"
#include "hv/memory/guest_mem.h"
#include "hv/memory/iommu_events.h"
#include "hv/memory/iommu_pt.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "lib/spinlock.h"

#define RING_BYTES (16u << AMDVI_RING_LOG2)  /* 4 KiB: command and event rings */
#define DOMAIN_ID 1                          /* every device, one domain */
#define WAIT_SPINS 100000000ULL              /* completion wait: far beyond real */
#define FAULTS_LOGGED 16                     /* then only at powers of two */

/* The registers the hypervisor changes, as the firmware left them, put
 * back if the hypervisor does not keep the IOMMU. */
static const uint32_t fw_regs[] = {
    AMDVI_MMIO_DEV_TABLE_BASE, AMDVI_MMIO_CMD_BUF_BASE, AMDVI_MMIO_EVENT_LOG_BASE,
    AMDVI_MMIO_EXCL_BASE, AMDVI_MMIO_EXCL_LIMIT, AMDVI_MMIO_CONTROL,
};
#define FW_REGS (sizeof fw_regs / sizeof *fw_regs)

struct iommu_unit {
    const struct hv_iommu_boot *boot;
    volatile uint8_t *mmio; /* identity-mapped registers */
    uint64_t efr;
    uint64_t fw[FW_REGS];
    bool started;           /* running on our tables and command buffer */
    struct amdvi_cmd *cmd;
    uint64_t cmd_pa;
    uint32_t cmd_tail;
    volatile struct amdvi_event *events;
    uint64_t events_pa;
    uint32_t event_head;
};

static struct {
    struct iommu_unit unit[HV_MAX_IOMMUS];
    uint32_t n;
    bool owned;
    uint64_t dev_table_pa, pt_root;
    volatile uint64_t *wait;
    uint64_t wait_pa;
    uint64_t dma_faults, other_events, overflows;
    struct spinlock lock;
} iommu;

static uint64_t rd(const struct iommu_unit *u, uint32_t reg)
{
    return *(volatile uint64_t *)(u->mmio + reg);
}

static void wr(const struct iommu_unit *u, uint32_t reg, uint64_t v)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* tables and ring entries first */
    *(volatile uint64_t *)(u->mmio + reg) = v;
}

static void *npt_alloc(void *ctx, uint64_t *pa)
{
    (void)ctx;
    return hv_alloc_zeroed(1, pa);
}

static void *npt_va(void *ctx, uint64_t pa)
{
    (void)ctx;
    return hv_pa_to_va(pa);
}

/* --- commands (2.4) ----------------------------------------------------- */

/* Queues one command; false if the IOMMU does not make room in time. */
static bool cmd_queue(struct iommu_unit *u, struct amdvi_cmd c)
{
    uint32_t next = (u->cmd_tail + 16) % RING_BYTES;
    for (uint64_t i = 0; (uint32_t)rd(u, AMDVI_MMIO_CMD_HEAD) == next; i++) {
        if (i == WAIT_SPINS)
            return false;
        wr(u, AMDVI_MMIO_CMD_TAIL, u->cmd_tail); /* let it run what is queued */
        cpu_pause();
    }
    u->cmd[u->cmd_tail / 16] = c;
    u->cmd_tail = next;
    return true;
}

static struct amdvi_cmd cmd_op(uint32_t op)
{
    return (struct amdvi_cmd){ .d = { 0, op << AMDVI_CMD_OP_SHIFT, 0, 0 } };
}

/* Runs what is queued and waits until the IOMMU has done all of it: a
 * COMPLETION_WAIT that stores 1 into iommu.wait (2.4.1). */
static bool cmd_sync(struct iommu_unit *u)
{
    *iommu.wait = 0;
    struct amdvi_cmd c = cmd_op(AMDVI_CMD_COMPLETION_WAIT);
    c.d[0] = (uint32_t)iommu.wait_pa | AMDVI_CMD_WAIT_STORE;
    c.d[1] |= (uint32_t)(iommu.wait_pa >> 32);
    c.d[2] = 1;
    if (!cmd_queue(u, c))
        return false;
    wr(u, AMDVI_MMIO_CMD_TAIL, u->cmd_tail);
    for (uint64_t i = 0; i < WAIT_SPINS; i++) {
        if (*iommu.wait == 1)
            return true;
        cpu_pause();
    }
    return false;
}

/* Forgets whatever the IOMMU cached before we owned it (a firmware may
 * have used it): everything at once where it can (EFR.IASup), otherwise
 * every device table entry and every page of our domain. */
static bool invalidate_all(struct iommu_unit *u)
{
    if (u->efr & AMDVI_EFR_IA_SUP)
        return cmd_queue(u, cmd_op(AMDVI_CMD_INV_IOMMU_ALL)) && cmd_sync(u);
    for (uint32_t id = 0; id < AMDVI_DEVICE_IDS; id++) {
        struct amdvi_cmd c = cmd_op(AMDVI_CMD_INV_DEVTAB_ENTRY);
        c.d[0] = id;
        if (!cmd_queue(u, c))
            return false;
    }
    struct amdvi_cmd c = cmd_op(AMDVI_CMD_INV_IOMMU_PAGES);
    c.d[1] |= DOMAIN_ID;
    c.d[2] = (uint32_t)AMDVI_INV_ALL_ADDR | AMDVI_CMD_PAGES_S | AMDVI_CMD_PAGES_PDE;
    c.d[3] = (uint32_t)(AMDVI_INV_ALL_ADDR >> 32);
    return cmd_queue(u, c) && cmd_sync(u);
}

/* --- taking an IOMMU over (3.4, and the start-up order of 2.1) ---------- */

static bool unit_rings(struct iommu_unit *u)
{
    u->cmd = hv_alloc_zeroed(1, &u->cmd_pa);
    u->events = hv_alloc_zeroed(1, &u->events_pa);
    return u->cmd && u->events;
}

static uint64_t mmio_size(const struct iommu_unit *u)
{
    return (u->efr & AMDVI_EFR_PC_SUP) ? AMDVI_MMIO_SIZE_PC : AMDVI_MMIO_SIZE;
}

/* The control bits the firmware asks for in IVHD's flags (bus behaviour),
 * and coherent table walks: the tables are written through the caches
 * without flushing them (as Linux does). */
static uint64_t bus_flags(uint8_t ivhd_flags)
{
    uint64_t c = AMDVI_CTRL_COHERENT;
    c |= (ivhd_flags & IVHD_FLAG_HT_TUN_EN) ? AMDVI_CTRL_HT_TUN_EN : 0;
    c |= (ivhd_flags & IVHD_FLAG_PASS_PW) ? AMDVI_CTRL_PASS_PW : 0;
    c |= (ivhd_flags & IVHD_FLAG_RES_PASS_PW) ? AMDVI_CTRL_RES_PASS_PW : 0;
    c |= (ivhd_flags & IVHD_FLAG_ISOC) ? AMDVI_CTRL_ISOC : 0;
    return c;
}

/* Off, pointed at our tables and rings, on, caches invalidated. */
static bool unit_take_over(struct iommu_unit *u)
{
    uint64_t ctrl = rd(u, AMDVI_MMIO_CONTROL);
    if (ctrl & AMDVI_CTRL_IOMMU_EN)
        pr_warn("IOMMU at %#lx was enabled by the firmware (control %#lx): taking it over",
                u->boot->base, ctrl);
    wr(u, AMDVI_MMIO_CONTROL, 0);
    wr(u, AMDVI_MMIO_DEV_TABLE_BASE, iommu.dev_table_pa | (AMDVI_DEV_TABLE_BYTES / 4096 - 1));
    wr(u, AMDVI_MMIO_CMD_BUF_BASE, u->cmd_pa | (uint64_t)AMDVI_RING_LOG2 << AMDVI_RING_LEN_SHIFT);
    wr(u, AMDVI_MMIO_EVENT_LOG_BASE,
       u->events_pa | (uint64_t)AMDVI_RING_LOG2 << AMDVI_RING_LEN_SHIFT);
    wr(u, AMDVI_MMIO_CMD_HEAD, 0);
    wr(u, AMDVI_MMIO_CMD_TAIL, 0);
    wr(u, AMDVI_MMIO_EVENT_HEAD, 0);
    wr(u, AMDVI_MMIO_EVENT_TAIL, 0);
    /* No exclusion range: it would let devices bypass translation (3.4.4). */
    wr(u, AMDVI_MMIO_EXCL_BASE, 0);
    wr(u, AMDVI_MMIO_EXCL_LIMIT, 0);
    wr(u, AMDVI_MMIO_STATUS, rd(u, AMDVI_MMIO_STATUS)); /* write-1-to-clear */
    u->cmd_tail = u->event_head = 0;
    uint64_t on = bus_flags(u->boot->flags) | AMDVI_CTRL_CMD_BUF_EN | AMDVI_CTRL_EVENT_LOG_EN;
    wr(u, AMDVI_MMIO_CONTROL, on);
    wr(u, AMDVI_MMIO_CONTROL, on | AMDVI_CTRL_IOMMU_EN);
    u->started = true;
    return invalidate_all(u);
}

/* Every DeviceID: translated through our page table, read and write
 * allowed where it maps, interrupts passed on unremapped (IV=0). */
static bool dev_table_build(void)
{
    struct amdvi_dte *t = hv_alloc_zeroed(AMDVI_DEV_TABLE_BYTES / 4096, &iommu.dev_table_pa);
    if (!t)
        return false;
    struct amdvi_dte e = { .q = {
        AMDVI_DTE_V | AMDVI_DTE_TV | iommu.pt_root | AMDVI_DTE_IR | AMDVI_DTE_IW |
            (uint64_t)AMDVI_LEVELS << AMDVI_DTE_MODE_SHIFT,
        DOMAIN_ID, 0, 0 } };
    for (uint32_t id = 0; id < AMDVI_DEVICE_IDS; id++)
        t[id] = e;
    return true;
}

static bool tables_build(const struct hv_boot_info *info)
{
    struct npt_mem m = { npt_alloc, npt_va, 0 };
    iommu.pt_root = iommu_pt_build(&m, guest_phys_limit(), info->region_pa, info->region_size);
    iommu.wait = hv_alloc_zeroed(1, &iommu.wait_pa);
    return iommu.pt_root && iommu.wait && dev_table_build();
}

/* Puts an IOMMU back as the firmware left it (its registers, control
 * last), after forgetting what it cached of our tables: a half-owned set
 * protects nothing, and L1 may then use the IOMMUs itself. */
static void give_back(struct iommu_unit *u)
{
    if (u->started)
        invalidate_all(u);
    wr(u, AMDVI_MMIO_CONTROL, 0);
    for (uint32_t r = 0; r < FW_REGS; r++)
        wr(u, fw_regs[r], u->fw[r]);
    u->started = false;
}

static void give_back_all(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        give_back(&iommu.unit[i]);
    guest_mem_unprotect_mmio();
}

/* Where the registers are, what the IOMMU can do (its own EFR register:
 * IVRS's copy may claim more), what the firmware left in it. */
static bool unit_attach(struct iommu_unit *u, const struct hv_iommu_boot *boot)
{
    u->boot = boot;
    u->mmio = (volatile uint8_t *)boot->base;
    if (boot->base + AMDVI_MMIO_SIZE_PC > guest_mem_host_map_top())
        return false; /* outside the core's identity map: cannot reach it */
    u->efr = rd(u, AMDVI_MMIO_EXT_FEATURES);
    for (uint32_t r = 0; r < FW_REGS; r++)
        u->fw[r] = rd(u, fw_regs[r]);
    return true;
}

static bool unit_start(struct iommu_unit *u)
{
    if (!unit_rings(u) || !unit_take_over(u))
        return false;
    pr_info("IOMMU at %#lx (segment %u, device %02x:%02x.%u, EFR %#lx): DMA translated, "
            "hypervisor region refused", u->boot->base, u->boot->segment,
            u->boot->device_id >> 8, (u->boot->device_id >> 3) & 31, u->boot->device_id & 7,
            u->efr);
    return true;
}

/* Out of NPT01 before any IOMMU starts: the split tables this needs may
 * run out, and nothing may be enabled by then. */
static bool protect_registers(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!guest_mem_protect_mmio(iommu.unit[i].boot->base, mmio_size(&iommu.unit[i])))
            return false;
    return true;
}

void iommu_init(struct hv_boot_info *info)
{
    info->iommu_owned = 0;
    const char *why = NULL;
    uint32_t n = info->niommu > 0 ? (uint32_t)info->niommu : 0;
    if (!info->config.iommu)
        why = "iommu = no in the config (the IOMMUs stay L1's)";
    else if (info->niommu < 0)
        why = "ACPI's IVRS table is malformed or lists too many IOMMUs";
    else if (n == 0)
        why = "no IOMMU (no ACPI IVRS table)";
    else if (!tables_build(info))
        why = "out of hypervisor memory for the IOMMU tables";
    for (uint32_t i = 0; !why && i < n; i++)
        if (!unit_attach(&iommu.unit[i], &info->iommu[i]))
            why = "an IOMMU's registers are outside the hypervisor's map";
    if (!why && !protect_registers(n)) {
        guest_mem_unprotect_mmio();
        why = "out of hypervisor memory hiding the IOMMUs' registers";
    }
    for (uint32_t i = 0; !why && i < n; i++)
        if (!unit_start(&iommu.unit[i])) {
            give_back_all(i + 1);
            why = "an IOMMU did not take the hypervisor's tables (given back as it was)";
        }
    if (why) {
        pr_warn("DMA is NOT protected: %s; any device L1 drives can read and write the "
                "hypervisor's memory", why);
        return;
    }
    iommu.n = n;
    iommu.owned = true;
    info->iommu_owned = 1;
    pr_info("DMA protection on: %u IOMMU(s); their registers and IVRS hidden from L1", n);
}

void iommu_abandon(struct hv_boot_info *info)
{
    if (!iommu.owned)
        return;
    give_back_all(iommu.n);
    iommu.owned = false;
    info->iommu_owned = 0;
    pr_warn("IOMMUs given back as the firmware left them: the hypervisor is not starting");
}

/* --- events (2.5) --------------------------------------------------------- */

static void fault_log(const struct amdvi_event *e)
{
    uint64_t n = ++iommu.dma_faults;
    if (!iommu_fault_logged(n, FAULTS_LOGGED))
        return;
    uint32_t dev = e->d[0] & 0xFFFF;
    uint64_t addr = (uint64_t)e->d[3] << 32 | e->d[2];
    pr_warn("DMA refused: device %02x:%02x.%u %s %#lx (%lu refused so far%s)", dev >> 8,
            (dev >> 3) & 31, dev & 7, (e->d[1] & AMDVI_EVENT_FAULT_RW) ? "write to" : "read of",
            addr, n, n >= FAULTS_LOGGED ? ", logging at powers of two" : "");
}

static void event_handle(const struct amdvi_event *e, void *ctx)
{
    (void)ctx;
    uint32_t code = e->d[1] >> AMDVI_EVENT_CODE_SHIFT;
    if (code == AMDVI_EVENT_IO_PAGE_FAULT)
        return fault_log(e);
    if (iommu.other_events++ < FAULTS_LOGGED)
        pr_warn("IOMMU event %#x: %08x %08x %08x %08x", code, e->d[0], e->d[1], e->d[2],
                e->d[3]);
}

/* A full log stops the IOMMU logging (2.5.2): count it, restart it empty. */
static void overflow_restart(struct iommu_unit *u)
{
    iommu.overflows++;
    uint64_t ctrl = rd(u, AMDVI_MMIO_CONTROL);
    wr(u, AMDVI_MMIO_CONTROL, ctrl & ~AMDVI_CTRL_EVENT_LOG_EN);
    for (uint32_t i = 0; i < RING_BYTES / 16; i++)
        for (int k = 0; k < 4; k++)
            u->events[i].d[k] = 0;
    wr(u, AMDVI_MMIO_EVENT_HEAD, 0);
    wr(u, AMDVI_MMIO_EVENT_TAIL, 0);
    u->event_head = 0;
    wr(u, AMDVI_MMIO_STATUS, AMDVI_STATUS_EVENT_OVERFLOW);
    wr(u, AMDVI_MMIO_CONTROL, ctrl | AMDVI_CTRL_EVENT_LOG_EN);
}

/* The ring only (memory reads) unless `full`: then also the status
 * register, an uncached MMIO read, for an overflow. A drained entry makes
 * the poll full: a log that overflowed had entries first. */
static void unit_poll(struct iommu_unit *u, bool full)
{
    if (iommu_events_drain(u->events, RING_BYTES / 16, &u->event_head, event_handle, 0)) {
        wr(u, AMDVI_MMIO_EVENT_HEAD, u->event_head);
        full = true;
    }
    if (full && (rd(u, AMDVI_MMIO_STATUS) & AMDVI_STATUS_EVENT_OVERFLOW))
        overflow_restart(u);
}

static void poll_units(bool full)
{
    if (!iommu.owned || !spin_trylock(&iommu.lock))
        return;
    for (uint32_t i = 0; i < iommu.n; i++)
        unit_poll(&iommu.unit[i], full);
    spin_unlock(&iommu.lock);
}

/* Any entry waiting? A look without the lock (event_head may be a step
 * behind: the locked drain sorts that out), so that an exit with nothing
 * to drain costs no locked instruction. */
static bool events_waiting(void)
{
    for (uint32_t i = 0; i < iommu.n; i++) {
        const struct iommu_unit *u = &iommu.unit[i];
        uint32_t head = __atomic_load_n(&u->event_head, __ATOMIC_RELAXED);
        if (u->events[head / 16].d[1] >> AMDVI_EVENT_CODE_SHIFT)
            return true;
    }
    return false;
}

void iommu_poll(void)
{
    if (iommu.owned && events_waiting())
        poll_units(false);
}

void iommu_get_stats(struct iommu_stats *s)
{
    poll_units(true);
    s->owned = iommu.owned ? iommu.n : 0;
    s->dma_faults = __atomic_load_n(&iommu.dma_faults, __ATOMIC_RELAXED);
    s->other_events = __atomic_load_n(&iommu.other_events, __ATOMIC_RELAXED);
}

/* With the counts, whether the first bytes of the region (the core's
 * header, which nothing writes after the loader) are still ours: a cheap
 * witness of a DMA write that got through. */
void iommu_report(void)
{
    const char *header = *(volatile uint64_t *)HV_VBASE == HV_CORE_MAGIC ? "intact"
                                                                        : "OVERWRITTEN";
    if (!iommu.owned) {
        pr_info("DMA protection: off; hypervisor header %s", header);
        return;
    }
    poll_units(true);
    pr_info("DMA protection: %u IOMMU(s), %lu device accesses refused, %lu other events, "
            "%lu log overflows; hypervisor header %s", iommu.n, iommu.dma_faults,
            iommu.other_events, iommu.overflows, header);
}
