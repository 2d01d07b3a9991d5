/*
 * Tests for hv/console/stats.c: the per-exit-code counts the debug shell's `stats`,
 * HV_CALL_STATS_TABLE and the power-off table show, with an L2 exit split
 * into "reflected to L1" and "handled by L0 alone" by the marks hv/nested/nested.c
 * leaves on it; and the trace's names for a nested transition (the
 * VMRUN/#VMEXIT pair).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/svm.h"
#include "hv/core/log.h"
#include "hv/core/percpu.h"
#include "hv/console/stats.h"
#include "hv/core/vcpu.h"

/* What stats.c links against in the core. */
static struct vcpu vcpus[2];
unsigned vcpu_count(void) { return 2; }
struct vcpu *vcpu_by_index(unsigned i) { return i < 2 ? &vcpus[i] : NULL; }
void log_printf(enum log_level level, const char *fmt, ...) { (void)level; (void)fmt; }
void apic_print_stats(void) {}

static int setup(void **state)
{
    (void)state;
    memset(vcpus, 0, sizeof vcpus);
    stats_init(&vcpus[0].stats);
    stats_init(&vcpus[1].stats);
    return 0;
}

/* One exit through the run loop: begin, what the nested code marks, done.
 * how: 0 L1's own, 1 L2's handled by L0 alone (l2_exit_other), 2 L2's
 * reflected on the usual path, 3 L2's reflected after l2_exit_other. */
static void one_exit(struct vcpu_stats *s, uint64_t code, int how)
{
    struct vmcb_control c = { .exitcode = code, .exitinfo1 = 1, .exitinfo2 = 2 };
    stats_exit_begin(s, &c, 0x1000);
    if (how == 1 || how == 3)
        stats_mark_l2(s);
    if (how >= 2)
        stats_mark_reflected(s);
    if (how == 1 || how == 3)
        stats_l2_settled(s); /* as l2_exit_other() ends */
    stats_exit_done(s);
}

static void test_l1_exits_are_not_l2(void **state)
{
    (void)state;
    struct vcpu_stats *s = &vcpus[0].stats;
    one_exit(s, VMEXIT_CPUID, 0);
    one_exit(s, VMEXIT_CPUID, 0);
    struct stats_row r;
    assert_true(stats_sum(VMEXIT_CPUID, &r));
    assert_int_equal(r.count, 2);
    assert_int_equal(r.l2_reflected, 0);
    assert_int_equal(r.l2_l0, 0);
}

/* l2_exit_other() counts an exit as L0's, then reflect() moves it: it
 * counts once, as reflected. */
static void test_l2_exits_split_by_marks(void **state)
{
    (void)state;
    one_exit(&vcpus[0].stats, VMEXIT_IOIO, 2);
    one_exit(&vcpus[0].stats, VMEXIT_IOIO, 3);
    one_exit(&vcpus[1].stats, VMEXIT_IOIO, 1);
    one_exit(&vcpus[1].stats, VMEXIT_IOIO, 0);
    struct stats_row r;
    assert_true(stats_sum(VMEXIT_IOIO, &r));
    assert_int_equal(r.count, 4);
    assert_int_equal(r.l2_reflected, 2);
    assert_int_equal(r.l2_l0, 1);
    assert_int_equal(vcpus[0].stats.slots[VMEXIT_IOIO].l2_reflected, 2);
    assert_int_equal(vcpus[1].stats.slots[VMEXIT_IOIO].l2_l0, 1);
    assert_int_equal(vcpus[0].stats.slots[VMEXIT_IOIO].l2_l0, 0);
    assert_int_equal(stats_l2_reflected(&vcpus[0].stats), 2);
    assert_int_equal(stats_l2_reflected(&vcpus[1].stats), 0);
}

/* TCG's VMEXIT_INVALID (0x00000000ffffffff) and the architectural -1 share
 * a row; codes past the table have none. */
static void test_invalid_and_other_rows(void **state)
{
    (void)state;
    one_exit(&vcpus[0].stats, 0xFFFFFFFFull, 2);
    one_exit(&vcpus[0].stats, VMEXIT_INVALID, 0);
    one_exit(&vcpus[0].stats, 0x12345, 0);
    struct stats_row r;
    assert_true(stats_sum(VMEXIT_INVALID, &r));
    assert_int_equal(r.count, 2);
    assert_true(stats_sum(0xFFFFFFFFull, &r));
    assert_int_equal(r.l2_reflected, 1);
    assert_false(stats_sum(0x12345, &r));
    assert_int_equal(stats_total_exits(), 3);
}

/* The trace ring keeps the last STATS_LAST_EXITS exits with their marks. */
static void test_ring_keeps_last_exits(void **state)
{
    (void)state;
    struct vcpu_stats *s = &vcpus[1].stats;
    for (unsigned i = 0; i < STATS_LAST_EXITS + 3; i++)
        one_exit(s, i & 1 ? VMEXIT_VMRUN : VMEXIT_CPUID, i & 1 ? 0 : 1);
    assert_int_equal(s->total, STATS_LAST_EXITS + 3);
    const struct exit_record *newest = &s->last[(s->total - 1) % STATS_LAST_EXITS];
    assert_int_equal(newest->exitcode, VMEXIT_CPUID);
    assert_int_equal(newest->marks, STATS_MARK_L2);
    assert_int_equal(newest->rip, 0x1000);
    assert_int_equal(newest->exitinfo1, 1);
    assert_int_equal(newest->exitinfo2, 2);
}

/* An L1 VMRUN followed by an exit of L2 is the nested entry; an L2 exit
 * reflected is the #VMEXIT to L1 (KVM's kvm_nested_vmrun/_vmexit pair). */
static void test_trace_names_the_pair(void **state)
{
    (void)state;
    assert_string_equal(stats_mark_text(0, VMEXIT_VMRUN, STATS_MARK_L2), "L1 -> L2 VMRUN");
    assert_string_equal(stats_mark_text(0, VMEXIT_VMRUN, 0), "L1");
    assert_string_equal(stats_mark_text(0, VMEXIT_CPUID, STATS_MARK_L2), "L1");
    assert_string_equal(stats_mark_text(STATS_MARK_L2 | STATS_MARK_REFLECTED, VMEXIT_CPUID, 0),
                        "L2 -> L1 #VMEXIT");
    assert_string_equal(stats_mark_text(STATS_MARK_L2, VMEXIT_NPF, 0), "L2 (L0 only)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_l1_exits_are_not_l2, setup),
        cmocka_unit_test_setup(test_l2_exits_split_by_marks, setup),
        cmocka_unit_test_setup(test_invalid_and_other_rows, setup),
        cmocka_unit_test_setup(test_ring_keeps_last_exits, setup),
        cmocka_unit_test_setup(test_trace_names_the_pair, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
