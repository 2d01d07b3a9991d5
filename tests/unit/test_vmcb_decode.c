/* VMCB fields in words (the debug shell's `vcpu N`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "arch/x86/svm.h"
#include "hv/console/vmcb_decode.h"

static char buf[1024];

static void test_events(void **state)
{
    (void)state;
    vmcb_decode_event(0, buf, sizeof buf);
    assert_string_equal(buf, "none");
    vmcb_decode_event(vmcb_event_make(14, VMCB_EVENT_TYPE_EXCEPTION, true, 2), buf, sizeof buf);
    assert_string_equal(buf, "exception 14 (#PF) error code 0x2");
    vmcb_decode_event(vmcb_event_make(2, VMCB_EVENT_TYPE_NMI, false, 0), buf, sizeof buf);
    assert_string_equal(buf, "NMI");
    vmcb_decode_event(vmcb_event_make(0x20, VMCB_EVENT_TYPE_INTR, false, 0), buf, sizeof buf);
    assert_string_equal(buf, "INTR vector 0x20");
    vmcb_decode_event(vmcb_event_make(0x80, VMCB_EVENT_TYPE_SOFT_INT, false, 0), buf, sizeof buf);
    assert_string_equal(buf, "software interrupt 0x80");
    vmcb_decode_event(VMCB_EVENT_V | (UINT64_C(5) << 8) | 3, buf, sizeof buf);
    assert_string_equal(buf, "reserved type 5 vector 0x3");
    /* cut to the buffer, still terminated */
    vmcb_decode_event(vmcb_event_make(13, VMCB_EVENT_TYPE_EXCEPTION, true, 0), buf, 8);
    assert_string_equal(buf, "excepti");
}

static void test_int_ctl(void **state)
{
    (void)state;
    vmcb_decode_int_ctl(VMCB_INT_CTL_V_IRQ | VMCB_INT_CTL_V_INTR_MASKING | (15u << 16) | 3, 0x31,
                        buf, sizeof buf);
    assert_string_equal(buf, "V_TPR=0x3 V_INTR_PRIO=15 V_INTR_VECTOR=0x31 V_IRQ V_INTR_MASKING");
    vmcb_decode_int_ctl(0, 0, buf, sizeof buf);
    assert_string_equal(buf, "V_TPR=0 V_INTR_PRIO=0 V_INTR_VECTOR=0");
}

static void test_intercepts_named_by_exit(void **state)
{
    struct vmcb_control c;
    (void)state;
    memset(&c, 0, sizeof c);
    assert_int_equal(vmcb_intercept_names(&c, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    c.intercept_cr = 1u << 16;                  /* CR0 write */
    c.intercept_exceptions = 1u << 1;           /* #DB */
    c.intercept_misc1 = 1u << (VMEXIT_CPUID - 0x60) | 1u << (VMEXIT_SHUTDOWN - 0x60);
    c.intercept_misc2 = 1u << (VMEXIT_VMRUN - 0x80);
    vmcb_intercept_names(&c, buf, sizeof buf);
    assert_string_equal(buf, "CR0_WRITE EXCP_DB CPUID SHUTDOWN VMRUN");
}

static void test_fields_and_offsets(void **state)
{
    struct vmcb v;
    size_t n, i;
    const struct vmcb_field *f;
    (void)state;
    memset(&v, 0, sizeof v);
    v.control.exitcode = 0x72;
    v.control.guest_asid = 7;
    v.control.tlb_control = 3;
    v.save.rip = 0x1234;
    v.save.cpl = 3;
    f = vmcb_control_fields(&n);
    for (i = 0; i < n && strcmp(f[i].name, "exitcode"); i++)
        ;
    assert_true(i < n);
    assert_int_equal(f[i].offset, 0x070); /* APM Table B-1 */
    assert_int_equal(vmcb_field_value(&v.control, &f[i]), 0x72);
    for (i = 0; i < n && strcmp(f[i].name, "tlb_control"); i++)
        ;
    assert_int_equal(f[i].offset, 0x05C);
    assert_int_equal(vmcb_field_value(&v.control, &f[i]), 3);
    f = vmcb_save_fields(&n);
    for (i = 0; i < n && strcmp(f[i].name, "rip"); i++)
        ;
    assert_int_equal(f[i].offset, 0x178); /* APM Table B-2 */
    assert_int_equal(vmcb_field_value(&v.save, &f[i]), 0x1234);
    for (i = 0; i < n && strcmp(f[i].name, "cpl"); i++)
        ;
    assert_int_equal(f[i].offset, 0x0CB);
    assert_int_equal(vmcb_field_value(&v.save, &f[i]), 3);
    /* offsets ascend (the listing reads like the APM's table) */
    for (i = 1; i < n; i++)
        assert_true(f[i].offset > f[i - 1].offset);
    f = vmcb_control_fields(&n);
    for (i = 1; i < n; i++)
        assert_true(f[i].offset > f[i - 1].offset);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_int_ctl),
        cmocka_unit_test(test_intercepts_named_by_exit),
        cmocka_unit_test(test_fields_and_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
