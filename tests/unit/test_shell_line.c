/* The debug shell's line editor, word splitter and number parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "hv/console/shell_line.h"

static enum shell_feed feed(struct shell_line *l, const char *s)
{
    enum shell_feed r = SHELL_FEED_NONE;
    for (; *s; s++)
        r = shell_line_feed(l, (uint8_t)*s);
    return r;
}

static void test_line_and_echo(void **state)
{
    struct shell_line l;
    (void)state;
    shell_line_reset(&l);
    assert_int_equal(shell_line_feed(&l, 's'), SHELL_FEED_ECHO);
    assert_int_equal(feed(&l, "tats\r"), SHELL_FEED_LINE);
    assert_string_equal(l.buf, "stats");
    /* The LF of a CRLF is an empty line. */
    assert_int_equal(feed(&l, "\n"), SHELL_FEED_LINE);
    assert_string_equal(l.buf, "");
}

static void test_backspace_and_controls(void **state)
{
    struct shell_line l;
    (void)state;
    shell_line_reset(&l);
    assert_int_equal(shell_line_feed(&l, 0x7F), SHELL_FEED_NONE); /* nothing to erase */
    feed(&l, "cpux");
    assert_int_equal(shell_line_feed(&l, 0x08), SHELL_FEED_ERASE);
    assert_int_equal(shell_line_feed(&l, 0x01), SHELL_FEED_NONE); /* Ctrl-A ignored */
    assert_int_equal(shell_line_feed(&l, 0x1B), SHELL_FEED_NONE);
    assert_int_equal(shell_line_feed(&l, 0xC3), SHELL_FEED_NONE);
    feed(&l, "s\r");
    assert_string_equal(l.buf, "cpus");
}

static void test_overlong_line_refused_whole(void **state)
{
    struct shell_line l;
    char text[SHELL_LINE_MAX + 2];
    (void)state;
    shell_line_reset(&l);
    memset(text, 'x', SHELL_LINE_MAX);
    text[SHELL_LINE_MAX] = 0;
    assert_int_equal(feed(&l, text), SHELL_FEED_ECHO);
    assert_int_equal(feed(&l, "\r"), SHELL_FEED_LINE); /* exactly the limit: fine */
    assert_int_equal(strlen(l.buf), SHELL_LINE_MAX);
    feed(&l, text);
    assert_int_equal(shell_line_feed(&l, 'y'), SHELL_FEED_NONE);
    assert_int_equal(shell_line_feed(&l, 0x7F), SHELL_FEED_NONE); /* no erasing back under */
    assert_int_equal(feed(&l, "\r"), SHELL_FEED_OVERLONG);
    /* The next line starts clean. */
    assert_int_equal(feed(&l, "help\r"), SHELL_FEED_LINE);
    assert_string_equal(l.buf, "help");
}

static void test_split(void **state)
{
    char buf[64];
    char *argv[SHELL_MAX_ARGS];
    (void)state;
    strcpy(buf, "  trace \t 5  ");
    assert_int_equal(shell_split(buf, argv, SHELL_MAX_ARGS), 2);
    assert_string_equal(argv[0], "trace");
    assert_string_equal(argv[1], "5");
    strcpy(buf, "   ");
    assert_int_equal(shell_split(buf, argv, SHELL_MAX_ARGS), 0);
    strcpy(buf, "a b c");
    assert_int_equal(shell_split(buf, argv, 2), -1);
}

static void test_parse_uint(void **state)
{
    uint64_t v;
    (void)state;
    assert_true(shell_parse_uint("0", &v) && v == 0);
    assert_true(shell_parse_uint("42", &v) && v == 42);
    assert_true(shell_parse_uint("0x7b", &v) && v == 0x7b);
    assert_true(shell_parse_uint("0X7B", &v) && v == 0x7b);
    assert_true(shell_parse_uint("18446744073709551615", &v) && v == UINT64_MAX);
    assert_false(shell_parse_uint("18446744073709551616", &v));
    assert_false(shell_parse_uint("", &v));
    assert_false(shell_parse_uint("0x", &v));
    assert_false(shell_parse_uint("12a", &v));
    assert_false(shell_parse_uint("-1", &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_and_echo),
        cmocka_unit_test(test_backspace_and_controls),
        cmocka_unit_test(test_overlong_line_refused_whole),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_parse_uint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
