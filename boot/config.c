/*
 * HV.CFG parser. See config.h for the format.
 *
 * Constraints that shape this file:
 *  - no libc at all (the EFI build is -ffreestanding without a C library),
 *    hence the tiny helpers below instead of strlen/memcpy/strtoul/snprintf;
 *  - no struct assignment or large zero-initialisers, which the compiler
 *    may turn into memcpy/memset calls;
 *  - no tables of pointers, so the object needs no absolute relocations
 *    and works whether or not the image gets relocated at load time.
 * The input is treated as untrusted: every access is bounded by len.
 */
#include "config.h"

#define QUOTE_MAX 40        /* bytes of offending text quoted in a message */
#define UINT32_LIMIT 0xFFFFFFFFull

enum key {
    KEY_SERIAL_PORT,
    KEY_SERIAL_BAUD,
    KEY_LOG_LEVEL,
    KEY_MEMORY_MB,
    KEY_NEXT_STAGE,
    KEY_CMDLINE,
    KEY_ON_FAULT,
    KEY_DEBUG_CRASH,
    KEY_PRINT_STATS,
    KEY_HYPERVISOR,
    KEY_IOMMU,
    KEY_DEBUG_SHELL,
    KEY_CONSOLE_ESCAPE,
    KEY_COUNT,
    KEY_NONE = KEY_COUNT
};

/* Indexed by enum key; arrays of chars rather than pointers (no relocs). */
static const char key_names[KEY_COUNT][16] = {
    "serial_port", "serial_baud", "log_level", "memory_mb", "next_stage",
    "cmdline", "on_fault", "debug_crash", "print_stats", "hypervisor",
    "iommu", "debug_shell", "console_escape",
};

static const uint32_t baud_rates[] = {
    115200, 57600, 38400, 19200, 9600, 4800, 2400, 1200,
};

/* A view into the input text; never NUL-terminated. */
struct slice {
    const char *s;
    size_t n;
};

struct parser {
    struct hv_config *cfg;
    config_diag_fn diag;
    void *ctx;
    unsigned line;
    unsigned count;
    unsigned set_line[KEY_COUNT];   /* line a key was applied on; 0 = not */
};

/* Bounded message builder: appends past the end are silently dropped. */
struct msg {
    char buf[CONFIG_DIAG_MAX];
    size_t len;
};

/* ---- character and slice helpers ---------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static struct slice make_slice(const char *s, size_t n)
{
    struct slice r;

    r.s = s;
    r.n = n;
    return r;
}

static struct slice trim(struct slice v)
{
    while (v.n > 0 && is_blank(v.s[0])) {
        v.s++;
        v.n--;
    }
    while (v.n > 0 && is_blank(v.s[v.n - 1]))
        v.n--;
    return v;
}

/* Exact match of a slice against a NUL-terminated literal. */
static bool slice_eq(struct slice v, const char *lit)
{
    size_t i;

    for (i = 0; i < v.n; i++)
        if (lit[i] == '\0' || lit[i] != v.s[i])
            return false;
    return lit[i] == '\0';
}

/* ASCII case-insensitive match; lit must be lower-case. */
static bool slice_eq_word(struct slice v, const char *lit)
{
    size_t i;

    for (i = 0; i < v.n; i++)
        if (lit[i] == '\0' || lit[i] != lower(v.s[i]))
            return false;
    return lit[i] == '\0';
}

/* Index of the first c in v, or v.n when absent. */
static size_t find_char(struct slice v, char c)
{
    size_t i = 0;

    while (i < v.n && v.s[i] != c)
        i++;
    return i;
}

/*
 * Index of the '#' that starts a comment, or v.n. A '#' at the start or
 * after a blank counts; one glued to other text ("\A#1.EFI") does not,
 * since FAT names may hold '#'.
 */
static size_t find_comment(struct slice v)
{
    size_t i;

    for (i = 0; i < v.n; i++)
        if (v.s[i] == '#' && (i == 0 || is_blank(v.s[i - 1])))
            return i;
    return v.n;
}

static struct slice strip_comment(struct slice v)
{
    return trim(make_slice(v.s, find_comment(v)));
}

/* Copies v into dst (caller checked room for v.n + 1) and NUL-terminates. */
static void copy_slice(char *dst, struct slice v)
{
    size_t i;

    for (i = 0; i < v.n; i++)
        dst[i] = v.s[i];
    dst[i] = '\0';
}

/* ---- message builder ---------------------------------------------- */

static void msg_char(struct msg *m, char c)
{
    if (m->len + 1 < sizeof m->buf) {
        m->buf[m->len++] = c;
        m->buf[m->len] = '\0';
    }
}

static void msg_str(struct msg *m, const char *s)
{
    while (*s)
        msg_char(m, *s++);
}

static void msg_uint(struct msg *m, unsigned long v)
{
    char digits[20];
    size_t n = 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        msg_char(m, digits[--n]);
}

/*
 * Quotes at most QUOTE_MAX bytes of untrusted text. Control and non-ASCII
 * bytes become '?' so that the console never receives raw garbage.
 */
static void msg_quoted(struct msg *m, struct slice v)
{
    size_t i;

    msg_char(m, '\'');
    for (i = 0; i < v.n && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)v.s[i];
        msg_char(m, (c >= 0x20 && c < 0x7F) ? (char)c : '?');
    }
    if (v.n > QUOTE_MAX)
        msg_str(m, "...");
    msg_char(m, '\'');
}

/* Starts a message with the "line N: " prefix the API promises. */
static void msg_begin(struct msg *m, const struct parser *p)
{
    m->len = 0;
    m->buf[0] = '\0';
    msg_str(m, "line ");
    msg_uint(m, p->line);
    msg_str(m, ": ");
}

static void report(struct parser *p, const struct msg *m)
{
    p->count++;
    if (p->diag)
        p->diag(p->ctx, p->line, m->buf);
}

/* Reports "line N: <text>". */
static void report_text(struct parser *p, const char *text)
{
    struct msg m;

    msg_begin(&m, p);
    msg_str(&m, text);
    report(p, &m);
}

/* ---- value parsers ------------------------------------------------ */

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decimal or 0x-hex, no sign, nothing trailing, fits in 32 bits. */
static bool parse_u32(struct slice v, uint32_t *out)
{
    unsigned base = 10;
    uint64_t acc = 0;
    size_t i = 0;

    if (v.n > 2 && v.s[0] == '0' && lower(v.s[1]) == 'x') {
        base = 16;
        i = 2;
    }
    if (i >= v.n)
        return false;
    for (; i < v.n; i++) {
        int d = digit_value(v.s[i]);

        if (d < 0 || (unsigned)d >= base)
            return false;
        acc = acc * base + (unsigned)d;
        if (acc > UINT32_LIMIT)
            return false;
    }
    *out = (uint32_t)acc;
    return true;
}

static bool parse_bool(struct slice v, bool *out)
{
    if (slice_eq_word(v, "yes") || slice_eq_word(v, "1") ||
        slice_eq_word(v, "true") || slice_eq_word(v, "on")) {
        *out = true;
        return true;
    }
    if (slice_eq_word(v, "no") || slice_eq_word(v, "0") ||
        slice_eq_word(v, "false") || slice_eq_word(v, "off")) {
        *out = false;
        return true;
    }
    return false;
}

static bool parse_log_level(struct slice v, enum log_level *out)
{
    enum log_level l;

    for (l = LOG_ERROR; l <= LOG_DEBUG; l++) {
        if (slice_eq_word(v, log_level_name(l))) {
            *out = l;
            return true;
        }
    }
    return false;
}

static bool parse_fault_action(struct slice v, enum fault_action *out)
{
    if (slice_eq_word(v, "halt")) {
        *out = FAULT_HALT;
        return true;
    }
    if (slice_eq_word(v, "reset")) {
        *out = FAULT_RESET;
        return true;
    }
    return false;
}

/* One letter naming Ctrl-<letter> (0x01-0x1A). Ctrl-H, -I, -J, -M are
 * backspace, tab, line feed and carriage return: ordinary typing produces
 * them, so three in a row would switch the console by accident. */
static bool parse_escape(struct slice v, char *out)
{
    char c;

    if (v.n != 1)
        return false;
    c = lower(v.s[0]);
    if (c < 'a' || c > 'z' || c == 'h' || c == 'i' || c == 'j' || c == 'm')
        return false;
    *out = c;
    return true;
}

static bool is_baud_rate(uint32_t n)
{
    size_t i;

    for (i = 0; i < sizeof baud_rates / sizeof baud_rates[0]; i++)
        if (baud_rates[i] == n)
            return true;
    return false;
}

/* ---- applying keys ------------------------------------------------ */

/* What a key accepts, for "bad value" messages. */
static const char *expected_text(enum key k)
{
    switch (k) {
    case KEY_SERIAL_PORT:
        return "1..0xFFF8, decimal or 0x-hex";
    case KEY_SERIAL_BAUD:
        return "115200, 57600, 38400, 19200, 9600, 4800, 2400 or 1200";
    case KEY_LOG_LEVEL:
        return "error, warn, info or debug";
    case KEY_MEMORY_MB:
        return "8..1024";
    case KEY_NEXT_STAGE:
        return "a file path starting with \\ or /, or none";
    case KEY_ON_FAULT:
        return "halt or reset";
    case KEY_DEBUG_CRASH:
    case KEY_PRINT_STATS:
    case KEY_HYPERVISOR:
    case KEY_IOMMU:
    case KEY_DEBUG_SHELL:
        return "yes/no, 1/0, true/false or on/off";
    case KEY_CONSOLE_ESCAPE:
        return "one letter a-z other than h, i, j, m, meaning Ctrl-<letter>";
    default:
        return "?";
    }
}

static bool bad_value(struct parser *p, enum key k, struct slice v)
{
    struct msg m;

    msg_begin(&m, p);
    msg_str(&m, "bad value ");
    msg_quoted(&m, v);
    msg_str(&m, " for ");
    msg_str(&m, key_names[k]);
    msg_str(&m, " (expected ");
    msg_str(&m, expected_text(k));
    msg_char(&m, ')');
    report(p, &m);
    return false;
}

/* Converts '/' to '\' in place (dst is our own copy, not the input). */
static void to_backslashes(char *s)
{
    for (; *s; s++)
        if (*s == '/')
            *s = '\\';
}

static bool set_next_stage(struct parser *p, struct slice v)
{
    char *dst = p->cfg->next_stage;
    char last = v.s[v.n - 1];

    if (slice_eq_word(v, "none")) {
        dst[0] = '\0';
        return true;
    }
    /* A directory (trailing slash) or relative path cannot be loaded. */
    if ((v.s[0] != '\\' && v.s[0] != '/') || last == '\\' || last == '/')
        return bad_value(p, KEY_NEXT_STAGE, v);
    if (v.n >= CONFIG_PATH_MAX) {
        report_text(p, "next_stage path longer than 127 characters");
        return false;
    }
    copy_slice(dst, v);
    to_backslashes(dst);
    return true;
}

static bool set_cmdline(struct parser *p, struct slice v)
{
    /* Unreachable while CONFIG_LINE_MAX < CONFIG_CMDLINE_MAX; kept so a
       larger line limit can never overflow the buffer. */
    if (v.n >= CONFIG_CMDLINE_MAX) {
        report_text(p, "cmdline longer than 511 characters");
        return false;
    }
    copy_slice(p->cfg->cmdline, v);
    return true;
}

static bool set_number(struct parser *p, enum key k, struct slice v)
{
    struct hv_config *c = p->cfg;
    uint32_t n;

    if (!parse_u32(v, &n))
        return bad_value(p, k, v);
    if (k == KEY_SERIAL_PORT) {
        if (n < CONFIG_SERIAL_PORT_MIN || n > CONFIG_SERIAL_PORT_MAX)
            return bad_value(p, k, v);
        c->serial_port = (uint16_t)n;
    } else if (k == KEY_SERIAL_BAUD) {
        if (!is_baud_rate(n))
            return bad_value(p, k, v);
        c->serial_baud = n;
    } else {
        if (n < CONFIG_MEMORY_MB_MIN || n > CONFIG_MEMORY_MB_MAX)
            return bad_value(p, k, v);
        c->memory_mb = n;
    }
    return true;
}

/* Applies a non-empty value; reports and returns false when it is bad. */
static bool apply(struct parser *p, enum key k, struct slice v)
{
    struct hv_config *c = p->cfg;
    bool ok;

    switch (k) {
    case KEY_SERIAL_PORT:
    case KEY_SERIAL_BAUD:
    case KEY_MEMORY_MB:
        return set_number(p, k, v);
    case KEY_NEXT_STAGE:
        return set_next_stage(p, v);
    case KEY_CMDLINE:
        return set_cmdline(p, v);
    case KEY_LOG_LEVEL:
        ok = parse_log_level(v, &c->log_level);
        break;
    case KEY_ON_FAULT:
        ok = parse_fault_action(v, &c->on_fault);
        break;
    case KEY_DEBUG_CRASH:
        ok = parse_bool(v, &c->debug_crash);
        break;
    case KEY_PRINT_STATS:
        ok = parse_bool(v, &c->print_stats);
        break;
    case KEY_HYPERVISOR:
        ok = parse_bool(v, &c->hypervisor);
        break;
    case KEY_IOMMU:
        ok = parse_bool(v, &c->iommu);
        break;
    case KEY_DEBUG_SHELL:
        ok = parse_bool(v, &c->debug_shell);
        break;
    case KEY_CONSOLE_ESCAPE:
        ok = parse_escape(v, &c->console_escape);
        break;
    default:
        ok = false;
        break;
    }
    return ok ? true : bad_value(p, k, v);
}

/* ---- lines -------------------------------------------------------- */

static enum key lookup_key(struct slice k)
{
    unsigned i;

    for (i = 0; i < KEY_COUNT; i++)
        if (slice_eq(k, key_names[i]))
            return (enum key)i;
    return KEY_NONE;
}

static void report_quoted(struct parser *p, const char *before,
                          struct slice v, const char *after)
{
    struct msg m;

    msg_begin(&m, p);
    msg_str(&m, before);
    msg_quoted(&m, v);
    msg_str(&m, after);
    report(p, &m);
}

/* Only a value that was actually applied "wins", so warn only then. */
static void note_applied(struct parser *p, enum key k)
{
    struct msg m;

    if (p->set_line[k] != 0) {
        msg_begin(&m, p);
        msg_str(&m, "duplicate key '");
        msg_str(&m, key_names[k]);
        msg_str(&m, "' (also on line ");
        msg_uint(&m, p->set_line[k]);
        msg_str(&m, "), this value wins");
        report(p, &m);
    }
    p->set_line[k] = p->line;
}

/* Parses one line that is known to be short enough and free of NULs. */
static void parse_line(struct parser *p, struct slice line)
{
    struct slice key, value;
    size_t eq;
    enum key k;

    line = trim(line);
    eq = find_char(line, '=');
    /* A comment before any '=' ("key # note = x") hides the '='; after
       the '=' it belongs to the value (and cmdline keeps it). */
    if (find_comment(line) < eq) {
        line = strip_comment(line);
        eq = line.n;
    }
    if (line.n == 0)
        return;
    if (eq == line.n) {
        report_quoted(p, "missing '=' in ", line, " (expected key = value)");
        return;
    }
    key = trim(make_slice(line.s, eq));
    if (key.n == 0) {
        report_text(p, "empty key before '='");
        return;
    }
    k = lookup_key(key);
    if (k == KEY_NONE) {
        report_quoted(p, "unknown key ", key, "");
        return;
    }
    value = trim(make_slice(line.s + eq + 1, line.n - eq - 1));
    if (k != KEY_CMDLINE) {
        value = strip_comment(value);
        if (value.n == 0) {
            report_quoted(p, "empty value for ", key, "");
            return;
        }
    }
    if (apply(p, k, value))
        note_applied(p, k);
}

static bool has_nul(struct slice v)
{
    return find_char(v, '\0') != v.n;
}

static void check_line(struct parser *p, struct slice line)
{
    if (line.n > CONFIG_LINE_MAX) {
        report_text(p, "line longer than 255 characters, ignored");
        return;
    }
    if (has_nul(line)) {
        report_text(p, "NUL byte in line, ignored");
        return;
    }
    parse_line(p, line);
}

static size_t skip_bom(const char *text, size_t len)
{
    if (len >= 3 && (unsigned char)text[0] == 0xEF &&
        (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF)
        return 3;
    return 0;
}

/* ---- public API --------------------------------------------------- */

void config_defaults(struct hv_config *cfg)
{
    const char *def = CONFIG_DEFAULT_NEXT_STAGE;
    size_t i;

    cfg->serial_port = CONFIG_DEFAULT_SERIAL_PORT;
    cfg->serial_baud = CONFIG_DEFAULT_SERIAL_BAUD;
    cfg->log_level = CONFIG_DEFAULT_LOG_LEVEL;
    cfg->memory_mb = CONFIG_DEFAULT_MEMORY_MB;
    for (i = 0; def[i] != '\0'; i++)
        cfg->next_stage[i] = def[i];
    cfg->next_stage[i] = '\0';
    cfg->cmdline[0] = '\0';
    cfg->on_fault = FAULT_HALT;
    cfg->debug_crash = false;
    cfg->print_stats = false;
    cfg->hypervisor = true;
    cfg->iommu = true;
    cfg->debug_shell = true;
    cfg->console_escape = CONFIG_DEFAULT_CONSOLE_ESCAPE;
}

unsigned config_parse(struct hv_config *cfg, const char *text, size_t len,
                      config_diag_fn diag, void *ctx)
{
    struct parser p;
    size_t pos, start, end;
    unsigned i;

    p.cfg = cfg;
    p.diag = diag;
    p.ctx = ctx;
    p.line = 0;
    p.count = 0;
    for (i = 0; i < KEY_COUNT; i++)
        p.set_line[i] = 0;
    if (text == NULL)
        len = 0;

    pos = skip_bom(text, len);
    while (pos < len) {
        start = pos;
        while (pos < len && text[pos] != '\n')
            pos++;
        end = pos;
        if (pos < len)
            pos++;                      /* consume the '\n' */
        if (end > start && text[end - 1] == '\r')
            end--;                      /* CRLF: CR is not content */
        p.line++;
        check_line(&p, make_slice(text + start, end - start));
    }
    return p.count;
}

/* Char arrays indexed by value, not pointer tables or switches, which a
   compiler may turn into tables that need absolute relocations. */
static const char level_names[][6] = { "error", "warn", "info", "debug" };
static const char fault_names[][6] = { "halt", "reset" };

const char *log_level_name(enum log_level l)
{
    if ((unsigned)l > LOG_DEBUG)
        return "?";
    return level_names[l];
}

const char *fault_action_name(enum fault_action a)
{
    if ((unsigned)a > FAULT_RESET)
        return "?";
    return fault_names[a];
}
