/* The escape detector and the L1/shell routing of typed bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "hv/console/console_mux.h"

static struct console_mux m;

static enum console_event type(const char *s, size_t n)
{
    enum console_event last = CONSOLE_EV_NONE;
    for (size_t i = 0; i < n; i++) {
        enum console_event e = console_mux_input(&m, (uint8_t)s[i]);
        if (e != CONSOLE_EV_NONE)
            last = e;
    }
    return last;
}

static size_t drain(struct byte_fifo *f, char *out)
{
    size_t n = 0;
    int c;
    while ((c = fifo_pop(f)) >= 0)
        out[n++] = (char)c;
    return n;
}

static void test_plain_bytes_go_to_l1(void **state)
{
    char out[64];
    (void)state;
    console_mux_init(&m, 'a');
    assert_int_equal(type("ls\r", 3), CONSOLE_EV_NONE);
    assert_int_equal(drain(&m.to_l1, out), 3);
    assert_memory_equal(out, "ls\r", 3);
    assert_true(fifo_empty(&m.to_shell));
}

static void test_one_or_two_escapes_reach_l1_in_order(void **state)
{
    char out[64];
    (void)state;
    console_mux_init(&m, 'a');
    /* A lone Ctrl-A is held until the next byte shows it was no escape. */
    type("\x01", 1);
    assert_true(fifo_empty(&m.to_l1));
    type("x\x01\x01y", 4);
    assert_int_equal(drain(&m.to_l1, out), 5);
    assert_memory_equal(out, "\x01x\x01\x01y", 5);
    assert_int_equal(m.owner, CONSOLE_L1);
    assert_int_equal(m.switches, 0);
}

static void test_three_escapes_switch_and_are_swallowed(void **state)
{
    char out[64];
    (void)state;
    console_mux_init(&m, 'a');
    assert_int_equal(type("\x01\x01\x01", 3), CONSOLE_EV_TO_SHELL);
    assert_int_equal(m.owner, CONSOLE_SHELL);
    assert_true(fifo_empty(&m.to_l1));
    type("help\r", 5);
    assert_true(fifo_empty(&m.to_l1));
    assert_int_equal(drain(&m.to_shell, out), 5);
    assert_int_equal(type("\x01\x01\x01", 3), CONSOLE_EV_TO_L1);
    assert_int_equal(m.owner, CONSOLE_L1);
    type("z", 1);
    assert_int_equal(drain(&m.to_l1, out), 1);
    assert_int_equal(out[0], 'z');
    assert_int_equal(m.switches, 2);
}

static void test_interrupted_run_does_not_count(void **state)
{
    char out[64];
    (void)state;
    console_mux_init(&m, 'a');
    /* Two, a byte, two: never three in a row. */
    assert_int_equal(type("\x01\x01q\x01\x01", 5), CONSOLE_EV_NONE);
    assert_int_equal(m.owner, CONSOLE_L1);
    /* The third after the last two does switch (the two were held). */
    assert_int_equal(type("\x01", 1), CONSOLE_EV_TO_SHELL);
    assert_int_equal(drain(&m.to_l1, out), 3);
    assert_memory_equal(out, "\x01\x01q", 3);
}

static void test_other_letter(void **state)
{
    (void)state;
    console_mux_init(&m, 'b');
    assert_int_equal(type("\x01\x01\x01", 3), CONSOLE_EV_NONE);
    assert_int_equal(m.owner, CONSOLE_L1);
    assert_int_equal(type("\x02\x02\x02", 3), CONSOLE_EV_TO_SHELL);
}

static void test_continue_and_held_bytes(void **state)
{
    (void)state;
    console_mux_init(&m, 'a');
    type("\x01\x01\x01\x01", 4); /* in the shell, one more held */
    console_mux_set_owner(&m, CONSOLE_L1);
    assert_int_equal(m.held, 0);
    /* Two more are not the escape (the held one was forgotten). */
    assert_int_equal(type("\x01\x01", 2), CONSOLE_EV_NONE);
    assert_int_equal(m.owner, CONSOLE_L1);
}

static void test_l1_output_kept_while_shell(void **state)
{
    (void)state;
    console_mux_init(&m, 'a');
    assert_true(console_mux_l1_output(&m, 'a'));
    type("\x01\x01\x01", 3);
    for (int i = 0; i < CONSOLE_MUX_OUT_MAX + 10; i++)
        assert_false(console_mux_l1_output(&m, 'b'));
    assert_int_equal(m.l1_out_len, CONSOLE_MUX_OUT_MAX);
    assert_int_equal(m.l1_out_dropped, 10);
}

static void test_fifo_full_counts_lost(void **state)
{
    (void)state;
    console_mux_init(&m, 'a');
    for (int i = 0; i < CONSOLE_MUX_FIFO + 5; i++)
        type("k", 1);
    assert_int_equal(m.lost_input, 5);
    assert_int_equal(m.to_l1.head - m.to_l1.tail, CONSOLE_MUX_FIFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_bytes_go_to_l1),
        cmocka_unit_test(test_one_or_two_escapes_reach_l1_in_order),
        cmocka_unit_test(test_three_escapes_switch_and_are_swallowed),
        cmocka_unit_test(test_interrupted_run_does_not_count),
        cmocka_unit_test(test_other_letter),
        cmocka_unit_test(test_continue_and_held_bytes),
        cmocka_unit_test(test_l1_output_kept_while_shell),
        cmocka_unit_test(test_fifo_full_counts_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
