/* L1's VMLOAD/VMSAVE virtualization (hv/nested/l1_vmload.c): VMCB01 lets the CPU
 * run them only where it virtualizes them (APM 15.33.1) and L1 has EFER.SVME
 * set; otherwise both stay intercepted and the bit is off. Nothing else of
 * VMCB01's intercepts or virtualization extensions changes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "hv/exit/l1_intercepts.h"
#include "hv/nested/l1_vmload.h"
#include "hv/core/host_caps.h"
#include "hv/core/log.h"

void log_printf(enum log_level level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

static const uint32_t insns = VMCB_INTERCEPT2_VMLOAD | VMCB_INTERCEPT2_VMSAVE;

static struct vmcb_control launched(void)
{
    struct vmcb_control c;
    memset(&c, 0, sizeof c);
    c.intercept_misc2 = L1_INTERCEPT_MISC2;
    c.virt_ext = VMCB_LBR_VIRT_ENABLE; /* stands for any other bit */
    return c;
}

static void test_cpu_without_it_keeps_the_intercepts(void **state)
{
    (void)state;
    struct vmcb_control c = launched();
    l1_vmload_apply(&c, false, true);
    assert_int_equal(c.intercept_misc2, L1_INTERCEPT_MISC2);
    assert_int_equal(c.virt_ext, VMCB_LBR_VIRT_ENABLE);
}

static void test_cpu_with_it_runs_them_for_l1(void **state)
{
    (void)state;
    struct vmcb_control c = launched();
    l1_vmload_apply(&c, true, true);
    assert_int_equal(c.intercept_misc2 & insns, 0);
    assert_int_equal(c.intercept_misc2, L1_INTERCEPT_MISC2 & ~insns); /* VMRUN, CLGI, ... stay */
    assert_int_equal(c.virt_ext, VMCB_LBR_VIRT_ENABLE | VMCB_V_VMSAVE_VMLOAD_ENABLE);
}

/* VMCB01's EFER keeps SVME for VMRUN's sake: while L1's own EFER.SVME is
 * clear, L0 must see the instructions to raise #UD. */
static void test_l1_without_svme_gets_them_intercepted(void **state)
{
    (void)state;
    struct vmcb_control c = launched();
    l1_vmload_apply(&c, true, true);
    l1_vmload_apply(&c, true, false); /* L1 clears EFER.SVME, or INIT */
    assert_int_equal(c.intercept_misc2, L1_INTERCEPT_MISC2);
    assert_int_equal(c.virt_ext, VMCB_LBR_VIRT_ENABLE);
    l1_vmload_apply(&c, true, true); /* and sets it again */
    assert_int_equal(c.intercept_misc2 & insns, 0);
    assert_true(c.virt_ext & VMCB_V_VMSAVE_VMLOAD_ENABLE);
}

/* The vCPU wrapper reads the host's capability and L1's EFER.SVME. */
static void test_update_follows_host_caps_and_l1(void **state)
{
    (void)state;
    static struct vmcb vmcb01;
    static struct vcpu v;
    v.vmcb01.va = &vmcb01;
    vmcb01.control = launched();
    host_caps_init(&(struct host_caps){ .vmload_virt = true });
    v.l1.efer_svme = true;
    l1_vmload_update(&v);
    assert_int_equal(vmcb01.control.intercept_misc2 & insns, 0);
    host_caps_init(&(struct host_caps){ .vmload_virt = false });
    l1_vmload_update(&v);
    assert_int_equal(vmcb01.control.intercept_misc2 & insns, insns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_without_it_keeps_the_intercepts),
        cmocka_unit_test(test_cpu_with_it_runs_them_for_l1),
        cmocka_unit_test(test_l1_without_svme_gets_them_intercepted),
        cmocka_unit_test(test_update_follows_host_caps_and_l1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
