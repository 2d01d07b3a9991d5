/*
 * Unit tests for the HV.CFG parser (boot/config.c).
 *
 * Build and run:
 *   gcc -std=gnu11 -Wall -Wextra -Werror -I. tests/unit/test_config.c \
 *       boot/config.c -lcmocka -o /tmp/test_config && /tmp/test_config
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "boot/config.h"

#define MAX_DIAGS 16

/* Collects every diagnostic so tests can check line numbers and text. */
struct diags {
    unsigned count;
    unsigned line[MAX_DIAGS];
    char msg[MAX_DIAGS][CONFIG_DIAG_MAX];
};

static void collect(void *ctx, unsigned line, const char *msg)
{
    struct diags *d = ctx;

    assert_true(strlen(msg) < CONFIG_DIAG_MAX);
    if (d->count < MAX_DIAGS) {
        d->line[d->count] = line;
        snprintf(d->msg[d->count], CONFIG_DIAG_MAX, "%s", msg);
    }
    d->count++;
}

/* Defaults with padding and unused buffer bytes zeroed, so that whole
   structs can be compared with memcmp. */
static void fresh_defaults(struct hv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    config_defaults(cfg);
}

/* Parses a C string on top of defaults; returns config_parse's count. */
static unsigned parse_n(struct hv_config *cfg, struct diags *d,
                        const char *text, size_t len)
{
    unsigned n;

    fresh_defaults(cfg);
    memset(d, 0, sizeof *d);
    n = config_parse(cfg, text, len, collect, d);
    assert_int_equal(n, d->count);
    return n;
}

static unsigned parse(struct hv_config *cfg, struct diags *d,
                      const char *text)
{
    return parse_n(cfg, d, text, strlen(text));
}

/* Asserts that text parses with no diagnostics. */
static void parse_ok(struct hv_config *cfg, const char *text)
{
    struct diags d;

    if (parse(cfg, &d, text) != 0)
        fail_msg("unexpected diagnostic for \"%s\": %s", text, d.msg[0]);
}

/* Asserts exactly one diagnostic with the given line and message. */
static void parse_one_diag(struct hv_config *cfg, const char *text,
                           unsigned line, const char *msg)
{
    struct diags d;

    assert_int_equal(parse(cfg, &d, text), 1);
    assert_int_equal(d.line[0], line);
    assert_string_equal(d.msg[0], msg);
}

/* Asserts that one key=value line is rejected and leaves defaults intact. */
static void expect_bad(const char *key, const char *value,
                       const char *expected)
{
    struct hv_config cfg, def;
    char text[300], msg[CONFIG_DIAG_MAX];

    snprintf(text, sizeof text, "%s = %s\n", key, value);
    snprintf(msg, sizeof msg, "line 1: bad value '%s' for %s (expected %s)",
             value, key, expected);
    parse_one_diag(&cfg, text, 1, msg);
    fresh_defaults(&def);
    assert_memory_equal(&cfg, &def, sizeof cfg);
}

#define PORT_EXP "1..0xFFF8, decimal or 0x-hex"
#define BAUD_EXP "115200, 57600, 38400, 19200, 9600, 4800, 2400 or 1200"
#define LEVEL_EXP "error, warn, info or debug"
#define MEM_EXP "8..1024"
#define PATH_EXP "a file path starting with \\ or /, or none"
#define FAULT_EXP "halt or reset"
#define BOOL_EXP "yes/no, 1/0, true/false or on/off"
#define ESCAPE_EXP "one letter a-z other than h, i, j, m, meaning Ctrl-<letter>"

/* ---- defaults and trivial input ---------------------------------- */

static void test_defaults(void **state)
{
    struct hv_config cfg;

    (void)state;
    memset(&cfg, 0xAA, sizeof cfg);
    config_defaults(&cfg);
    assert_int_equal(cfg.serial_port, 0x3F8);
    assert_int_equal(cfg.serial_baud, 115200);
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_int_equal(cfg.memory_mb, 64);
    assert_string_equal(cfg.next_stage, "\\EFI\\BOOT\\L1TEST.EFI");
    assert_string_equal(cfg.cmdline, "");
    assert_int_equal(cfg.on_fault, FAULT_HALT);
    assert_false(cfg.debug_crash);
    assert_false(cfg.print_stats);
    assert_true(cfg.hypervisor);
    assert_true(cfg.iommu);
    assert_true(cfg.debug_shell);
    assert_int_equal(cfg.console_escape, 'a');
}

static void test_empty_input(void **state)
{
    struct hv_config cfg, def;
    struct diags d;

    (void)state;
    fresh_defaults(&def);
    assert_int_equal(parse(&cfg, &d, ""), 0);
    assert_memory_equal(&cfg, &def, sizeof cfg);
    assert_int_equal(config_parse(&cfg, NULL, 0, collect, &d), 0);
    assert_int_equal(config_parse(&cfg, NULL, 5, collect, &d), 0);
    assert_int_equal(parse(&cfg, &d, "\xEF\xBB\xBF"), 0);
    assert_int_equal(parse(&cfg, &d, "\n\r\n  \t \n"), 0);
    assert_memory_equal(&cfg, &def, sizeof cfg);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(log_level_name(LOG_ERROR), "error");
    assert_string_equal(log_level_name(LOG_WARN), "warn");
    assert_string_equal(log_level_name(LOG_INFO), "info");
    assert_string_equal(log_level_name(LOG_DEBUG), "debug");
    assert_string_equal(log_level_name((enum log_level)7), "?");
    assert_string_equal(fault_action_name(FAULT_HALT), "halt");
    assert_string_equal(fault_action_name(FAULT_RESET), "reset");
    assert_string_equal(fault_action_name((enum fault_action)9), "?");
}

/* ---- good values -------------------------------------------------- */

static void test_full_file(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg,
             "# HV.CFG\n"
             "serial_port = 0x2F8\n"
             "serial_baud = 9600\n"
             "log_level = debug\n"
             "memory_mb = 256\n"
             "next_stage = /EFI/Linux/vmlinuz.efi\n"
             "cmdline = console=ttyS0,115200 quiet\n"
             "on_fault = reset\n"
             "debug_crash = yes\n"
             "print_stats = on\n"
             "hypervisor = no\n"
             "iommu = no\n");
    assert_int_equal(cfg.serial_port, 0x2F8);
    assert_int_equal(cfg.serial_baud, 9600);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_int_equal(cfg.memory_mb, 256);
    assert_string_equal(cfg.next_stage, "\\EFI\\Linux\\vmlinuz.efi");
    assert_string_equal(cfg.cmdline, "console=ttyS0,115200 quiet");
    assert_int_equal(cfg.on_fault, FAULT_RESET);
    assert_true(cfg.debug_crash);
    assert_true(cfg.print_stats);
    assert_false(cfg.hypervisor);
    assert_false(cfg.iommu);
}

static void test_serial_port_good(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "serial_port = 760");
    assert_int_equal(cfg.serial_port, 0x2F8);
    parse_ok(&cfg, "serial_port = 0x3e8");
    assert_int_equal(cfg.serial_port, 0x3E8);
    parse_ok(&cfg, "serial_port = 0X2E8");
    assert_int_equal(cfg.serial_port, 0x2E8);
    parse_ok(&cfg, "serial_port = 1");
    assert_int_equal(cfg.serial_port, 1);
    parse_ok(&cfg, "serial_port = 0xFFF8");
    assert_int_equal(cfg.serial_port, 0xFFF8);
    parse_ok(&cfg, "serial_port = 65528");
    assert_int_equal(cfg.serial_port, 0xFFF8);
    parse_ok(&cfg, "serial_port = 0x00003F8");
    assert_int_equal(cfg.serial_port, 0x3F8);
    parse_ok(&cfg, "serial_port = 01016");   /* leading zero: not octal */
    assert_int_equal(cfg.serial_port, 1016);
}

static void test_serial_baud_good(void **state)
{
    static const uint32_t rates[] = {
        115200, 57600, 38400, 19200, 9600, 4800, 2400, 1200,
    };
    struct hv_config cfg;
    char text[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        snprintf(text, sizeof text, "serial_baud = %u\n", rates[i]);
        parse_ok(&cfg, text);
        assert_int_equal(cfg.serial_baud, rates[i]);
        assert_int_equal(115200 % cfg.serial_baud, 0);
    }
    parse_ok(&cfg, "serial_baud = 0x4B0");
    assert_int_equal(cfg.serial_baud, 1200);
}

static void test_log_level_good(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "log_level = error");
    assert_int_equal(cfg.log_level, LOG_ERROR);
    parse_ok(&cfg, "log_level = warn");
    assert_int_equal(cfg.log_level, LOG_WARN);
    parse_ok(&cfg, "log_level = debug");
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    parse_ok(&cfg, "log_level = info");
    assert_int_equal(cfg.log_level, LOG_INFO);
    parse_ok(&cfg, "log_level = WARN");      /* value words ignore case */
    assert_int_equal(cfg.log_level, LOG_WARN);
}

static void test_memory_mb_good(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "memory_mb = 8");
    assert_int_equal(cfg.memory_mb, 8);
    parse_ok(&cfg, "memory_mb = 1024");
    assert_int_equal(cfg.memory_mb, 1024);
    parse_ok(&cfg, "memory_mb = 0x80");
    assert_int_equal(cfg.memory_mb, 128);
}

static void test_next_stage_good(void **state)
{
    struct hv_config cfg;
    char text[200], path[CONFIG_PATH_MAX];

    (void)state;
    parse_ok(&cfg, "next_stage = \\EFI\\BOOT\\GRUBX64.EFI");
    assert_string_equal(cfg.next_stage, "\\EFI\\BOOT\\GRUBX64.EFI");
    parse_ok(&cfg, "next_stage = /efi/boot/a.efi");
    assert_string_equal(cfg.next_stage, "\\efi\\boot\\a.efi");
    parse_ok(&cfg, "next_stage = /EFI\\mixed/x.efi");
    assert_string_equal(cfg.next_stage, "\\EFI\\mixed\\x.efi");
    parse_ok(&cfg, "next_stage = none");
    assert_string_equal(cfg.next_stage, "");
    parse_ok(&cfg, "next_stage = None");
    assert_string_equal(cfg.next_stage, "");
    parse_ok(&cfg, "next_stage = \\My Tools\\a b.efi  # comment");
    assert_string_equal(cfg.next_stage, "\\My Tools\\a b.efi");
    parse_ok(&cfg, "next_stage = \\A#1.EFI");  /* '#' glued: part of name */
    assert_string_equal(cfg.next_stage, "\\A#1.EFI");
    parse_ok(&cfg, "next_stage = \\none");
    assert_string_equal(cfg.next_stage, "\\none");

    /* Exactly 127 characters fits the 128-byte buffer. */
    memset(path, 'a', 127);
    path[0] = '/';
    path[127] = '\0';
    snprintf(text, sizeof text, "next_stage = %s\n", path);
    parse_ok(&cfg, text);
    path[0] = '\\';
    assert_string_equal(cfg.next_stage, path);
    assert_int_equal(strlen(cfg.next_stage), 127);
}

static void test_cmdline_good(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "cmdline = \t root=/dev/sda1   ro  quiet \t\r\n");
    assert_string_equal(cfg.cmdline, "root=/dev/sda1   ro  quiet");
    parse_ok(&cfg, "cmdline = a # b #c");      /* '#' is not a comment */
    assert_string_equal(cfg.cmdline, "a # b #c");
    parse_ok(&cfg, "cmdline = x=y = z");        /* only first '=' splits */
    assert_string_equal(cfg.cmdline, "x=y = z");
    parse_ok(&cfg, "cmdline =");                /* empty allowed */
    assert_string_equal(cfg.cmdline, "");
    parse_ok(&cfg, "cmdline=\t");
    assert_string_equal(cfg.cmdline, "");
    parse_ok(&cfg, "cmdline = # just this");
    assert_string_equal(cfg.cmdline, "# just this");
}

static void test_on_fault_good(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "on_fault = reset");
    assert_int_equal(cfg.on_fault, FAULT_RESET);
    cfg.on_fault = FAULT_RESET;
    assert_int_equal(config_parse(&cfg, "on_fault=halt", 13, NULL, NULL), 0);
    assert_int_equal(cfg.on_fault, FAULT_HALT);
}

static void test_bools_good(void **state)
{
    static const char *const yes[] = { "yes", "1", "true", "on", "YES" };
    static const char *const no[] = { "no", "0", "false", "off", "Off" };
    struct hv_config cfg;
    char text[64];
    size_t i;

    (void)state;
    for (i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "debug_crash=%s\nprint_stats=%s",
                 yes[i], yes[i]);
        parse_ok(&cfg, text);
        assert_true(cfg.debug_crash);
        assert_true(cfg.print_stats);

        /* Start from "true" so that "no" visibly changes something. */
        cfg.debug_crash = cfg.print_stats = true;
        snprintf(text, sizeof text, "debug_crash=%s\nprint_stats=%s",
                 no[i], no[i]);
        assert_int_equal(config_parse(&cfg, text, strlen(text), NULL, NULL),
                         0);
        assert_false(cfg.debug_crash);
        assert_false(cfg.print_stats);
    }
}

/* ---- bad values --------------------------------------------------- */

static void test_serial_port_bad(void **state)
{
    (void)state;
    expect_bad("serial_port", "0", PORT_EXP);
    expect_bad("serial_port", "0xFFF9", PORT_EXP);
    expect_bad("serial_port", "65536", PORT_EXP);
    expect_bad("serial_port", "4294967295", PORT_EXP);
    expect_bad("serial_port", "4294967296", PORT_EXP);
    expect_bad("serial_port", "99999999999999999999", PORT_EXP);
    expect_bad("serial_port", "0x100000000000000003F8", PORT_EXP);
    expect_bad("serial_port", "com1", PORT_EXP);
    expect_bad("serial_port", "3f8", PORT_EXP);
    expect_bad("serial_port", "0x", PORT_EXP);
    expect_bad("serial_port", "0x3F8x", PORT_EXP);
    expect_bad("serial_port", "0x3F8h", PORT_EXP);
    expect_bad("serial_port", "-1", PORT_EXP);
    expect_bad("serial_port", "+1016", PORT_EXP);
    expect_bad("serial_port", "10 16", PORT_EXP);
    expect_bad("serial_port", "1016#x", PORT_EXP);
}

static void test_serial_baud_bad(void **state)
{
    (void)state;
    expect_bad("serial_baud", "115200x", BAUD_EXP);
    expect_bad("serial_baud", "0", BAUD_EXP);
    expect_bad("serial_baud", "230400", BAUD_EXP);
    expect_bad("serial_baud", "115201", BAUD_EXP);
    expect_bad("serial_baud", "14400", BAUD_EXP);  /* divides, not listed */
    expect_bad("serial_baud", "fast", BAUD_EXP);
    expect_bad("serial_baud", "99999999999999999999", BAUD_EXP);
    expect_bad("serial_baud", "115200.0", BAUD_EXP);
}

static void test_log_level_bad(void **state)
{
    (void)state;
    expect_bad("log_level", "verbose", LEVEL_EXP);
    expect_bad("log_level", "2", LEVEL_EXP);
    expect_bad("log_level", "infos", LEVEL_EXP);
    expect_bad("log_level", "inf", LEVEL_EXP);
    expect_bad("log_level", "warning", LEVEL_EXP);
}

static void test_memory_mb_bad(void **state)
{
    (void)state;
    expect_bad("memory_mb", "7", MEM_EXP);
    expect_bad("memory_mb", "0", MEM_EXP);
    expect_bad("memory_mb", "1025", MEM_EXP);
    expect_bad("memory_mb", "64M", MEM_EXP);
    expect_bad("memory_mb", "lots", MEM_EXP);
    expect_bad("memory_mb", "99999999999999999999", MEM_EXP);
    expect_bad("memory_mb", "0x100000040", MEM_EXP);  /* wraps to 64 */
}

static void test_next_stage_bad(void **state)
{
    struct hv_config cfg;
    char text[200], path[130];

    (void)state;
    expect_bad("next_stage", "EFI\\BOOT\\X.EFI", PATH_EXP);
    expect_bad("next_stage", "x.efi", PATH_EXP);
    expect_bad("next_stage", "\\", PATH_EXP);
    expect_bad("next_stage", "/", PATH_EXP);
    expect_bad("next_stage", "\\EFI\\BOOT\\", PATH_EXP);
    expect_bad("next_stage", "nones", PATH_EXP);

    /* 128 characters do not fit. */
    memset(path, 'b', 128);
    path[0] = '\\';
    path[128] = '\0';
    snprintf(text, sizeof text, "next_stage = %s\nmemory_mb = 9\n", path);
    parse_one_diag(&cfg, text, 1,
                   "line 1: next_stage path longer than 127 characters");
    assert_string_equal(cfg.next_stage, CONFIG_DEFAULT_NEXT_STAGE);
    assert_int_equal(cfg.memory_mb, 9);
}

static void test_on_fault_bad(void **state)
{
    (void)state;
    expect_bad("on_fault", "reboot", FAULT_EXP);
    expect_bad("on_fault", "1", FAULT_EXP);
    expect_bad("on_fault", "halt now", FAULT_EXP);
}

static void test_bools_bad(void **state)
{
    (void)state;
    expect_bad("debug_crash", "maybe", BOOL_EXP);
    expect_bad("debug_crash", "2", BOOL_EXP);
    expect_bad("debug_crash", "yess", BOOL_EXP);
    expect_bad("print_stats", "y", BOOL_EXP);
    expect_bad("print_stats", "01", BOOL_EXP);
    expect_bad("hypervisor", "maybe", BOOL_EXP);
    expect_bad("iommu", "on-ish", BOOL_EXP);
    expect_bad("debug_shell", "sometimes", BOOL_EXP);
}

/* debug_shell = no must reach the core (it then never reads the UART). */
static void test_debug_shell(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "debug_shell = no");
    assert_false(cfg.debug_shell);
    parse_ok(&cfg, "debug_shell = on");
    assert_true(cfg.debug_shell);
}

static void test_console_escape(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "console_escape = b");
    assert_int_equal(cfg.console_escape, 'b');
    parse_ok(&cfg, "console_escape = Z # upper case is the same letter");
    assert_int_equal(cfg.console_escape, 'z');
    /* Not letters, several letters, and the Ctrl- keys of ordinary typing. */
    expect_bad("console_escape", "ab", ESCAPE_EXP);
    expect_bad("console_escape", "1", ESCAPE_EXP);
    expect_bad("console_escape", "^A", ESCAPE_EXP);
    expect_bad("console_escape", "@", ESCAPE_EXP);
    expect_bad("console_escape", "m", ESCAPE_EXP);
    expect_bad("console_escape", "J", ESCAPE_EXP);
    expect_bad("console_escape", "h", ESCAPE_EXP);
    expect_bad("console_escape", "i", ESCAPE_EXP);
}

static void test_empty_value(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_one_diag(&cfg, "serial_port =", 1,
                   "line 1: empty value for 'serial_port'");
    assert_int_equal(cfg.serial_port, 0x3F8);
    parse_one_diag(&cfg, "\nlog_level = \t # nothing here\n", 2,
                   "line 2: empty value for 'log_level'");
    assert_int_equal(cfg.log_level, LOG_INFO);
    parse_one_diag(&cfg, "next_stage=", 1,
                   "line 1: empty value for 'next_stage'");
    assert_string_equal(cfg.next_stage, CONFIG_DEFAULT_NEXT_STAGE);
    parse_one_diag(&cfg, "debug_crash =#", 1,
                   "line 1: empty value for 'debug_crash'");
}

/* ---- syntax errors ------------------------------------------------ */

static void test_unknown_key(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_one_diag(&cfg, "serial_port = 0x2F8\n\nfoo = 1\n", 3,
                   "line 3: unknown key 'foo'");
    assert_int_equal(cfg.serial_port, 0x2F8);
    parse_one_diag(&cfg, "Serial_Port = 0x2F8", 1,   /* keys: exact case */
                   "line 1: unknown key 'Serial_Port'");
    assert_int_equal(cfg.serial_port, 0x3F8);
    parse_one_diag(&cfg, "serial port = 1", 1,
                   "line 1: unknown key 'serial port'");
    parse_one_diag(&cfg, "serial_portx = 1", 1,
                   "line 1: unknown key 'serial_portx'");
    parse_one_diag(&cfg, "serial_por = 1", 1,
                   "line 1: unknown key 'serial_por'");
    parse_one_diag(&cfg, "bogus =", 1, "line 1: unknown key 'bogus'");
}

static void test_missing_equals(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_one_diag(&cfg, "# c\nserial_port 0x2F8\nmemory_mb=32", 2,
                   "line 2: missing '=' in 'serial_port 0x2F8' "
                   "(expected key = value)");
    assert_int_equal(cfg.serial_port, 0x3F8);
    assert_int_equal(cfg.memory_mb, 32);
    /* A comment before the '=' hides it. */
    parse_one_diag(&cfg, "  debug_crash  # = yes", 1,
                   "line 1: missing '=' in 'debug_crash' "
                   "(expected key = value)");
    assert_false(cfg.debug_crash);
    parse_one_diag(&cfg, "cmdline # = x", 1,
                   "line 1: missing '=' in 'cmdline' (expected key = value)");
    /* A glued '#' is part of the key, as it would be of a value. */
    parse_one_diag(&cfg, "memory_mb# = 16", 1,
                   "line 1: unknown key 'memory_mb#'");
}

static void test_empty_key(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_one_diag(&cfg, "= 5\n", 1, "line 1: empty key before '='");
    parse_one_diag(&cfg, "\n \t = 0x2F8\n", 2, "line 2: empty key before '='");
    assert_int_equal(cfg.serial_port, 0x3F8);
    parse_one_diag(&cfg, "=", 1, "line 1: empty key before '='");
}

/* ---- layout: comments, line endings, BOM --------------------------- */

static void test_comments_and_blanks(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg,
             "# full-line comment\n"
             "\n"
             "   # indented comment = with equals\n"
             "\t\n"
             "  serial_port\t=\t0x2F8   # trailing comment\n"
             "memory_mb = 128 # comment with = sign\n"
             "\n");
    assert_int_equal(cfg.serial_port, 0x2F8);
    assert_int_equal(cfg.memory_mb, 128);
}

static void test_glued_comment_is_value(void **state)
{
    struct hv_config cfg;

    (void)state;
    /* "128#" is a bad number: '#' only starts a comment after a blank. */
    parse_one_diag(&cfg, "memory_mb=128#x", 1,
                   "line 1: bad value '128#x' for memory_mb "
                   "(expected 8..1024)");
    parse_ok(&cfg, "memory_mb=128\t#x");
    assert_int_equal(cfg.memory_mb, 128);
    parse_ok(&cfg, "log_level = warn #### debug");
    assert_int_equal(cfg.log_level, LOG_WARN);
}

static void test_crlf(void **state)
{
    struct hv_config cfg;
    struct diags d;

    (void)state;
    parse_ok(&cfg, "serial_baud = 57600\r\n"
                   "\r\n"
                   "# comment\r\n"
                   "next_stage = \\A.EFI\r\n"
                   "cmdline = a b \r\n"
                   "debug_crash = on\r\n");
    assert_int_equal(cfg.serial_baud, 57600);
    assert_string_equal(cfg.next_stage, "\\A.EFI");
    assert_string_equal(cfg.cmdline, "a b");
    assert_true(cfg.debug_crash);

    /* Line numbers still count CRLF lines correctly. */
    assert_int_equal(parse(&cfg, &d, "a = 1\r\n\r\nb = 2\r\n"), 2);
    assert_int_equal(d.line[0], 1);
    assert_int_equal(d.line[1], 3);
    assert_string_equal(d.msg[1], "line 3: unknown key 'b'");
}

static void test_bom(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "\xEF\xBB\xBFserial_port = 0x2F8\nmemory_mb = 16\n");
    assert_int_equal(cfg.serial_port, 0x2F8);
    assert_int_equal(cfg.memory_mb, 16);
    parse_ok(&cfg, "\xEF\xBB\xBF# comment first\r\nlog_level=warn");
    assert_int_equal(cfg.log_level, LOG_WARN);
    /* A BOM anywhere else is just bytes; quoted as '?' in the message. */
    parse_one_diag(&cfg, "\n\xEF\xBB\xBFmemory_mb = 16", 2,
                   "line 2: unknown key '???memory_mb'");
}

static void test_no_trailing_newline(void **state)
{
    struct hv_config cfg;

    (void)state;
    parse_ok(&cfg, "memory_mb = 32\nserial_baud = 38400");
    assert_int_equal(cfg.memory_mb, 32);
    assert_int_equal(cfg.serial_baud, 38400);
    parse_ok(&cfg, "cmdline = tail text  ");
    assert_string_equal(cfg.cmdline, "tail text");
    parse_ok(&cfg, "on_fault = reset\r");  /* lone final CR */
    assert_int_equal(cfg.on_fault, FAULT_RESET);
}

/* ---- overlong lines and NUL bytes ---------------------------------- */

/* Builds "cmdline = xxx...x" of exactly total characters. */
static void make_cmdline_line(char *buf, size_t total)
{
    size_t prefix = strlen("cmdline = ");

    memcpy(buf, "cmdline = ", prefix);
    memset(buf + prefix, 'x', total - prefix);
    buf[total] = '\0';
}

static void test_line_255_accepted(void **state)
{
    struct hv_config cfg;
    char line[300], text[400];

    (void)state;
    make_cmdline_line(line, 255);
    snprintf(text, sizeof text, "%s\nmemory_mb = 16\n", line);
    parse_ok(&cfg, text);
    assert_int_equal(strlen(cfg.cmdline), 255 - strlen("cmdline = "));
    assert_int_equal(cfg.memory_mb, 16);

    /* The CR of a CRLF ending does not count towards the limit. */
    snprintf(text, sizeof text, "%s\r\nmemory_mb = 16\r\n", line);
    parse_ok(&cfg, text);
    assert_int_equal(strlen(cfg.cmdline), 245);

    /* Nor at the very end of the file without a newline. */
    parse_ok(&cfg, line);
    assert_int_equal(strlen(cfg.cmdline), 245);
}

static void test_line_256_rejected(void **state)
{
    struct hv_config cfg;
    struct diags d;
    char line[300], text[400];

    (void)state;
    make_cmdline_line(line, 256);
    snprintf(text, sizeof text, "memory_mb = 16\n%s\nserial_baud = 9600\n",
             line);
    assert_int_equal(parse(&cfg, &d, text), 1);
    assert_int_equal(d.line[0], 2);
    assert_string_equal(d.msg[0],
                        "line 2: line longer than 255 characters, ignored");
    assert_string_equal(cfg.cmdline, "");
    assert_int_equal(cfg.memory_mb, 16);
    assert_int_equal(cfg.serial_baud, 9600);

    /* Without a newline at the end of the file, too. */
    parse_one_diag(&cfg, line, 1,
                   "line 1: line longer than 255 characters, ignored");
    assert_string_equal(cfg.cmdline, "");
}

static void test_very_long_line(void **state)
{
    struct hv_config cfg;
    struct diags d;
    static char text[5000];

    (void)state;
    /* A huge line containing '=' and '\r' in the middle, then more lines:
       the parser must skip to the real end of that line. */
    memset(text, 'y', sizeof text);
    memcpy(text, "cmdline = ", 10);
    text[2000] = '\r';
    text[3000] = '=';
    strcpy(text + 4000, "\nfoo\nlog_level=debug");
    assert_int_equal(parse(&cfg, &d, text), 2);
    assert_string_equal(d.msg[0],
                        "line 1: line longer than 255 characters, ignored");
    assert_string_equal(d.msg[1], "line 2: missing '=' in 'foo' "
                                  "(expected key = value)");
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_string_equal(cfg.cmdline, "");
}

static void test_nul_byte(void **state)
{
    static const char text[] = "memory_mb = 16\n"
                               "serial_port = 0x2\0F8\n"
                               "\0\n"
                               "log_level = warn";
    struct hv_config cfg;
    struct diags d;

    (void)state;
    assert_int_equal(parse_n(&cfg, &d, text, sizeof text - 1), 2);
    assert_int_equal(d.line[0], 2);
    assert_string_equal(d.msg[0], "line 2: NUL byte in line, ignored");
    assert_int_equal(d.line[1], 3);
    assert_string_equal(d.msg[1], "line 3: NUL byte in line, ignored");
    assert_int_equal(cfg.memory_mb, 16);
    assert_int_equal(cfg.serial_port, 0x3F8);
    assert_int_equal(cfg.log_level, LOG_WARN);
}

static void test_len_is_respected(void **state)
{
    struct hv_config cfg;
    struct diags d;

    (void)state;
    /* Only the first len bytes count, even if more follow in memory. */
    assert_int_equal(parse_n(&cfg, &d, "memory_mb = 128", 14), 0);
    assert_int_equal(cfg.memory_mb, 12);
}

/* ---- duplicates, recovery, messages -------------------------------- */

static void test_duplicate_key(void **state)
{
    struct hv_config cfg;
    struct diags d;

    (void)state;
    assert_int_equal(parse(&cfg, &d, "serial_port = 0x2F8\n"
                                     "memory_mb = 16\n"
                                     "serial_port = 0x3E8\n"
                                     "serial_port = 0x2E8\n"), 2);
    assert_int_equal(cfg.serial_port, 0x2E8);
    assert_int_equal(d.line[0], 3);
    assert_string_equal(d.msg[0], "line 3: duplicate key 'serial_port' "
                                  "(also on line 1), this value wins");
    assert_int_equal(d.line[1], 4);
    assert_string_equal(d.msg[1], "line 4: duplicate key 'serial_port' "
                                  "(also on line 3), this value wins");
}

static void test_duplicate_with_bad_value(void **state)
{
    struct hv_config cfg;
    struct diags d;

    (void)state;
    /* A bad later value does not win, so only the error is reported. */
    assert_int_equal(parse(&cfg, &d, "memory_mb = 16\nmemory_mb = 2\n"), 1);
    assert_int_equal(cfg.memory_mb, 16);
    assert_string_equal(d.msg[0], "line 2: bad value '2' for memory_mb "
                                  "(expected 8..1024)");

    /* A bad first value is not a previous setting. */
    assert_int_equal(parse(&cfg, &d, "memory_mb = 2\nmemory_mb = 16\n"), 1);
    assert_int_equal(cfg.memory_mb, 16);
    assert_int_equal(d.line[0], 1);

    /* Same value twice still warns; none then path works. */
    assert_int_equal(parse(&cfg, &d, "next_stage = none\n"
                                     "next_stage = /B.EFI\n"), 1);
    assert_string_equal(cfg.next_stage, "\\B.EFI");
    assert_string_equal(d.msg[0], "line 2: duplicate key 'next_stage' "
                                  "(also on line 1), this value wins");
}

static void test_recovery_after_errors(void **state)
{
    struct hv_config cfg;
    struct diags d;

    (void)state;
    assert_int_equal(parse(&cfg, &d,
                           "serial_port = 0x2F8\n"    /* 1 ok */
                           "bogus = 1\n"              /* 2 unknown */
                           "serial_baud = 115200x\n"  /* 3 bad */
                           "log_level = debug\n"      /* 4 ok */
                           "just words\n"             /* 5 no '=' */
                           "= x\n"                    /* 6 empty key */
                           "memory_mb = 9999\n"       /* 7 range */
                           "memory_mb = 512\n"        /* 8 ok */
                           "on_fault = reset\n"       /* 9 ok */
                           "print_stats = perhaps\n"  /* 10 bad */
                           "print_stats = 1\n"),      /* 11 ok */
                     6);
    assert_int_equal(cfg.serial_port, 0x2F8);
    assert_int_equal(cfg.serial_baud, 115200);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_int_equal(cfg.memory_mb, 512);
    assert_int_equal(cfg.on_fault, FAULT_RESET);
    assert_true(cfg.print_stats);

    assert_int_equal(d.line[0], 2);
    assert_string_equal(d.msg[0], "line 2: unknown key 'bogus'");
    assert_int_equal(d.line[1], 3);
    assert_string_equal(d.msg[1], "line 3: bad value '115200x' for "
                                  "serial_baud (expected " BAUD_EXP ")");
    assert_int_equal(d.line[2], 5);
    assert_string_equal(d.msg[2], "line 5: missing '=' in 'just words' "
                                  "(expected key = value)");
    assert_int_equal(d.line[3], 6);
    assert_string_equal(d.msg[3], "line 6: empty key before '='");
    assert_int_equal(d.line[4], 7);
    assert_string_equal(d.msg[4], "line 7: bad value '9999' for memory_mb "
                                  "(expected 8..1024)");
    assert_int_equal(d.line[5], 10);
    assert_string_equal(d.msg[5], "line 10: bad value 'perhaps' for "
                                  "print_stats (expected " BOOL_EXP ")");
}

static void test_parse_on_top(void **state)
{
    struct hv_config cfg;

    (void)state;
    /* Keys absent from the text keep whatever *cfg already had. */
    config_defaults(&cfg);
    cfg.memory_mb = 512;
    cfg.cmdline[0] = 'z';
    cfg.cmdline[1] = '\0';
    assert_int_equal(config_parse(&cfg, "log_level=warn", 14, NULL, NULL), 0);
    assert_int_equal(cfg.memory_mb, 512);
    assert_string_equal(cfg.cmdline, "z");
    assert_int_equal(cfg.log_level, LOG_WARN);
}

static void test_null_callback_counts(void **state)
{
    struct hv_config cfg;
    const char *text = "a=1\nmemory_mb=1\nmemory_mb=8\nmemory_mb=9";

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_parse(&cfg, text, strlen(text), NULL, NULL), 3);
    assert_int_equal(cfg.memory_mb, 9);
}

static void test_message_bounds(void **state)
{
    struct hv_config cfg;
    struct diags d;
    char text[300];

    (void)state;
    /* Long values are cut to 40 characters plus "...". */
    snprintf(text, sizeof text, "serial_baud = %s\n",
             "1234567890123456789012345678901234567890EXTRA");
    assert_int_equal(parse(&cfg, &d, text), 1);
    assert_string_equal(d.msg[0],
                        "line 1: bad value "
                        "'1234567890123456789012345678901234567890...' "
                        "for serial_baud (expected " BAUD_EXP ")");

    /* Exactly 40 characters are quoted whole. */
    parse_one_diag(&cfg, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx = 1", 1,
                   "line 1: unknown key "
                   "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'");
    parse_one_diag(&cfg, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxy = 1", 1,
                   "line 1: unknown key "
                   "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");

    /* Control and non-ASCII bytes are masked. */
    parse_one_diag(&cfg, "on_fault = h\x01l\xC3\xA9t", 1,
                   "line 1: bad value 'h?l??t' for on_fault "
                   "(expected halt or reset)");

    /* A long missing-'=' line stays within the buffer (checked in
       collect()) and the line number is right. */
    memset(text, 'q', 250);
    text[250] = '\0';
    parse_one_diag(&cfg, text, 1,
                   "line 1: missing '=' in "
                   "'qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq...' "
                   "(expected key = value)");
}

static void test_large_line_numbers(void **state)
{
    struct hv_config cfg;
    struct diags d;
    static char text[20000];
    size_t i;

    (void)state;
    for (i = 0; i < 12344; i++)
        text[i] = '\n';
    strcpy(text + i, "foo=1");
    assert_int_equal(parse(&cfg, &d, text), 1);
    assert_int_equal(d.line[0], 12345);
    assert_string_equal(d.msg[0], "line 12345: unknown key 'foo'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_serial_port_good),
        cmocka_unit_test(test_serial_baud_good),
        cmocka_unit_test(test_log_level_good),
        cmocka_unit_test(test_memory_mb_good),
        cmocka_unit_test(test_next_stage_good),
        cmocka_unit_test(test_cmdline_good),
        cmocka_unit_test(test_on_fault_good),
        cmocka_unit_test(test_bools_good),
        cmocka_unit_test(test_serial_port_bad),
        cmocka_unit_test(test_serial_baud_bad),
        cmocka_unit_test(test_log_level_bad),
        cmocka_unit_test(test_memory_mb_bad),
        cmocka_unit_test(test_next_stage_bad),
        cmocka_unit_test(test_on_fault_bad),
        cmocka_unit_test(test_bools_bad),
        cmocka_unit_test(test_debug_shell),
        cmocka_unit_test(test_console_escape),
        cmocka_unit_test(test_empty_value),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_missing_equals),
        cmocka_unit_test(test_empty_key),
        cmocka_unit_test(test_comments_and_blanks),
        cmocka_unit_test(test_glued_comment_is_value),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_no_trailing_newline),
        cmocka_unit_test(test_line_255_accepted),
        cmocka_unit_test(test_line_256_rejected),
        cmocka_unit_test(test_very_long_line),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_len_is_respected),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_duplicate_with_bad_value),
        cmocka_unit_test(test_recovery_after_errors),
        cmocka_unit_test(test_parse_on_top),
        cmocka_unit_test(test_null_callback_counts),
        cmocka_unit_test(test_message_bounds),
        cmocka_unit_test(test_large_line_numbers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
