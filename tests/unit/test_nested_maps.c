/* VMCB02's merged permission maps (hv/nested/nested_maps.c): L0's bits always,
 * L1's when it asks; the merge is cached and redone only when L1 points at
 * other maps or writes to the merged ones (write-protected meanwhile).
 * L1 "physical" addresses are host pointers here: the module reads L1
 * memory through the identity map, which a pointer models exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "arch/x86/msr.h"
#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"
#include "hv/nested/nested_maps.h"

/* --- stand-ins for the hypervisor around the module ------------------- */
static uint64_t ram_lo, ram_hi;       /* "L1 RAM" for l1_ram_ok */
static int writable_calls, protected_now, npt01_changes;
/* NPT01's write protection as the module left it, page by page. */
#define MAX_PAGES 32
static uint64_t protected_set[MAX_PAGES];

bool l1_ram_ok(uint64_t gpa, uint64_t len)
{
    return gpa >= ram_lo && gpa + len <= ram_hi;
}

void guest_mem_set_writable(uint64_t gpa, bool writable)
{
    writable_calls++;
    int slot = -1, free_slot = -1;
    for (int i = 0; i < MAX_PAGES; i++) {
        if (protected_set[i] == gpa)
            slot = i;
        else if (!protected_set[i] && free_slot < 0)
            free_slot = i;
    }
    if (writable && slot >= 0) {
        protected_set[slot] = 0;
        protected_now--;
    } else if (!writable && slot < 0) {
        assert_true(free_slot >= 0);
        protected_set[free_slot] = gpa;
        protected_now++;
    }
}

static bool is_protected(uint64_t gpa)
{
    for (int i = 0; i < MAX_PAGES; i++)
        if (protected_set[i] == (gpa & ~0xFFFULL))
            return true;
    return false;
}

void tlb_npt01_changed(struct vcpu *v)
{
    (void)v;
    npt01_changes++;
}

static int remote_flushes;
void vcpu_request_all(struct vcpu *self, uint32_t request)
{
    (void)self;
    assert_int_equal(request, 1u); /* VCPU_REQ_NPT01_FLUSH */
    remote_flushes++;
}

/* --- fixtures ----------------------------------------------------------- */
static uint8_t *arena;                /* L1 RAM: two MSRPMs, two IOPMs */
static uint8_t *l1_msrpm, *l1_msrpm2, *l1_iopm;
static uint8_t l0_msrpm[MSRPM_SIZE], msrpm02[MSRPM_SIZE], iopm02[IOPM_SIZE];
static struct vcpu v, w; /* two vCPUs sharing NPT01 */
static uint8_t msrpm02w[MSRPM_SIZE], iopm02w[IOPM_SIZE];
static struct vmcb_control c12;
static struct vmcb copy12; /* v's VMCB12 copy, for routing (use_maps) */

static int vcpu_lookups; /* how often the module walked the vCPUs */
unsigned vcpu_count(void) { return 2; }
struct vcpu *vcpu_by_index(unsigned i)
{
    vcpu_lookups++;
    return i == 0 ? &v : i == 1 ? &w : NULL;
}

static void reset_vcpu(struct vcpu *x, uint8_t *msrpm02_, uint8_t *iopm02_)
{
    memset(x, 0, sizeof *x);
    x->nested.msrpm02 = msrpm02_;
    x->nested.iopm02 = iopm02_;
    x->nested.merged_msrpm12 = x->nested.merged_iopm12 = ~0ULL;
}

static int setup(void **state)
{
    (void)state;
    arena = aligned_alloc(4096, 2 * MSRPM_SIZE + IOPM_SIZE + 4096);
    memset(arena, 0, 2 * MSRPM_SIZE + IOPM_SIZE + 4096);
    l1_msrpm = arena;
    l1_msrpm2 = arena + MSRPM_SIZE;
    l1_iopm = arena + 2 * MSRPM_SIZE;
    ram_lo = (uint64_t)arena;
    ram_hi = ram_lo + 2 * MSRPM_SIZE + IOPM_SIZE + 4096;
    memset(l0_msrpm, 0, sizeof l0_msrpm);
    msrpm_set(l0_msrpm, MSR_VM_HSAVE_PA, true, true);
    nested_maps_init(l0_msrpm);
    reset_vcpu(&v, msrpm02, iopm02);
    reset_vcpu(&w, msrpm02w, iopm02w);
    memset(&c12, 0, sizeof c12);
    memset(protected_set, 0, sizeof protected_set);
    writable_calls = protected_now = npt01_changes = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(arena);
    return 0;
}

static void use_maps(uint8_t *msrpm, uint8_t *iopm)
{
    c12.intercept_misc1 = (msrpm ? VMCB_INTERCEPT1_MSR_PROT : 0) |
                          (iopm ? VMCB_INTERCEPT1_IOIO_PROT : 0);
    c12.msrpm_base_pa = (uint64_t)msrpm;
    c12.iopm_base_pa = (uint64_t)iopm;
    copy12.control = c12;
    v.nested.vmcb12 = &copy12;
}

/* --- tests ---------------------------------------------------------------- */
static void test_l0_bits_without_l1_maps(void **state)
{
    (void)state;
    nested_maps_merge(&v, &c12);
    assert_true(msrpm_intercepts(msrpm02, MSR_VM_HSAVE_PA, true));
    assert_false(msrpm_intercepts(msrpm02, MSR_STAR, false));
    assert_false(iopm_intercepts(iopm02, 0x80, 1));
    assert_int_equal(protected_now, 0); /* nothing of L1's to protect */
}

static void test_merge_is_union(void **state)
{
    (void)state;
    msrpm_set(l1_msrpm, MSR_STAR, true, false);
    iopm_set(l1_iopm, 0x80, 1, true);
    use_maps(l1_msrpm, l1_iopm);
    assert_true(nested_maps_valid(&c12));
    nested_maps_merge(&v, &c12);
    assert_true(msrpm_intercepts(msrpm02, MSR_STAR, false));   /* L1's */
    assert_false(msrpm_intercepts(msrpm02, MSR_STAR, true));
    assert_true(msrpm_intercepts(msrpm02, MSR_VM_HSAVE_PA, true)); /* L0's */
    assert_true(iopm_intercepts(iopm02, 0x80, 1));
    assert_false(iopm_intercepts(iopm02, 0x81, 1));
    /* Routing reads L1's own map, not the merge. */
    assert_true(nested_maps_l1_msr(&v, MSR_STAR, false));
    assert_false(nested_maps_l1_msr(&v, MSR_VM_HSAVE_PA, true));
    assert_true(nested_maps_l1_io(&v, 0x80ULL << SVM_IOIO_PORT_SHIFT | SVM_IOIO_SZ8));
    /* L1's maps are write-protected while the merge is cached. */
    assert_int_equal(protected_now, (MSRPM_SIZE + IOPM_SIZE) / 4096);
    assert_true(npt01_changes > 0);
}

static void test_cache_hit_costs_no_merge(void **state)
{
    (void)state;
    use_maps(l1_msrpm, l1_iopm);
    nested_maps_merge(&v, &c12);
    uint64_t merges = nested_maps_merges();
    for (int i = 0; i < 100; i++)
        nested_maps_merge(&v, &c12);
    assert_int_equal(nested_maps_merges(), merges);
}

static void test_l1_write_invalidates(void **state)
{
    (void)state;
    use_maps(l1_msrpm, 0);
    nested_maps_merge(&v, &c12);
    uint64_t merges = nested_maps_merges();
    /* A write elsewhere is not ours. */
    assert_false(nested_maps_l1_write(&v, (uint64_t)l1_iopm));
    /* L1 writes to its protected MSRPM: unprotected, cache dropped... */
    assert_true(nested_maps_l1_write(&v, (uint64_t)l1_msrpm + 4096 + 123));
    assert_int_equal(protected_now, 0);
    msrpm_set(l1_msrpm, MSR_LSTAR, false, true);
    /* ...so the next VMRUN merges again and sees the change. */
    nested_maps_merge(&v, &c12);
    assert_int_equal(nested_maps_merges(), merges + 1);
    assert_true(msrpm_intercepts(msrpm02, MSR_LSTAR, true));
}

static void test_other_maps_remerge(void **state)
{
    (void)state;
    use_maps(l1_msrpm, 0);
    nested_maps_merge(&v, &c12);
    msrpm_set(l1_msrpm2, MSR_CSTAR, true, true);
    use_maps(l1_msrpm2, 0);
    nested_maps_merge(&v, &c12);
    assert_true(msrpm_intercepts(msrpm02, MSR_CSTAR, false));
    assert_int_equal(protected_now, MSRPM_SIZE / 4096); /* only the new map */
}

/* NPT01 is shared: a page two vCPUs merged stays protected until neither
 * uses it, and a write from any vCPU drops the merge of every vCPU that
 * has that page (not only the writer's). */
static void test_two_vcpus_share_protection(void **state)
{
    (void)state;
    use_maps(l1_msrpm, 0);
    remote_flushes = 0;
    nested_maps_merge(&v, &c12);
    /* Other CPUs may hold writable translations: they flush first. */
    assert_int_equal(remote_flushes, 1);
    nested_maps_merge(&w, &c12);
    assert_int_equal(protected_now, MSRPM_SIZE / 4096);
    use_maps(l1_msrpm2, 0);
    nested_maps_merge(&w, &c12); /* w moves on; v still uses l1_msrpm */
    assert_true(is_protected((uint64_t)l1_msrpm));
    assert_true(is_protected((uint64_t)l1_msrpm2));
    /* w's L1 writes the map v merged: v's merge goes, w's stays. */
    assert_true(nested_maps_l1_write(&w, (uint64_t)l1_msrpm + 8));
    assert_true(nested_maps_dropped(&v.nested));
    assert_false(nested_maps_dropped(&w.nested));
    assert_false(is_protected((uint64_t)l1_msrpm));
    assert_true(is_protected((uint64_t)l1_msrpm2));
    /* v's next VMRUN merges again and sees what w's L1 wrote. */
    msrpm_set(l1_msrpm, MSR_LSTAR, false, true);
    use_maps(l1_msrpm, 0);
    nested_maps_merge(&v, &c12);
    assert_true(msrpm_intercepts(msrpm02, MSR_LSTAR, true));
    assert_false(msrpm_intercepts(msrpm02w, MSR_LSTAR, true));
}

/* L0 writes VMCB12 at every reflected #VMEXIT (nested_maps_l0_wrote): a
 * page found in no list is not looked up again, until a vCPU protects a
 * page; a page protected since then is seen, and the merge dropped. */
static void test_l0_write_remembers_unprotected_page_until_a_merge(void **state)
{
    (void)state;
    uint64_t page = (uint64_t)l1_msrpm; /* L1 could put its VMCB12 here */
    nested_maps_l0_wrote(&v, page + 8);
    vcpu_lookups = 0;
    nested_maps_l0_wrote(&v, page + 16);
    assert_int_equal(vcpu_lookups, 0); /* remembered: no walk */
    /* w merges a map on that very page (protects it) ... */
    use_maps(l1_msrpm, 0);
    nested_maps_merge(&w, &c12);
    assert_true(is_protected(page));
    /* ... so v's next write there is seen, and w's merge goes. */
    nested_maps_l0_wrote(&v, page + 24);
    assert_true(nested_maps_dropped(&w.nested));
    assert_false(is_protected(page));
    /* Unprotected again: remembered again after one walk. */
    nested_maps_l0_wrote(&v, page + 32);
    vcpu_lookups = 0;
    nested_maps_l0_wrote(&v, page + 40);
    assert_int_equal(vcpu_lookups, 0);
}

uint64_t guest_phys_limit(void) { return 1ULL << 52; }

static void test_maps_past_phys_limit_are_invalid(void **state)
{
    (void)state;
    use_maps(l1_msrpm, 0);
    c12.msrpm_base_pa = (1ULL << 52) - 4096; /* its second page past the limit */
    assert_false(nested_maps_valid(&c12));
    use_maps(0, l1_iopm);
    c12.iopm_base_pa = (1ULL << 52) - 8192;
    assert_false(nested_maps_valid(&c12));
    c12.iopm_base_pa = (1ULL << 52) - IOPM_SIZE; /* fits: valid, wherever it is */
    assert_true(nested_maps_valid(&c12));
    /* Without MSR_PROT/IOIO_PROT the bases do not matter (APM 15.10, 15.11). */
    c12.intercept_misc1 = 0;
    c12.msrpm_base_pa = ~0xFFFULL;
    assert_true(nested_maps_valid(&c12));
}

/* A map that runs out of L1's RAM: its first page is L1's (read), the rest
 * reads as all ones, nothing outside RAM is read or protected; routing an
 * L2 exit reads the same way. */
static void test_map_bytes_outside_l1_ram_intercept(void **state)
{
    (void)state;
    uint8_t *last = (uint8_t *)(ram_hi - 4096);
    use_maps(0, last);
    last[0x80 / 8] = 1; /* port 0x80 intercepted, 0x81 not */
    assert_true(nested_maps_valid(&c12));
    nested_maps_merge(&v, &c12);
    assert_true(iopm_intercepts(iopm02, 0x80, 1));
    assert_false(iopm_intercepts(iopm02, 0x81, 1));
    assert_true(iopm_intercepts(iopm02, 0x8000, 1)); /* second page: no RAM */
    assert_true(iopm_intercepts(iopm02, 0xFFFF, 1));
    assert_int_equal(protected_now, 1); /* only the page in RAM */
    uint64_t in80 = (0x80ULL << SVM_IOIO_PORT_SHIFT) | SVM_IOIO_SZ8;
    uint64_t in81 = (0x81ULL << SVM_IOIO_PORT_SHIFT) | SVM_IOIO_SZ8;
    uint64_t in7fff = (0x7FFFULL << SVM_IOIO_PORT_SHIFT) | SVM_IOIO_SZ16;
    assert_true(nested_maps_l1_io(&v, in80));
    assert_false(nested_maps_l1_io(&v, in81));
    assert_true(nested_maps_l1_io(&v, in7fff)); /* its second port is 0x8000 */

    /* An MSRPM wholly outside RAM intercepts every MSR. */
    use_maps((uint8_t *)(ram_hi + 0x100000), 0);
    nested_maps_merge(&v, &c12);
    assert_true(msrpm_intercepts(msrpm02, MSR_STAR, false));
    assert_true(nested_maps_l1_msr(&v, MSR_STAR, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_l0_bits_without_l1_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_is_union, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_hit_costs_no_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l1_write_invalidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_maps_remerge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_vcpus_share_protection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maps_past_phys_limit_are_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_bytes_outside_l1_ram_intercept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l0_write_remembers_unprotected_page_until_a_merge, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
