/* INIT/SIPI state machine of a vCPU (hv/smp/ap_state.c): every transition the
 * header's table lists, the bad inputs (SIPI without INIT, SIPI to a
 * running CPU, a second SIPI), and two CPUs racing on one target. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/smp/ap_state.h"

static void test_init_then_sipi_starts_at_vector(void **state)
{
    (void)state;
    struct ap_state s = { 0 };
    uint8_t vec = 0;
    assert_true(ap_state_init(&s));          /* running: the target must be kicked */
    assert_true(ap_state_reset_due(&s));
    ap_state_reset_done(&s);
    assert_int_equal(ap_state_mode(&s), AP_WAIT_SIPI);
    assert_false(ap_state_take_sipi(&s, &vec));
    assert_int_equal(ap_state_sipi(&s, 0x9A), AP_SIPI_ACCEPTED);
    assert_true(ap_state_take_sipi(&s, &vec));
    assert_int_equal(vec, 0x9A);
    assert_int_equal(ap_state_mode(&s), AP_RUNNING);
}

/* INIT-SIPI-SIPI with the SIPIs sent before the target even reset. */
static void test_sipi_before_the_target_reset(void **state)
{
    (void)state;
    struct ap_state s = { 0 };
    uint8_t vec = 0;
    assert_true(ap_state_init(&s));
    assert_int_equal(ap_state_sipi(&s, 0x10), AP_SIPI_ACCEPTED);
    assert_int_equal(ap_state_sipi(&s, 0x20), AP_SIPI_IGNORED_PENDING); /* the second SIPI */
    assert_true(ap_state_reset_due(&s)); /* it still resets first */
    ap_state_reset_done(&s);              /* keeps the SIPI */
    assert_true(ap_state_take_sipi(&s, &vec));
    assert_int_equal(vec, 0x10);
    assert_int_equal(ap_state_sipi(&s, 0x30), AP_SIPI_IGNORED_RUNNING); /* a late one */
}

static void test_sipi_without_init_is_ignored(void **state)
{
    (void)state;
    struct ap_state s = { 0 };
    assert_int_equal(ap_state_sipi(&s, 0x10), AP_SIPI_IGNORED_RUNNING);
    assert_false(ap_state_reset_due(&s));
    assert_int_equal(ap_state_mode(&s), AP_RUNNING);
}

static void test_repeated_init_kicks_once(void **state)
{
    (void)state;
    struct ap_state s = { 0 };
    assert_true(ap_state_init(&s));
    assert_false(ap_state_init(&s)); /* already on its way to wait-for-SIPI */
    ap_state_reset_done(&s);
    assert_false(ap_state_init(&s));
    assert_int_equal(ap_state_mode(&s), AP_WAIT_SIPI);
}

/* A new INIT after a SIPI that the target has not taken yet wins. */
static void test_init_cancels_a_pending_sipi(void **state)
{
    (void)state;
    struct ap_state s = { 0 };
    uint8_t vec = 0;
    ap_state_init(&s);
    ap_state_reset_done(&s);
    ap_state_sipi(&s, 0x10);
    assert_false(ap_state_init(&s)); /* target is in L0 already: no kick */
    assert_false(ap_state_take_sipi(&s, &vec));
    ap_state_reset_done(&s);
    assert_int_equal(ap_state_mode(&s), AP_WAIT_SIPI);
    ap_state_sipi(&s, 0x11);
    assert_true(ap_state_take_sipi(&s, &vec));
    assert_int_equal(vec, 0x11);
}

/* Two senders and the target on three threads: whatever the order, the
 * target starts exactly once per INIT-SIPI pair, at a vector one of the
 * senders sent, and never loses a SIPI that came after its reset. */
static struct ap_state shared;
static void *sender(void *arg)
{
    uint8_t vector = (uint8_t)(uintptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        ap_state_init(&shared);
        ap_state_sipi(&shared, vector);
    }
    return NULL;
}

static void test_racing_senders(void **state)
{
    (void)state;
    pthread_t a, b;
    shared.word = 0;
    pthread_create(&a, NULL, sender, (void *)(uintptr_t)0x41);
    pthread_create(&b, NULL, sender, (void *)(uintptr_t)0x42);
    unsigned starts = 0;
    for (int spins = 0; spins < 2000000; spins++) {
        uint8_t vec;
        if (ap_state_reset_due(&shared))
            ap_state_reset_done(&shared);
        if (ap_state_take_sipi(&shared, &vec)) {
            assert_true(vec == 0x41 || vec == 0x42);
            starts++;
        }
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    /* What is left is consistent: a pending SIPI is taken once. */
    uint8_t vec;
    if (ap_state_reset_due(&shared))
        ap_state_reset_done(&shared);
    if (ap_state_take_sipi(&shared, &vec))
        starts++;
    assert_false(ap_state_take_sipi(&shared, &vec));
    assert_true(starts > 0);
    assert_true(ap_state_mode(&shared) == AP_RUNNING || ap_state_mode(&shared) == AP_WAIT_SIPI);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_then_sipi_starts_at_vector),
        cmocka_unit_test(test_sipi_before_the_target_reset),
        cmocka_unit_test(test_sipi_without_init_is_ignored),
        cmocka_unit_test(test_repeated_init_kicks_once),
        cmocka_unit_test(test_init_cancels_a_pending_sipi),
        cmocka_unit_test(test_racing_senders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
