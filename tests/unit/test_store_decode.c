/* hv/decode/store_decode.c against a reference decoder: binutils' objdump, which
 * the build needs anyway. Every store form a compiler emits for an MMIO
 * write (MOV 88/89/C6/C7/A2/A3, XCHG 86/87) with every ModRM byte, a spread of
 * SIB bytes, the prefixes (66, 67, segment, LOCK, REX), in 64-bit and
 * 32-bit code, plus every other opcode byte once: the decoder must agree
 * with objdump on whether it is a store to memory, its length, the operand
 * size and the value's source (register or immediate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv/decode/store_decode.h"

#define SLOT 32           /* one candidate per slot; NOPs after it resync objdump */
#define MAX_CANDIDATES 120000

struct candidate {
    uint8_t bytes[STORE_INSN_MAX];
};
static struct candidate *cands;
static unsigned ncands;

static void add(const uint8_t *pre, unsigned npre, uint8_t op, int modrm, int sib)
{
    if (ncands >= MAX_CANDIDATES)
        fail_msg("too many candidates");
    struct candidate *c = &cands[ncands++];
    unsigned n = 0;
    if (npre)
        memcpy(c->bytes, pre, npre);
    n = npre;
    c->bytes[n++] = op;
    if (modrm >= 0)
        c->bytes[n++] = (uint8_t)modrm;
    if (sib >= 0)
        c->bytes[n++] = (uint8_t)sib;
    for (uint8_t f = 0x81; n < STORE_INSN_MAX; f++) /* displacement, immediate */
        c->bytes[n++] = f;
}

static void generate(bool long_mode)
{
    static const uint8_t prefix_sets[][2] = { {0}, {0x66}, {0x67}, {0x65}, {0xF0}, {0x3E, 0x66} };
    static const unsigned prefix_lens[] = { 0, 1, 1, 1, 1, 2 };
    static const int rexes[] = { -1, 0x40, 0x41, 0x44, 0x48, 0x4C, 0x4D, 0x42 };
    static const uint8_t ops[] = { 0x88, 0x89, 0x86, 0x87, 0xC6, 0xC7, 0xA2, 0xA3 };
    static const int sibs[] = { 0x24, 0x25, 0x00, 0x8D, 0xE5, 0x61 };
    ncands = 0;
    for (unsigned p = 0; p < sizeof prefix_lens / sizeof *prefix_lens; p++) {
        for (unsigned r = 0; r < sizeof rexes / sizeof *rexes; r++) {
            if (!long_mode && rexes[r] >= 0)
                continue; /* 40-4F are INC/DEC in 32-bit code */
            uint8_t pre[3];
            unsigned npre = prefix_lens[p];
            memcpy(pre, prefix_sets[p], npre);
            if (rexes[r] >= 0)
                pre[npre++] = (uint8_t)rexes[r];
            for (unsigned o = 0; o < sizeof ops; o++) {
                if (ops[o] == 0xA2 || ops[o] == 0xA3) { /* no ModRM */
                    add(pre, npre, ops[o], -1, -1);
                    continue;
                }
                for (int modrm = 0; modrm < 256; modrm++) {
                    bool has_sib = (modrm >> 6) != 3 && (modrm & 7) == 4;
                    if (!has_sib) {
                        add(pre, npre, ops[o], modrm, -1);
                        continue;
                    }
                    for (unsigned s = 0; s < sizeof sibs / sizeof *sibs; s++)
                        add(pre, npre, ops[o], modrm, sibs[s]);
                }
            }
        }
    }
    for (int op = 0; op < 256; op++) /* everything else: never a store here */
        add(NULL, 0, (uint8_t)op, 0x00, -1);
}

static const char *const reg64[] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
static const char *const reg32[] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
    "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d" };
static const char *const reg16[] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
    "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w" };
static const char *const reg8[] = { "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
    "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b" };
static const char *const reg8h[] = { "al", "cl", "dl", "bl", "ah", "ch", "dh", "bh" };

static const char *reg_name(const struct store_insn *s)
{
    switch (s->size) {
    case 8: return reg64[s->reg];
    case 4: return reg32[s->reg];
    case 2: return reg16[s->reg];
    }
    return s->high_byte ? reg8h[s->reg] : reg8[s->reg];
}

/* What objdump says of one slot: its length, and for a store to memory
 * the source operand ("%reg" or "$imm") and size suffix if any. */
struct reference {
    unsigned len;
    bool store;
    char src[32];
    char mnemonic[16];
};

static bool parse_line(char *line, unsigned *offset, struct reference *r)
{
    char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
    if (!tab1 || !tab2 || sscanf(line, " %x:", offset) != 1)
        return false;
    r->len = 0;
    for (char *p = tab1 + 1; p < tab2; p++)
        if (p[0] != ' ' && p[1] && p[1] != ' ' && (p == tab1 + 1 || p[-1] == ' '))
            r->len++;
    char text[160];
    snprintf(text, sizeof text, "%s", tab2 + 1);
    text[strcspn(text, "\n")] = 0;
    char *t = text;
    bool lock = strstr(text, "lock ") != NULL;
    /* Prefixes objdump spells out as words before the mnemonic. */
    static const char *const words[] = { "lock", "data16", "data32", "addr16", "addr32",
                                         "ds", "cs", "es", "ss", "fs", "gs" };
    for (bool more = true; more;) {
        while (*t == ' ')
            t++;
        more = false;
        size_t w = strcspn(t, " ");
        for (unsigned i = 0; i < sizeof words / sizeof *words; i++)
            if (w == strlen(words[i]) && strncmp(t, words[i], w) == 0)
                more = true;
        if (strncmp(t, "rex", 3) == 0 && t[w] == ' ')
            more = true;
        if (more)
            t += w;
    }
    sscanf(t, "%15s", r->mnemonic);
    char *ops = t + strlen(r->mnemonic);
    while (*ops == ' ')
        ops++;
    char *comma = strchr(ops, ',');
    /* LOCK MOV decodes, but the CPU raises #UD before any access (APM
     * Vol. 3, 1.2.5): no store ever faults with it. */
    bool is_mov = strncmp(r->mnemonic, "mov", 3) == 0 && !lock &&
                  (strlen(r->mnemonic) <= 4 || strcmp(r->mnemonic, "movabs") == 0);
    bool is_xchg = strncmp(r->mnemonic, "xchg", 4) == 0;
    r->store = false;
    r->src[0] = 0;
    if (!comma || !(is_mov || is_xchg))
        return true;
    *comma = 0;
    char *first = ops, *second = comma + 1;
    second[strcspn(second, " #")] = 0;
    bool mem2 = strchr(second, '(') || strchr(second, ':') ||
                (second[0] != '%' && second[0] != '$');
    bool mem1 = strchr(first, '(') != NULL;
    static const char *const sregs[] = { "%es", "%cs", "%ss", "%ds", "%fs", "%gs" };
    for (unsigned i = 0; i < 6; i++)
        if (strcmp(first, sregs[i]) == 0)
            return true; /* MOV from a segment register (8C): not decoded */
    if (is_mov && mem2 && (first[0] == '%' || first[0] == '$')) {
        r->store = true;
        snprintf(r->src, sizeof r->src, "%s", first);
    } else if (is_xchg && (mem1 || mem2)) {
        r->store = true;
        snprintf(r->src, sizeof r->src, "%s", mem2 ? first : second);
    }
    return true;
}

static unsigned size_of_suffix(const char *mnemonic)
{
    switch (mnemonic[strlen(mnemonic) - 1]) {
    case 'b': return 1;
    case 'w': return 2;
    case 'l': return 4;
    case 'q': return 8;
    }
    return 0;
}

static void compare(bool long_mode)
{
    generate(long_mode);
    char path[] = "/tmp/store_decode_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t slot[SLOT];
    for (unsigned i = 0; i < ncands; i++) {
        memset(slot, 0x90, sizeof slot);
        memcpy(slot, cands[i].bytes, STORE_INSN_MAX);
        assert_int_equal(write(fd, slot, sizeof slot), sizeof slot);
    }
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "objdump -D -b binary -m %s --insn-width=16 %s",
             long_mode ? "i386:x86-64" : "i386", path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[512];
    unsigned checked = 0, stores = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned off;
        struct reference r;
        if (!parse_line(line, &off, &r) || off % SLOT)
            continue;
        const struct candidate *c = &cands[off / SLOT];
        struct store_insn s;
        bool ok = store_decode(c->bytes, STORE_INSN_MAX, long_mode, &s);
        checked++;
        if (!r.store) {
            if (ok)
                fail_msg("slot %u (%s): decoded a store where objdump sees %s", off / SLOT,
                         long_mode ? "64" : "32", line);
            continue;
        }
        stores++;
        if (!ok)
            fail_msg("not decoded: %s", line);
        if (s.len != r.len)
            fail_msg("length %u, objdump %u: %s", s.len, r.len, line);
        if (s.is_imm) {
            if (r.src[0] != '$')
                fail_msg("immediate expected: %s", line);
            uint64_t mask = s.size == 8 ? ~0ULL : (1ULL << (8 * s.size)) - 1;
            unsigned long long ref = strtoull(r.src + 1, NULL, 16);
            if ((s.imm & mask) != (ref & mask))
                fail_msg("imm %#llx, objdump %s: %s", (unsigned long long)s.imm, r.src, line);
            unsigned sz = size_of_suffix(r.mnemonic);
            if (sz && sz != s.size)
                fail_msg("size %u: %s", s.size, line);
        } else if (r.src[0] != '%' || strcmp(r.src + 1, reg_name(&s)) != 0) {
            fail_msg("source %s (size %u), objdump %s: %s", reg_name(&s), s.size, r.src, line);
        }
    }
    pclose(f);
    unlink(path);
    assert_int_equal(checked, ncands); /* objdump saw every slot */
    printf("%s-bit code: %u encodings, %u stores, all as objdump decodes them\n",
           long_mode ? "64" : "32", checked, stores);
    assert_true(stores > (long_mode ? 50000u : 5000u));
}

static void test_64bit_code(void **state)
{
    (void)state;
    compare(true);
}

static void test_32bit_code(void **state)
{
    (void)state;
    compare(false);
}

/* The forms that matter most, spelled out: OVMF's and Linux's APIC writes. */
static void test_known_apic_writes(void **state)
{
    (void)state;
    struct store_insn s;
    const uint8_t linux_eoi[] = { 0x89, 0x14, 0x25, 0xB0, 0xC0, 0x5F, 0xFF }; /* mov %edx,0xff5fc0b0 */
    assert_true(store_decode(linux_eoi, sizeof linux_eoi, true, &s));
    assert_int_equal(s.len, 7);
    assert_int_equal(s.size, 4);
    assert_int_equal(s.reg, 2);
    const uint8_t ovmf[] = { 0x89, 0x10 }; /* mov %edx,(%rax) */
    assert_true(store_decode(ovmf, sizeof ovmf, true, &s));
    assert_int_equal(s.len, 2);
    const uint8_t truncated[] = { 0xC7, 0x00, 0x01 }; /* imm cut off */
    assert_false(store_decode(truncated, sizeof truncated, true, &s));
    const uint8_t movs[] = { 0xA5 }; /* movsd: a store, not one decoded */
    assert_false(store_decode(movs, sizeof movs, true, &s));
}

int main(void)
{
    cands = calloc(MAX_CANDIDATES, sizeof *cands);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_64bit_code),
        cmocka_unit_test(test_32bit_code),
        cmocka_unit_test(test_known_apic_writes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(cands);
    return rc;
}
