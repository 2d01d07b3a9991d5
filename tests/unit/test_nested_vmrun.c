/* VMRUN emulation (hv/nested/nested.c) on the host: VMCB12 is read once.
 *
 * L1's VMCB12 lives in its own mmap'ed page (L1 "physical" addresses are
 * host pointers: the hypervisor reads L1 memory through an identity map).
 * The consistency checks are linked with --wrap, so the test runs right
 * after the check of every VMRUN and can
 *   - seal VMCB12 (PROT_NONE): any later read or write of L1's VMCB12 in
 *     that VMRUN kills the test (a second read is the CVE-2021-29657 bug);
 *   - tamper with VMCB12, as another L1 CPU could: VMCB02 must still hold
 *     the checked values.
 * Also: the checks see the private copy, never L1's page; a failed VMRUN
 * is not cached (clean bits cannot skip its checks next time); the fully
 * clean fast path re-reads exactly the always-read fields; VMCB02's TSC
 * offset is VMCB01's plus VMCB12's. And L2's CR-read exits on a CPU that
 * codes every MOV from CRn as a CR0 read (QEMU's TCG, hv/nested/nested_cr_read.c):
 * L1 gets the exit of the CR read, or none where it does not intercept it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "arch/x86/svm.h"
#include "arch/x86/svm_bitmaps.h"
#include "arch/x86/vectors.h"
#include "arch/x86/vmcb.h"
#include "hv/core/exception.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/memory/guest_mem.h"
#include "hv/core/host_caps.h"
#include "hv/core/log.h"
#include "hv/core/memory.h"
#include "hv/nested/nested.h"
#include "hv/nested/nested_maps.h"
#include "hv/nested/nested_tsc.h"
#include "hv/core/host_tsc.h"
#include "hv/tlb/tlb.h"
#include "hv/nested/vmcb12_check.h"
#include "tests/unit/vmcb12_fixture.h"

/* --- stand-ins for the hypervisor around hv/nested/nested.c ------------------- */
void *hv_alloc_zeroed(uint64_t pages, uint64_t *pa)
{
    void *p = aligned_alloc(4096, pages * 4096);
    memset(p, 0, pages * 4096);
    if (pa)
        *pa = (uint64_t)(uintptr_t)p;
    return p;
}
uint64_t guest_phys_limit(void) { return 1ULL << 48; }
bool l1_ram_ok(uint64_t gpa, uint64_t len) { return gpa && gpa + len > gpa; }
bool guest_mem_npt02_init(struct npt02 *npt02) { npt02->root = 0x7000; return true; }
uint64_t guest_mem_npt01_root(void) { return 0x5000; }
void guest_mem_set_writable(uint64_t gpa, bool writable) { (void)gpa; (void)writable; }
bool guest_mem_hv_access(uint64_t gpa, uint64_t rip, bool write)
{
    (void)gpa; (void)rip; (void)write;
    return false;
}
enum npt02_fill guest_mem_npt02_fault(struct vcpu *v, uint64_t npt12_root, uint64_t l2_gpa,
                                      uint64_t error, uint64_t *reflect_info1)
{
    (void)v; (void)npt12_root; (void)l2_gpa; (void)error; (void)reflect_info1;
    fail_msg("no #NPF in these tests");
    return NPT02_FILLED;
}
void log_printf(enum log_level level, const char *fmt, ...) { (void)level; (void)fmt; }
void hv_fatal_stop(void) { fail_msg("hv_fatal_stop"); abort(); }
void vcpu_dump(const struct vcpu *v, const char *why) { (void)v; fail_msg("vcpu_dump: %s", why); }
void exit_msr(struct vcpu *v) { (void)v; }
void exit_svm_insn(struct vcpu *v) { (void)v; }
void exit_cpuid(struct vcpu *v) { (void)v; }
void exit_db(struct vcpu *v) { (void)v; }
void exit_ac(struct vcpu *v) { (void)v; }
void apic_self_nmi(struct vcpu *v) { (void)v; }
void vcpu_request_all(struct vcpu *self, uint32_t request) { (void)self; (void)request; }
bool apic_mmio_fault(struct vcpu *v, uint64_t gpa, uint64_t exitinfo1)
{
    (void)v; (void)gpa; (void)exitinfo1;
    return false;
}
void tlb_npt01_changed(struct vcpu *v) { (void)v; }
void tlb_invlpga(struct vcpu *v, uint32_t asid) { (void)v; (void)asid; }
void tlb_service_leaving_slow(struct vcpu *v) { (void)v; }
static uint32_t last_vasid;
bool tlb_vmrun12(struct vcpu *v, uint32_t vasid, uint64_t ncr3, uint8_t tlb_control12)
{
    (void)v; (void)ncr3; (void)tlb_control12;
    last_vasid = vasid;
    return false;
}
static int injected;
void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
    (void)v; (void)vector; (void)has_error; (void)error;
    injected++;
}
void vcpu_skip_insn(struct vcpu *v) { v->vmcb01.va->save.rip += 3; }
void vcpu_complete_insn_flags(struct vcpu *v) { (void)v; }
/* The instruction at L2's RIP, as hv/decode/guest_fetch.c would read it. */
static uint8_t l2_insn[15];
static unsigned l2_insn_len;
unsigned guest_fetch_insn(const struct vcpu *v, uint8_t *buf, unsigned max)
{
    (void)v;
    unsigned n = l2_insn_len < max ? l2_insn_len : max;
    memcpy(buf, l2_insn, n);
    return n;
}

/* The host's TSC and TSC_AUX, as hv/core/host_tsc.c would read them. */
static uint64_t fake_host_tsc;
static uint32_t fake_tsc_aux;
uint64_t host_tsc_read(void) { return fake_host_tsc; }
uint32_t host_tsc_aux_read(void) { return fake_tsc_aux; }

static struct vcpu vcpu;
unsigned vcpu_count(void) { return 1; }
struct vcpu *vcpu_by_index(unsigned i) { return i == 0 ? &vcpu : NULL; }

/* --- the checks, wrapped ----------------------------------------------- */
static struct vmcb *vmcb12; /* L1's page */
static enum { AFTER_CHECK_NOTHING, AFTER_CHECK_SEAL, AFTER_CHECK_TAMPER } after_check;
static int full_checks, reloaded_checks;

static void tamper(struct vmcb *v)
{
    v->save.efer &= ~EFER_SVME;
    v->save.cr0 |= CR0_NW;
    v->save.cr0 &= ~CR0_CD;
    v->save.rip = 0xBAD0BAD0;
    v->save.rflags = 0;
    v->control.intercept_misc2 = 0; /* no VMRUN intercept */
    v->control.guest_asid = 0;
    v->control.int_ctl |= VMCB_INT_CTL_AVIC_ENABLE | VMCB_INT_CTL_VGIF_ENABLE;
    v->control.eventinj = VMCB_EVENT_V | (5ULL << VMCB_EVENT_TYPE_SHIFT); /* reserved type */
    v->control.tsc_offset = 0x1234;
}

static void after_the_check(const struct vmcb *checked)
{
    assert_ptr_not_equal(checked, vmcb12); /* the checks see the copy */
    if (after_check == AFTER_CHECK_SEAL)
        assert_int_equal(mprotect(vmcb12, 4096, PROT_NONE), 0);
    else if (after_check == AFTER_CHECK_TAMPER)
        tamper(vmcb12);
}

const char *__real_vmcb12_check(const struct vmcb *v, const struct vmcb12_check_env *e);
const char *__real_vmcb12_check_reloaded(const struct vmcb *v, const struct vmcb12_check_env *e);

const char *__wrap_vmcb12_check(const struct vmcb *v, const struct vmcb12_check_env *e)
{
    const char *r = __real_vmcb12_check(v, e);
    full_checks++;
    after_the_check(v);
    return r;
}

const char *__wrap_vmcb12_check_reloaded(const struct vmcb *v, const struct vmcb12_check_env *e)
{
    const char *r = __real_vmcb12_check_reloaded(v, e);
    reloaded_checks++;
    after_the_check(v);
    return r;
}

/* --- fixtures ----------------------------------------------------------- */
static struct vmcb good; /* what L1 wrote, kept to compare with */
static uint8_t l0_msrpm[MSRPM_SIZE];
#define OFFSET01 ((uint64_t)-1000) /* L1's TSC runs 1000 behind the host's */

static int setup(void **state)
{
    (void)state;
    memset(&vcpu, 0, sizeof vcpu);
    vmcb12 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(vmcb12, MAP_FAILED);
    vcpu.vmcb01.va = hv_alloc_zeroed(1, &vcpu.vmcb01.pa);
    switch_vmcb(&vcpu, TLB_CTX_L1); /* the first launch */
    vcpu.vmcb01.va->control.tsc_offset = OFFSET01;
    vcpu.vmcb01.va->save.rip = 0x1000;
    vcpu.vmcb01.va->save.rax = (uint64_t)(uintptr_t)vmcb12;
    vcpu.l1.efer_svme = true;
    vcpu.l1.tsc_ratio = vcpu.tsc_ratio_hw = TSC_RATIO_ONE; /* as at launch */
    nested_maps_init(l0_msrpm);
    assert_true(nested_init(&vcpu));

    make_long_mode(&good);
    /* Maps in L1 "memory": real buffers, the merge reads them. */
    good.control.msrpm_base_pa = (uint64_t)(uintptr_t)hv_alloc_zeroed(MSRPM_SIZE / 4096, NULL);
    good.control.iopm_base_pa = (uint64_t)(uintptr_t)hv_alloc_zeroed(IOPM_SIZE / 4096, NULL);
    good.control.intercept_misc1 |= VMCB_INTERCEPT1_CPUID;
    good.control.tsc_offset = 5000;
    good.control.eventinj = VMCB_EVENT_V | VMCB_EVENT_TYPE_NMI | 2;
    *vmcb12 = good;
    after_check = AFTER_CHECK_NOTHING;
    full_checks = reloaded_checks = injected = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    munmap(vmcb12, 4096);
    free((void *)(uintptr_t)good.control.msrpm_base_pa);
    free((void *)(uintptr_t)good.control.iopm_base_pa);
    free(vcpu.vmcb01.va);
    free(vcpu.nested.vmcb12);
    free(vcpu.nested.vmcb02.va);
    free(vcpu.nested.msrpm02);
    free(vcpu.nested.iopm02);
    return 0;
}

/* L1's VMRUN, then back in L1 as after a #VMEXIT. */
static void vmrun(void)
{
    vcpu.vmcb01.va->save.rax = (uint64_t)(uintptr_t)vmcb12;
    nested_vmrun(&vcpu);
    mprotect(vmcb12, 4096, PROT_READ | PROT_WRITE);
}

static void back_to_l1(void)
{
    switch_vmcb(&vcpu, TLB_CTX_L1);
}

/* VMCB02 was built from what L1 wrote before the check ("good"). */
static void assert_vmcb02_from_good(void)
{
    const struct vmcb *v02 = vcpu.nested.vmcb02.va;
    assert_true(vcpu.nested.in_l2);
    assert_ptr_equal(vcpu.vmcb.va, v02);
    assert_int_equal(v02->save.rip, good.save.rip);
    assert_int_equal(v02->save.rflags, good.save.rflags);
    assert_int_equal(v02->save.efer, good.save.efer);
    assert_int_equal(v02->save.cr0, good.save.cr0);
    assert_memory_equal(&v02->save.cs, &good.save.cs, sizeof good.save.cs);
    assert_true(v02->control.intercept_misc2 & VMCB_INTERCEPT2_VMRUN);
    assert_int_equal(v02->control.int_ctl & (VMCB_INT_CTL_AVIC_ENABLE | VMCB_INT_CTL_VGIF_ENABLE), 0);
    assert_int_equal(v02->control.eventinj, good.control.eventinj);
    assert_int_equal(last_vasid, good.control.guest_asid);
}

static void test_checks_see_the_copy_and_vmcb02_is_built(void **state)
{
    (void)state;
    vmrun();
    assert_int_equal(full_checks, 1);
    assert_int_equal(injected, 0);
    assert_vmcb02_from_good();
    assert_int_equal(vcpu.vmcb01.va->save.rip, 0x1003); /* L1 resumes after VMRUN */
}

static void test_vmcb12_not_touched_after_the_check(void **state)
{
    (void)state;
    after_check = AFTER_CHECK_SEAL; /* a later access would fault */
    vmrun();
    assert_int_equal(full_checks, 1);
    assert_vmcb02_from_good();
}

static void test_changes_after_the_check_do_not_reach_vmcb02(void **state)
{
    (void)state;
    after_check = AFTER_CHECK_TAMPER;
    vmrun();
    assert_vmcb02_from_good();
    assert_int_equal(vcpu.nested.vmcb02.va->control.tsc_offset, OFFSET01 + 5000);
}

/* L1 marks everything clean: only the always-read fields are read again,
 * checked again, and still read once. */
static void test_clean_fast_path_reads_once_too(void **state)
{
    (void)state;
    vmrun();
    back_to_l1();
    vmcb12->save.rip = good.save.rip += 2;
    vmcb12->control.vmcb_clean = 0xFFFFFFFF;
    after_check = AFTER_CHECK_SEAL;
    vmrun();
    assert_int_equal(full_checks, 1);
    assert_int_equal(reloaded_checks, 1);
    assert_vmcb02_from_good();

    back_to_l1();
    after_check = AFTER_CHECK_TAMPER;
    vmcb12->save.rip = good.save.rip += 2;
    vmcb12->control.vmcb_clean = 0xFFFFFFFF;
    vmrun();
    assert_vmcb02_from_good();
}

/* An always-read field is checked on the fast path too. */
static void test_clean_fast_path_still_checks_eventinj(void **state)
{
    (void)state;
    vmrun();
    back_to_l1();
    vmcb12->control.eventinj = VMCB_EVENT_V | (5ULL << VMCB_EVENT_TYPE_SHIFT);
    vmcb12->control.vmcb_clean = 0xFFFFFFFF;
    vmrun();
    assert_false(vcpu.nested.in_l2);
    assert_int_equal((uint32_t)vmcb12->control.exitcode, (uint32_t)VMEXIT_INVALID);
}

/* Another CPU of L1 rewrites VMCB12 while this one emulates VMRUN of it
 * (KVM's CVE-2021-29657): a thread flips fields between a good and a bad
 * value all the time. Whatever it catches, each VMRUN either fails with
 * VMEXIT_INVALID or builds a VMCB02 whose every field passed the checks:
 * never SVME clear, CR0.NW without CD, the VMRUN intercept gone, AVIC or
 * vGIF set, a reserved event type. */
static volatile int flipping;
static unsigned flips;
static void *flipper(void *arg)
{
    (void)arg;
    for (unsigned i = 0; __atomic_load_n(&flipping, __ATOMIC_ACQUIRE); i++) {
        __atomic_store_n(&flips, i, __ATOMIC_RELEASE);
        volatile struct vmcb *v = vmcb12;
        if (i & 1) {
            v->save.efer = good.save.efer & ~EFER_SVME;
            v->save.cr0 = (good.save.cr0 | CR0_NW) & ~CR0_CD;
            v->control.intercept_misc2 = 0;
            v->control.int_ctl = VMCB_INT_CTL_AVIC_ENABLE | VMCB_INT_CTL_VGIF_ENABLE;
            v->control.eventinj = VMCB_EVENT_V | (5ULL << VMCB_EVENT_TYPE_SHIFT);
        } else {
            v->save.efer = good.save.efer;
            v->save.cr0 = good.save.cr0;
            v->control.intercept_misc2 = good.control.intercept_misc2;
            v->control.int_ctl = good.control.int_ctl;
            v->control.eventinj = good.control.eventinj;
        }
    }
    return NULL;
}

static void test_vmcb12_changed_by_another_cpu_during_vmrun(void **state)
{
    (void)state;
    pthread_t t;
    unsigned ok = 0, invalid = 0;
    flipping = 1;
    flips = 0;
    pthread_create(&t, NULL, flipper, NULL);
    /* The flipper runs first; then at least 20000 VMRUNs, and on until
     * both outcomes were seen (a loaded host may leave the thread off a
     * CPU for a while), within a bound that no scheduler reaches. */
    while (__atomic_load_n(&flips, __ATOMIC_ACQUIRE) < 2)
        sched_yield();
    for (long i = 0; i < 20000 || ((!ok || !invalid) && i < 20000000); i++) {
        vmcb12->control.vmcb_clean = 0; /* a full check every time */
        vmrun();
        if (!vcpu.nested.in_l2) {
            assert_int_equal((uint32_t)vmcb12->control.exitcode, (uint32_t)VMEXIT_INVALID);
            invalid++;
            continue;
        }
        const struct vmcb *v02 = vcpu.nested.vmcb02.va;
        assert_true(v02->save.efer & EFER_SVME);
        assert_false((v02->save.cr0 & CR0_NW) && !(v02->save.cr0 & CR0_CD));
        assert_true(v02->control.intercept_misc2 & VMCB_INTERCEPT2_VMRUN);
        assert_int_equal(v02->control.int_ctl & (VMCB_INT_CTL_AVIC_ENABLE | VMCB_INT_CTL_VGIF_ENABLE), 0);
        assert_int_equal(v02->control.eventinj, good.control.eventinj);
        ok++;
        back_to_l1();
    }
    flipping = 0;
    pthread_join(t, NULL);
    print_message("VMRUNs while another thread rewrote VMCB12: %u built, %u VMEXIT_INVALID\n",
                  ok, invalid);
    assert_true(ok > 0 && invalid > 0); /* both outcomes were reached */
}

/* int_ctl bits L1 is not offered or that are reserved (10, 13-15, 21-23,
 * 27-29, V_NMI and V_NMI_MASK without vNMI) do not fail VMRUN but never
 * reach the CPU in VMCB02 (KVM's CVE-2021-3653 was an int_ctl bit passed
 * through); VMCB02's virt_ext stays L0's (zero) whatever VMCB12 asks. The
 * L1 scenario sec_int_ctl_reserved_bits_ignored cannot see VMCB02. */
static void test_int_ctl_reserved_bits_not_passed(void **state)
{
    (void)state;
    const uint32_t reserved = 0x38E03C00u | VMCB_INT_CTL_V_NMI | VMCB_INT_CTL_V_NMI_MASK;
    vmcb12->control.int_ctl |= reserved | VMCB_INT_CTL_V_INTR_MASKING | 5; /* V_TPR 5 */
    vmrun();
    assert_true(vcpu.nested.in_l2);
    const struct vmcb_control *c02 = &vcpu.nested.vmcb02.va->control;
    assert_int_equal(c02->int_ctl & reserved, 0);
    assert_int_equal(c02->int_ctl & VMCB_INT_CTL_V_TPR_MASK, 5);
    assert_true(c02->int_ctl & VMCB_INT_CTL_V_INTR_MASKING);
    assert_int_equal(c02->virt_ext, 0);
    back_to_l1();
    /* virt_ext bits L1 is not offered: refused, VMCB02 untouched */
    vmcb12->control.virt_ext = VMCB_V_VMSAVE_VMLOAD_ENABLE;
    vmcb12->control.vmcb_clean = 0;
    vmrun();
    assert_false(vcpu.nested.in_l2);
    assert_int_equal((uint32_t)vmcb12->control.exitcode, (uint32_t)VMEXIT_INVALID);
    assert_int_equal(c02->virt_ext, 0);
}

/* A failed VMRUN gives VMEXIT_INVALID and is not cached: the next VMRUN of
 * the same VMCB12 is checked in full whatever its clean bits say. */
static void test_failed_vmrun_is_not_cached(void **state)
{
    (void)state;
    vmcb12->control.guest_asid = 0;
    vmrun();
    assert_false(vcpu.nested.in_l2);
    assert_ptr_equal(vcpu.vmcb.va, vcpu.vmcb01.va);
    assert_int_equal(vmcb12->control.exitcode, VMEXIT_INVALID);
    assert_int_equal(full_checks, 1);

    vmcb12->control.guest_asid = 1;
    vmcb12->save.efer &= ~EFER_SVME; /* broken in a group marked clean */
    vmcb12->control.vmcb_clean = 0xFFFFFFFF;
    vmrun();
    assert_int_equal(full_checks, 2);
    assert_int_equal(reloaded_checks, 0);
    assert_false(vcpu.nested.in_l2);
}

/* Another VMCB12 address: never the cached copy, clean bits or not. */
static void test_other_vmcb12_is_read_in_full(void **state)
{
    (void)state;
    vmrun();
    back_to_l1();
    struct vmcb *other = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *other = good;
    other->control.vmcb_clean = 0xFFFFFFFF;
    struct vmcb *first = vmcb12;
    vmcb12 = other;
    vmrun();
    assert_int_equal(full_checks, 2);
    assert_int_equal(reloaded_checks, 0);
    assert_vmcb02_from_good();
    vmcb12 = first;
    munmap(other, 4096);
}

/* VMCB02's TSC offset follows VMCB12's when L1 says it changed. */
static void test_tsc_offset_is_l1s_plus_vmcb12s(void **state)
{
    (void)state;
    vmrun();
    assert_int_equal(vcpu.nested.vmcb02.va->control.tsc_offset, OFFSET01 + 5000);
    back_to_l1();
    vmcb12->control.tsc_offset = (uint64_t)-7000; /* L2 behind L1 */
    vmcb12->control.vmcb_clean = ~VMCB_CLEAN_INTERCEPTS;
    vmrun();
    assert_int_equal(vcpu.nested.vmcb02.va->control.tsc_offset, (uint64_t)-8000);
}

/* L1's TSC ratio (hv/nested/nested_tsc.h): VMCB02's offset scales L1's, and the
 * CPU's ratio is L1's while L2 runs, 1.0 again once L1 runs. */
static void test_tsc_ratio_is_l1s_while_l2_runs(void **state)
{
    (void)state;
    vcpu.l1.tsc_ratio = 3 * TSC_RATIO_ONE;
    vmcb12->control.tsc_offset = 5000;
    vmrun();
    assert_int_equal(vcpu.nested.vmcb02.va->control.tsc_offset, 3 * OFFSET01 + 5000);
    assert_int_equal(vcpu.tsc_ratio_hw, 3 * TSC_RATIO_ONE);
    vcpu.nested.vmcb02.va->control.exitcode = VMEXIT_CPUID;
    vmcb12->control.intercept_misc1 |= VMCB_INTERCEPT1_CPUID;
    vcpu.nested.vmcb12->control.intercept_misc1 |= VMCB_INTERCEPT1_CPUID;
    nested_l2_exit(&vcpu);
    assert_false(vcpu.nested.in_l2);
    assert_int_equal(vcpu.tsc_ratio_hw, TSC_RATIO_ONE);
}

/* Xen 4.17's HVM guests: CR0 and CR4 reads intercepted, not CR2 and CR3
 * (bits 15:0 of intercept_cr, measured). L2 in long mode runs
 * `insn` and the CPU exits with code 0 (CR0 read), as TCG does. */
#define XEN_INTERCEPT_CR 0xfef3fef3u
static void l2_cr0_read_exit(const uint8_t *insn, unsigned len)
{
    vmcb12->control.intercept_cr = XEN_INTERCEPT_CR;
    vmrun();
    assert_true(vcpu.nested.in_l2);
    memcpy(l2_insn, insn, len);
    l2_insn_len = len;
    struct vmcb *v02 = vcpu.nested.vmcb02.va;
    v02->save.cr2 = 0xffff888003143480;
    v02->save.rip = 0xffffffff830794ff;
    v02->control.exitcode = VMEXIT_CR0_READ;
    vmcb12->control.exitcode = 0x7777; /* not an exit code L2 could give */
    nested_l2_exit(&vcpu);
}

static void test_unintercepted_cr2_read_is_performed_for_l2(void **state)
{
    (void)state;
    l2_cr0_read_exit((const uint8_t[]){0x0f, 0x20, 0xd7}, 3); /* mov %cr2,%rdi */
    assert_true(vcpu.nested.in_l2);                 /* no #VMEXIT for L1 */
    assert_int_equal(vmcb12->control.exitcode, 0x7777);
    assert_int_equal(vcpu.regs.rdi, 0xffff888003143480);
    assert_int_equal(vcpu.nested.vmcb02.va->save.rip, 0xffffffff830794ff + 3);
}

static void test_intercepted_cr4_read_gets_its_own_exit_code(void **state)
{
    (void)state;
    l2_cr0_read_exit((const uint8_t[]){0x0f, 0x20, 0xe5}, 3); /* mov %cr4,%rbp */
    assert_false(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, VMEXIT_CR4_READ);
    assert_int_equal(vmcb12->save.rip, 0xffffffff830794ff); /* L1 emulates it */
}

static void test_cr0_read_stays_a_cr0_read(void **state)
{
    (void)state;
    l2_cr0_read_exit((const uint8_t[]){0x0f, 0x20, 0xc0}, 3); /* mov %cr0,%rax */
    assert_false(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, VMEXIT_CR0_READ);
}

/* L2's RDTSCP on a CPU that codes it as an RDTSC exit (QEMU's TCG,
 * hv/nested/nested_rdtscp.c): Xen 4.17 intercepts both for its PVH domU. L2 in
 * long mode at rip runs `insn`; VMCB02's TSC offset is OFFSET01 + 5000. */
#define L2_TSC_RIP 0xffffffff8107ee00ull
static void l2_rdtsc_exit(uint32_t misc1, uint32_t misc2, const uint8_t *insn, unsigned len)
{
    vmcb12->control.intercept_misc1 |= misc1;
    vmcb12->control.intercept_misc2 |= misc2;
    vmrun();
    assert_true(vcpu.nested.in_l2);
    memcpy(l2_insn, insn, len);
    l2_insn_len = len;
    struct vmcb *v02 = vcpu.nested.vmcb02.va;
    v02->save.rip = L2_TSC_RIP;
    v02->save.rax = 0xAAAAAAAA00000000ull;
    vcpu.regs.rdx = 0xDDDDDDDD00000000ull;
    vcpu.regs.rcx = 0xCCCCCCCCCCCCCCCCull;
    fake_host_tsc = 0x123456789abull;
    fake_tsc_aux = 0x2a;
    v02->control.exitcode = VMEXIT_RDTSC; /* as TCG codes both */
    v02->control.exitinfo1 = v02->control.exitinfo2 = 0;
    vmcb12->control.exitcode = 0x7777; /* not an exit code L2 could give */
    nested_l2_exit(&vcpu);
}
static const uint8_t rdtscp_insn[] = { 0x0f, 0x01, 0xf9 };
static const uint8_t rdtsc_insn[] = { 0x0f, 0x31 };

static void test_l2_rdtscp_gets_l1_its_rdtscp_exit(void **state)
{
    (void)state;
    l2_rdtsc_exit(VMCB_INTERCEPT1_RDTSC, VMCB_INTERCEPT2_RDTSCP, rdtscp_insn, 3);
    assert_false(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, VMEXIT_RDTSCP);
    assert_int_equal(vmcb12->save.rip, L2_TSC_RIP); /* L1 emulates it */
    assert_int_equal(vmcb12->control.nrip, 0);      /* no NRIPS offered */
}

static void test_l2_rdtscp_exit_has_nrip_with_nrips(void **state)
{
    (void)state;
    host_caps_init(&(struct host_caps){ .nrips = true });
    l2_rdtsc_exit(VMCB_INTERCEPT1_RDTSC, VMCB_INTERCEPT2_RDTSCP,
                  (const uint8_t[]){ 0x66, 0x0f, 0x01, 0xf9 }, 4); /* a redundant prefix */
    host_caps_init(&(struct host_caps){ 0 });
    assert_false(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, VMEXIT_RDTSCP);
    assert_int_equal(vmcb12->control.nrip, L2_TSC_RIP + 4);
}

static void test_l2_rdtscp_unintercepted_is_performed_for_l2(void **state)
{
    (void)state;
    /* L1 intercepts RDTSC only: a CPU runs L2's RDTSCP without an exit. */
    l2_rdtsc_exit(VMCB_INTERCEPT1_RDTSC, 0, rdtscp_insn, 3);
    const struct vmcb *v02 = vcpu.nested.vmcb02.va;
    uint64_t l2_tsc = 0x123456789abull + OFFSET01 + 5000;
    assert_true(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, 0x7777);
    assert_int_equal(v02->save.rax, (uint32_t)l2_tsc); /* upper halves cleared */
    assert_int_equal(vcpu.regs.rdx, l2_tsc >> 32);
    assert_int_equal(vcpu.regs.rcx, 0x2a);
    assert_int_equal(v02->save.rip, L2_TSC_RIP + 3);
}

static void test_l2_rdtscp_reads_l1s_tsc_ratio(void **state)
{
    (void)state;
    vcpu.l1.tsc_ratio = TSC_RATIO_ONE + TSC_RATIO_ONE / 2; /* 1.5 */
    l2_rdtsc_exit(VMCB_INTERCEPT1_RDTSC, 0, rdtscp_insn, 3);
    uint64_t l2_tsc = 0x123456789abull * 3 / 2 + (uint64_t)(-1500) + 5000;
    assert_true(vcpu.nested.in_l2);
    assert_int_equal(vcpu.nested.vmcb02.va->save.rax, (uint32_t)l2_tsc);
    assert_int_equal(vcpu.regs.rdx, l2_tsc >> 32);
}

static void test_l2_rdtsc_with_only_rdtscp_intercepted(void **state)
{
    (void)state;
    /* The CPU checks RDTSCP against the RDTSC intercept bit: L0 sets it so
     * that L2's RDTSCP exits at all; L2's RDTSC then exits too, and L0
     * performs it (L1 did not ask for it). */
    l2_rdtsc_exit(0, VMCB_INTERCEPT2_RDTSCP, rdtsc_insn, 2);
    const struct vmcb *v02 = vcpu.nested.vmcb02.va;
    uint64_t l2_tsc = 0x123456789abull + OFFSET01 + 5000;
    assert_true(v02->control.intercept_misc1 & VMCB_INTERCEPT1_RDTSC);
    assert_true(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, 0x7777);
    assert_int_equal(v02->save.rax, (uint32_t)l2_tsc);
    assert_int_equal(vcpu.regs.rdx, l2_tsc >> 32);
    assert_int_equal(vcpu.regs.rcx, 0xCCCCCCCCCCCCCCCCull); /* RDTSC leaves RCX */
    assert_int_equal(v02->save.rip, L2_TSC_RIP + 2);
    /* ...and L2's RDTSCP reaches L1 as RDTSCP. */
    back_to_l1();
    l2_rdtsc_exit(0, VMCB_INTERCEPT2_RDTSCP, rdtscp_insn, 3);
    assert_false(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, VMEXIT_RDTSCP);
}

static void test_no_rdtsc_intercept_added_where_codes_are_trusted(void **state)
{
    (void)state;
    host_caps_init(&(struct host_caps){ .decode_assists = true });
    vmcb12->control.intercept_misc2 |= VMCB_INTERCEPT2_RDTSCP;
    vmrun();
    host_caps_init(&(struct host_caps){ 0 });
    assert_false(vcpu.nested.vmcb02.va->control.intercept_misc1 & VMCB_INTERCEPT1_RDTSC);
}

static void test_l2_rdtsc_stays_an_rdtsc_exit(void **state)
{
    (void)state;
    l2_rdtsc_exit(VMCB_INTERCEPT1_RDTSC, VMCB_INTERCEPT2_RDTSCP, rdtsc_insn, 2);
    assert_false(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, VMEXIT_RDTSC);
    assert_int_equal(vmcb12->save.rip, L2_TSC_RIP);
}

/* Decode assists passed on (L1 is offered them where the CPU has them,
 * hv/exit/exit_cpuid.c): a #PF of L2 that L1 intercepts carries the bytes the
 * CPU fetched; without the feature the field is reserved and left alone. */
static const uint8_t pf_insn[] = { 0x48, 0x8b, 0x07 }; /* mov (%rdi),%rax */

static void l2_pf_exit(bool decode_assists)
{
    host_caps_init(&(struct host_caps){ .decode_assists = decode_assists });
    vmcb12->control.intercept_exceptions = 1u << VEC_PF;
    vmcb12->control.guest_insn_len = 9; /* stale, from L1's last look */
    vmrun();
    struct vmcb_control *c02 = &vcpu.nested.vmcb02.va->control;
    c02->exitcode = VMEXIT_EXCP(VEC_PF);
    c02->exitinfo1 = 2;
    c02->exitinfo2 = 0x1000;
    c02->guest_insn_len = sizeof pf_insn;
    memcpy(c02->guest_insn_bytes, pf_insn, sizeof pf_insn);
    nested_l2_exit(&vcpu);
    host_caps_init(&(struct host_caps){ 0 });
    assert_false(vcpu.nested.in_l2);
    assert_int_equal(vmcb12->control.exitcode, VMEXIT_EXCP(VEC_PF));
}

static void test_decode_assist_bytes_reach_l1(void **state)
{
    (void)state;
    l2_pf_exit(true);
    assert_int_equal(vmcb12->control.guest_insn_len, sizeof pf_insn);
    assert_memory_equal(vmcb12->control.guest_insn_bytes, pf_insn, sizeof pf_insn);
}

static void test_no_decode_assist_bytes_without_the_feature(void **state)
{
    (void)state;
    l2_pf_exit(false);
    assert_int_equal(vmcb12->control.guest_insn_len, 9); /* not L0's to write */
}

/* L1 injects an instruction's event (KVM emulating INT3 without NRIPS:
 * RIP already past it, #BP in EVENTINJ). L2's first exit, which L0
 * handles, cuts its delivery off: L1's, injected again (hv/nested/cut_off_event.h),
 * and still L1's at the exit after that; not at a later one (then an INT3
 * cut off is L2's own, its RIP at the instruction), nor with another RIP. */
static void l2_exit_cutting_off(uint64_t intinfo, uint64_t rip)
{
    struct vmcb *v02 = vcpu.nested.vmcb02.va;
    vcpu.stats.total++; /* the run loop counts each exit (stats_exit_begin) */
    v02->control.exitintinfo = intinfo;
    v02->save.rip = rip;
}

static void test_l1s_injected_int3_is_told_from_l2s(void **state)
{
    (void)state;
    const uint64_t bp = VMCB_EVENT_V | VMCB_EVENT_TYPE_EXCEPTION | 3;
    const uint64_t tcg_int3 = VMCB_EVENT_V | VMCB_EVENT_TYPE_SOFT_INT | 3;
    vcpu.stats.total = 41; /* L1's VMRUN is exit 41 */
    vmcb12->control.eventinj = bp;
    vmcb12->save.rip = good.save.rip = 0x401001;
    vmrun();
    const struct vmcb *v02 = vcpu.nested.vmcb02.va;
    assert_true(vcpu.nested.in_l2);
    assert_int_equal(v02->control.eventinj, bp);
    /* Exit 42 cuts it off (as injected, or as TCG codes INT3). */
    l2_exit_cutting_off(bp, 0x401001);
    assert_true(nested_cut_off_event_is_l1s(&vcpu, v02, bp));
    assert_true(nested_cut_off_event_is_l1s(&vcpu, v02, tcg_int3));
    assert_false(nested_cut_off_event_is_l1s(&vcpu, vcpu.vmcb01.va, bp)); /* L1's own exit */
    nested_l1_insn_event_reinjected(&vcpu);
    /* Exit 43 cuts it off again: still L1's. */
    l2_exit_cutting_off(bp, 0x401001);
    assert_true(nested_cut_off_event_is_l1s(&vcpu, v02, bp));
    /* Exit 44 without it being injected again: delivered by then. */
    l2_exit_cutting_off(bp, 0x401001);
    assert_false(nested_cut_off_event_is_l1s(&vcpu, v02, bp));

    /* A VMRUN that injects it, and L2's first exit at another RIP (its own
     * INT3 after the injected #BP's handler ran): L2's. */
    back_to_l1();
    vmrun();
    l2_exit_cutting_off(tcg_int3, 0x402000);
    assert_false(nested_cut_off_event_is_l1s(&vcpu, v02, tcg_int3));
    /* Nothing injected at the last VMRUN: never L1's. */
    back_to_l1();
    vmcb12->control.eventinj = 0;
    vmrun();
    l2_exit_cutting_off(tcg_int3, 0x401001);
    assert_false(nested_cut_off_event_is_l1s(&vcpu, v02, tcg_int3));
    /* An interrupt injected: not an instruction's event. */
    back_to_l1();
    vmcb12->control.eventinj = VMCB_EVENT_V | VMCB_EVENT_TYPE_INTR | 3;
    vmrun();
    l2_exit_cutting_off(tcg_int3, 0x401001);
    assert_false(nested_cut_off_event_is_l1s(&vcpu, v02, tcg_int3));
}

/* With NRIPS, L1 (KVM) leaves RIP at the INT3/INTn it injects for and
 * gives the next RIP in VMCB12's nRIP, which the CPU pushes (15.20):
 * VMCB02 runs with it, and gets it back when L0 injects the event again
 * (the exit overwrote nRIP). */
static void test_nrip_of_injected_soft_int_passed_on(void **state)
{
    (void)state;
    struct host_caps caps = *host_caps();
    struct host_caps with = caps;
    with.nrips = true;
    host_caps_init(&with);
    const uint64_t int80 = VMCB_EVENT_V | VMCB_EVENT_TYPE_SOFT_INT | 0x80;
    vmcb12->control.eventinj = int80;
    vmcb12->control.nrip = 0x401002;
    vmcb12->save.rip = good.save.rip = 0x401000;
    vmrun();
    struct vmcb *v02 = vcpu.nested.vmcb02.va;
    assert_int_equal(v02->control.nrip, 0x401002);
    l2_exit_cutting_off(int80, 0x401000);
    v02->control.nrip = 0;
    assert_true(nested_cut_off_event_is_l1s(&vcpu, v02, int80));
    nested_l1_insn_event_reinjected(&vcpu);
    assert_int_equal(v02->control.nrip, 0x401002);
    host_caps_init(&caps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checks_see_the_copy_and_vmcb02_is_built, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_assist_bytes_reach_l1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsc_ratio_is_l1s_while_l2_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_decode_assist_bytes_without_the_feature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmcb12_not_touched_after_the_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_after_the_check_do_not_reach_vmcb02, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmcb12_changed_by_another_cpu_during_vmrun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_fast_path_reads_once_too, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_fast_path_still_checks_eventinj, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_vmrun_is_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_vmcb12_is_read_in_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsc_offset_is_l1s_plus_vmcb12s, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_ctl_reserved_bits_not_passed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unintercepted_cr2_read_is_performed_for_l2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intercepted_cr4_read_gets_its_own_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cr0_read_stays_a_cr0_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l2_rdtscp_gets_l1_its_rdtscp_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l2_rdtscp_exit_has_nrip_with_nrips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l2_rdtscp_unintercepted_is_performed_for_l2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l2_rdtscp_reads_l1s_tsc_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l2_rdtsc_with_only_rdtscp_intercepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_rdtsc_intercept_added_where_codes_are_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l2_rdtsc_stays_an_rdtsc_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_l1s_injected_int3_is_told_from_l2s, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nrip_of_injected_soft_int_passed_on, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
