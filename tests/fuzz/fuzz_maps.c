/* Fuzz target: VMCB02's merged permission maps (hv/nested/nested_maps.c) for two
 * vCPUs that share NPT01: merges of L1's MSRPM/IOPM with L0's, the cache
 * that keeps a merge while L1's maps are write-protected, L1 writes that
 * drop it, and the routing reads of L1's own map bits.
 *
 * L1's maps lie in a fake L1 RAM (tests/fuzz/fake_l1_ram.h: identity-mapped
 * host pages, the hypervisor's region in the middle poisoned for ASan), at
 * any page: across the region, past the RAM's end, or anywhere below the
 * physical-address limit. NPT01's write protection is modelled page by
 * page (guest_mem_set_writable); an L1 write to a protected page is an
 * #NPF, which calls nested_maps_l1_write() before the write goes through,
 * as hv/nested/nested.c and hv/exit/exit_npf.c do.
 *
 * Input: operations: a VMRUN's merge on either vCPU (map enables and
 * addresses), L1 writes of any bytes anywhere in its RAM, L0's writes for
 * L1 (nested_maps_l0_wrote), RDMSR/WRMSR and IN/OUT routing queries.
 *
 * Invariants, after every operation:
 *   - a vCPU's cached merge is exactly L0's map OR L1's maps as they are now
 *     in L1 memory (a byte outside L1's RAM reads as all ones; IOPM: L1's
 *     alone; nothing of L1's without MSR_PROT / IOIO_PROT): no stale merge;
 *   - NPT01 write-protects exactly the RAM pages some cached merge read:
 *     a write to them is seen, no page stays protected for nothing; a
 *     page newly protected is followed by a local flush and a request that
 *     every other CPU flush (fewer rights);
 *   - the merged MSRPM always protects L0's MSRs;
 *   - nested_maps_l1_write() is true exactly for a protected page; no merge
 *     stays cached over a page L1 wrote or L0 wrote for L1;
 *   - nested_maps_valid() refuses exactly maps that end past the limit;
 *   - the routing bits are L1's map bits as they are now in L1 memory
 *     (all ones outside RAM; MSRs outside the map always exit, an access
 *     exits if any of its ports' bits is set);
 *   - L1 memory is read only in its RAM (ASan). */
#include "arch/x86/svm.h"
#include "hv/nested/nested_maps.h"
#include "hv/core/percpu.h"
#include "hv/tlb/tlb.h"
#include "hv/smp/vcpu_request.h"
#include "tests/fuzz/fake_l1_ram.h"
#include "tests/fuzz/fake_npt01_protect.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/l0_msrpm.h"
#include "tests/fuzz/maps_check.h"

#define PHYS_LIMIT (1ULL << 48)

/* --- stand-ins ------------------------------------------------------------ */
uint64_t guest_phys_limit(void) { return PHYS_LIMIT; }

static unsigned npt01_flushes, remote_flushes;

void tlb_npt01_changed(struct vcpu *v) { npt01_flushes++; }
void vcpu_request_all(struct vcpu *self, uint32_t request)
{
    FUZZ_CHECK(request == VCPU_REQ_NPT01_FLUSH, "the maps ask other CPUs only for a flush");
    remote_flushes++;
}

static struct vcpu cpus[2];
unsigned vcpu_count(void) { return 2; }
struct vcpu *vcpu_by_index(unsigned i) { return i < 2 ? &cpus[i] : NULL; }

/* --- per-process state ------------------------------------------------------ */
static uint8_t l0_msrpm[MSRPM_SIZE];
static uint8_t msrpm02[2][MSRPM_SIZE], iopm02[2][IOPM_SIZE];
static struct vmcb copy12[2]; /* each vCPU's VMCB12 copy (routing reads it) */

static void reset_cpus(void)
{
    for (int i = 0; i < 2; i++) {
        memset(&cpus[i], 0, sizeof cpus[i]);
        memset(&copy12[i], 0, sizeof copy12[i]);
        cpus[i].nested.msrpm02 = msrpm02[i];
        cpus[i].nested.iopm02 = iopm02[i];
        cpus[i].nested.vmcb12 = &copy12[i];
        cpus[i].nested.merged_msrpm12 = cpus[i].nested.merged_iopm12 = NESTED_MAPS_NONE;
    }
    nprot = npt01_flushes = remote_flushes = 0;
}

/* A cached merge is L0 | L1's maps now, and its pages are protected. */
static void check_cached(const struct vcpu *v)
{
    const struct nested *n = &v->nested;
    if (n->merged_msrpm12 == NESTED_MAPS_NONE) {
        FUZZ_CHECK(n->merged_iopm12 == NESTED_MAPS_NONE, "a merge is dropped as a whole");
        return;
    }
    FUZZ_CHECK(map_is(n->msrpm02, l0_msrpm, n->merged_msrpm12, MSRPM_SIZE),
               "the cached merged MSRPM is L0's OR L1's as it is now");
    FUZZ_CHECK(map_is(n->iopm02, NULL, n->merged_iopm12, IOPM_SIZE),
               "the cached merged IOPM is L1's as it is now");
    FUZZ_CHECK(msrpm_protects_l0(n->msrpm02), "the merged MSRPM protects L0's MSRs");
    uint64_t bases[2] = { n->merged_msrpm12, n->merged_iopm12 };
    uint32_t sizes[2] = { MSRPM_SIZE, IOPM_SIZE };
    for (int m = 0; m < 2; m++)
        for (uint32_t off = 0; bases[m] && off < sizes[m]; off += 4096)
            if (l1_ram_ok(bases[m] + off, 4096))
                FUZZ_CHECK(prot_index(bases[m] + off) >= 0,
                           "NPT01 write-protects every RAM page a cached merge read");
}

static bool cached_by_someone(uint64_t page)
{
    for (int c = 0; c < 2; c++) {
        const struct nested *n = &cpus[c].nested;
        uint64_t bases[2] = { n->merged_msrpm12, n->merged_iopm12 };
        uint32_t sizes[2] = { MSRPM_SIZE, IOPM_SIZE };
        if (n->merged_msrpm12 == NESTED_MAPS_NONE)
            continue;
        for (int m = 0; m < 2; m++)
            if (bases[m] && page >= bases[m] && page < bases[m] + sizes[m])
                return true;
    }
    return false;
}

/* What must hold at all times (cheap). The contents of a vCPU's merge are
 * compared after each merge of it; in between, a cached merge stays
 * right as long as no L1 write lands in a page it read (op_write). */
static void check_all(void)
{
    for (unsigned i = 0; i < nprot; i++)
        FUZZ_CHECK(cached_by_someone(protected_pages[i]),
                   "no page stays write-protected without a merge that read it");
    FUZZ_CHECK(nested_maps_merges() == cpus[0].nested.merges + cpus[1].nested.merges,
               "merges are counted per vCPU");
}

/* --- operations ----------------------------------------------------------- */
static uint64_t map_base(struct fuzz_in *in)
{
    uint8_t sel = in_u8(in);
    if (sel & 0x80) /* anywhere, page bits kept: the CPU ignores them */
        return in_u64(in) % (PHYS_LIMIT + 0x10000);
    return fake_ram_base() + (uint64_t)(sel % (FAKE_RAM_PAGES + 2)) * 4096 + (sel & 0x40 ? 0x123 : 0);
}

static void op_merge(struct fuzz_in *in, struct vcpu *v)
{
    uint8_t en = in_u8(in);
    struct vmcb_control *c12 = &v->nested.vmcb12->control;
    c12->intercept_misc1 = (en & 1 ? VMCB_INTERCEPT1_MSR_PROT : 0) |
                           (en & 2 ? VMCB_INTERCEPT1_IOIO_PROT : 0);
    c12->msrpm_base_pa = map_base(in);
    c12->iopm_base_pa = en & 4 ? c12->msrpm_base_pa : map_base(in); /* overlapping maps too */
    bool too_far = ((en & 1) && (c12->msrpm_base_pa & ~0xFFFULL) + MSRPM_SIZE > PHYS_LIMIT) ||
                   ((en & 2) && (c12->iopm_base_pa & ~0xFFFULL) + IOPM_SIZE > PHYS_LIMIT);
    bool valid = nested_maps_valid(c12);
    FUZZ_CHECK(valid == !too_far, "nested_maps_valid refuses exactly maps past the limit");
    if (!valid)
        return; /* VMEXIT_INVALID: nothing merged */
    unsigned prot_before = nprot, flushes = npt01_flushes, remote = remote_flushes;
    uint64_t before[NESTED_MAX_PROTECTED + 32];
    memcpy(before, protected_pages, nprot * sizeof *before);
    nested_maps_merge(v, c12);
    bool newly = false;
    for (unsigned i = 0; i < nprot; i++) {
        bool was = false;
        for (unsigned j = 0; j < prot_before; j++)
            was |= before[j] == protected_pages[i];
        newly |= !was;
    }
    if (newly)
        FUZZ_CHECK(npt01_flushes > flushes && remote_flushes > remote,
                   "pages newly write-protected: this CPU and the others flush");
    FUZZ_CHECK(v->nested.merged_msrpm12 == (en & 1 ? c12->msrpm_base_pa & ~0xFFFULL : 0) &&
                   v->nested.merged_iopm12 == (en & 2 ? c12->iopm_base_pa & ~0xFFFULL : 0),
               "after a merge, the cache holds VMCB12's maps (page-aligned)");
    check_cached(v);
}

/* L1 writes bytes; a protected page faults first (hv/exit/exit_npf.c). */
static void op_write(struct fuzz_in *in, struct vcpu *v)
{
    uint64_t at = fake_gpa(in_u8(in) & 0x7F, in_u32(in));
    unsigned n = in_u8(in) % 16 + 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t pa = at + i;
        uint8_t b = in_u8(in);
        if (!l1_ram_ok(pa, 1))
            continue; /* not L1's RAM: the write goes nowhere here */
        uint64_t page = pa & ~0xFFFULL;
        bool prot = prot_index(page) >= 0;
        bool hit = nested_maps_l1_write(v, pa);
        FUZZ_CHECK(hit == prot, "nested_maps_l1_write is true exactly for a protected page");
        FUZZ_CHECK(prot_index(page) < 0, "a page L1 writes is writable after its fault");
        FUZZ_CHECK(!cached_by_someone(page), "no merge stays cached over a page L1 writes");
        *(uint8_t *)(uintptr_t)pa = b;
    }
}

/* L0 writes L1's memory for L1 (a #VMEXIT into VMCB12, VMSAVE): through
 * the identity map, so no fault; then it tells the maps. */
static void op_l0_write(struct fuzz_in *in, struct vcpu *v)
{
    uint64_t at = fake_gpa(in_u8(in) & 0x7F, in_u32(in)) & ~0x7ULL;
    if (!l1_ram_ok(at, 8))
        return;
    *(uint64_t *)(uintptr_t)at = in_u64(in);
    nested_maps_l0_wrote(v, at);
    FUZZ_CHECK(!cached_by_someone(at & ~0xFFFULL), "no merge stays cached over a page L0 wrote for L1");
}

static void op_msr(struct fuzz_in *in, struct vcpu *v)
{
    uint32_t msr = in_u32(in);
    if (msr & 0x10000000u) /* mostly inside the map's three ranges */
        msr = (msr & 0xC0011FFFu);
    bool write = msr & 0x1000;
    const void *base = (const void *)(uintptr_t)(v->nested.vmcb12->control.msrpm_base_pa & ~0xFFFULL);
    FUZZ_CHECK(nested_maps_l1_msr(v, msr, write) == msrpm_says(l1_map_get, base, msr, write),
               "RDMSR/WRMSR routing reads L1's MSRPM bit as it is now");
}

static void op_io(struct fuzz_in *in, struct vcpu *v)
{
    uint16_t port = in_u16(in);
    uint8_t sz = in_u8(in) % 3;
    uint64_t info1 = ((uint64_t)port << SVM_IOIO_PORT_SHIFT) |
                     (sz == 0 ? SVM_IOIO_SZ8 : sz == 1 ? SVM_IOIO_SZ16 : SVM_IOIO_SZ32);
    uint64_t base = v->nested.vmcb12->control.iopm_base_pa & ~0xFFFULL;
    bool want = false;
    for (uint32_t p = port; p < (uint32_t)port + (1u << sz); p++)
        want |= (l1_byte(base, p / 8) >> (p % 8)) & 1;
    FUZZ_CHECK(nested_maps_l1_io(v, info1) == want,
               "IN/OUT routing: any of the access's ports' bits in L1's IOPM now");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    fake_ram_init();
    fake_ram_clear();
    l0_msrpm_build(l0_msrpm);
    nested_maps_init(l0_msrpm);
    reset_cpus();
    for (int ops = 0; ops < 24 && !in_empty(&in); ops++) {
        uint8_t op = in_u8(&in);
        struct vcpu *v = &cpus[op >> 7];
        switch (op % 7) {
        case 0: case 1: op_merge(&in, v); check_all(); break;
        case 2: case 3: op_write(&in, v); check_all(); break;
        case 4: op_msr(&in, v); break;
        case 5: op_io(&in, v); break;
        case 6: op_l0_write(&in, v); check_all(); break;
        }
    }
    return 0;
}
