/* Fuzz target: the HV.CFG parser (boot/config.c), which reads a file from
 * the boot medium before anything else runs.
 *
 * Input: the file's bytes, as they are (not NUL-terminated: the buffer is
 * exactly the input's size, so a read past len is an ASan report).
 *
 * Invariants on every input:
 *   - every field is in its documented range afterwards (port 1..0xFFF8, a
 *     listed baud rate, memory 8..1024 MiB, a known log level and fault
 *     action), next_stage is "" or an absolute path in backslashes not
 *     ending in one, both strings are NUL-terminated inside their buffers
 *     and hold no '\n';
 *   - the count returned is the number of diagnostics delivered, each one
 *     "line N: ..." for a line that exists, in order, printable, shorter
 *     than CONFIG_DIAG_MAX;
 *   - the text alone decides what it sets: parsed on top of the defaults
 *     and on top of another valid configuration, each field either keeps
 *     its starting value in both or ends equal in both, and a key whose
 *     name is not in the text changes nothing;
 *   - line endings and a BOM do not matter: the same text with CRLF, with
 *     a leading UTF-8 BOM, or with a final newline added parses the same. */

#include "boot/config.h"
#include "tests/fuzz/fuzz_check.h"

struct diag_log {
    unsigned count, last_line, lines;
};

static void on_diag(void *ctx, unsigned line, const char *msg)
{
    struct diag_log *d = ctx;
    char want[32];
    size_t n = strnlen(msg, CONFIG_DIAG_MAX);
    FUZZ_CHECK(n < CONFIG_DIAG_MAX, "a diagnostic is shorter than CONFIG_DIAG_MAX");
    snprintf(want, sizeof want, "line %u: ", line);
    FUZZ_CHECK(strncmp(msg, want, strlen(want)) == 0, "a diagnostic starts with 'line N: '");
    FUZZ_CHECK(line >= 1 && line <= d->lines, "a diagnostic names a line of the text");
    FUZZ_CHECK(line >= d->last_line, "diagnostics come in line order");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(msg[i] >= 0x20 && msg[i] < 0x7F, "a diagnostic is printable ASCII");
    d->last_line = line;
    d->count++;
}

/* Lines as the parser counts them: one per '\n', plus an unterminated
 * last one. */
static unsigned count_lines(const uint8_t *t, size_t n)
{
    unsigned lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += t[i] == '\n';
    return lines + (n && t[n - 1] != '\n');
}

static bool is_baud(uint32_t b)
{
    static const uint32_t ok[] = { 115200, 57600, 38400, 19200, 9600, 4800, 2400, 1200 };
    for (unsigned i = 0; i < sizeof ok / sizeof *ok; i++)
        if (ok[i] == b)
            return true;
    return false;
}

/* Lines end at '\n' (a lone CR inside a line is content, as in cmdline). */
static bool no_line_break(const char *s) { return !strchr(s, '\n'); }

static void check_ranges(const struct hv_config *c)
{
    FUZZ_CHECK(c->serial_port >= CONFIG_SERIAL_PORT_MIN && c->serial_port <= CONFIG_SERIAL_PORT_MAX,
               "serial_port in 1..0xFFF8");
    FUZZ_CHECK(is_baud(c->serial_baud), "serial_baud is a listed rate");
    FUZZ_CHECK((unsigned)c->log_level <= LOG_DEBUG, "log_level is a known level");
    FUZZ_CHECK(c->memory_mb >= CONFIG_MEMORY_MB_MIN && c->memory_mb <= CONFIG_MEMORY_MB_MAX,
               "memory_mb in 8..1024");
    FUZZ_CHECK(c->on_fault == FAULT_HALT || c->on_fault == FAULT_RESET, "on_fault halt or reset");
    size_t np = strnlen(c->next_stage, sizeof c->next_stage);
    FUZZ_CHECK(np < sizeof c->next_stage, "next_stage NUL-terminated in its buffer");
    if (np) {
        FUZZ_CHECK(c->next_stage[0] == '\\' && c->next_stage[np - 1] != '\\' &&
                       !strchr(c->next_stage, '/') && no_line_break(c->next_stage),
                   "next_stage is an absolute file path in backslashes");
    }
    size_t nc = strnlen(c->cmdline, sizeof c->cmdline);
    FUZZ_CHECK(nc < sizeof c->cmdline, "cmdline NUL-terminated in its buffer");
    FUZZ_CHECK(!strchr(c->cmdline, '\n'), "cmdline holds no line break");
}

/* Another valid starting configuration: every field differs from the
 * defaults. */
static void other_config(struct hv_config *c)
{
    memset(c, 0, sizeof *c);
    c->serial_port = 0x2F8;
    c->serial_baud = 9600;
    c->log_level = LOG_ERROR;
    c->memory_mb = 512;
    strcpy(c->next_stage, "\\OTHER.EFI");
    strcpy(c->cmdline, "other");
    c->on_fault = FAULT_RESET;
    c->debug_crash = true;
    c->print_stats = true;
    c->hypervisor = false;
}

static unsigned parse(struct hv_config *c, const uint8_t *text, size_t n)
{
    /* An exactly sized copy: the parser must stay within n. */
    char *copy = malloc(n ? n : 1);
    memcpy(copy, text, n);
    struct diag_log d = { .lines = count_lines(text, n) };
    unsigned r = config_parse(c, copy, n, on_diag, &d);
    free(copy);
    FUZZ_CHECK(r == d.count, "the count returned is the number of diagnostics");
    check_ranges(c);
    return r;
}

static bool text_has(const uint8_t *t, size_t n, const char *key)
{
    return memmem(t, n, key, strlen(key)) != NULL;
}

/* Field by field: kept its start value in both runs, or equal in both
 * (strings compared as strings: the bytes after the NUL are old ones). */
#define SAME_OR_KEPT_BY(field, key, EQ)                                                    \
    do {                                                                                   \
        bool kept = EQ(a.field, def.field) && EQ(b.field, oth.field);                      \
        FUZZ_CHECK(kept || EQ(a.field, b.field), "the text alone decides " key);           \
        if (!text_has(text, n, key))                                                       \
            FUZZ_CHECK(kept, "a key absent from the text changes nothing: " key);          \
    } while (0)
#define EQ_VAL(x, y) ((x) == (y))
#define EQ_STR(x, y) (strcmp((x), (y)) == 0)
#define SAME_OR_KEPT(field, key) SAME_OR_KEPT_BY(field, key, EQ_VAL)
#define SAME_OR_KEPT_STR(field, key) SAME_OR_KEPT_BY(field, key, EQ_STR)

static void check_prior_independent(const uint8_t *text, size_t n)
{
    struct hv_config def, oth, a, b;
    memset(&def, 0, sizeof def);
    config_defaults(&def);
    other_config(&oth);
    a = def;
    b = oth;
    unsigned ra = parse(&a, text, n), rb = parse(&b, text, n);
    FUZZ_CHECK(ra == rb, "the diagnostics do not depend on the starting configuration");
    SAME_OR_KEPT(serial_port, "serial_port");
    SAME_OR_KEPT(serial_baud, "serial_baud");
    SAME_OR_KEPT(log_level, "log_level");
    SAME_OR_KEPT(memory_mb, "memory_mb");
    SAME_OR_KEPT_STR(next_stage, "next_stage");
    SAME_OR_KEPT_STR(cmdline, "cmdline");
    SAME_OR_KEPT(on_fault, "on_fault");
    SAME_OR_KEPT(debug_crash, "debug_crash");
    SAME_OR_KEPT(print_stats, "print_stats");
    SAME_OR_KEPT(hypervisor, "hypervisor");
}

static void parse_defaults(struct hv_config *c, unsigned *count, const uint8_t *t, size_t n)
{
    memset(c, 0, sizeof *c);
    config_defaults(c);
    *count = parse(c, t, n);
}

/* The same text with CRLF, a BOM, or a final newline. */
static void check_same_text(const uint8_t *text, size_t n)
{
    struct hv_config base, other;
    unsigned nb, no;
    parse_defaults(&base, &nb, text, n);
    uint8_t *buf = malloc(2 * n + 4);
    size_t m = 0;

    if (!memchr(text, '\r', n)) {
        for (size_t i = 0; i < n; i++) {
            if (text[i] == '\n')
                buf[m++] = '\r';
            buf[m++] = text[i];
        }
        parse_defaults(&other, &no, buf, m);
        FUZZ_CHECK(no == nb && !memcmp(&other, &base, sizeof base), "CRLF parses as LF");
    }
    if (!(n >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF)) {
        memcpy(buf, "\xEF\xBB\xBF", 3);
        memcpy(buf + 3, text, n);
        parse_defaults(&other, &no, buf, n + 3);
        FUZZ_CHECK(no == nb && !memcmp(&other, &base, sizeof base), "a leading BOM changes nothing");
    }
    if (n && text[n - 1] != '\n') {
        memcpy(buf, text, n);
        buf[n] = '\n';
        parse_defaults(&other, &no, buf, n + 1);
        FUZZ_CHECK(no == nb && !memcmp(&other, &base, sizeof base),
                   "a final newline changes nothing");
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_prior_independent(data, size);
    check_same_text(data, size);
    return 0;
}
