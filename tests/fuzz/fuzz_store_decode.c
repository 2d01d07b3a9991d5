/* Fuzz target: hv/decode/store_decode.c, which decodes the instruction L1 (or
 * L2) used to write the local APIC page (hv/smp/apic.c performs the store and
 * moves the guest's RIP by the decoded length).
 *
 * Input: one flags byte (bit 0: 64-bit code, else 32-bit code), then the
 * bytes "fetched at RIP"; all of them are handed over as avail, in a
 * buffer of exactly that size, so a read past avail is an ASan report.
 *
 * Invariants on every decoded store (what apic.c relies on):
 *   - it lies in the bytes it was given, and in the 15 bytes an x86
 *     instruction may have (APM Vol. 3, 1.1): the guest's RIP moves by len;
 *   - it is one of the store forms the header names (88/89/86/87/C6/C7 with
 *     a memory ModRM, A2/A3), after legacy prefixes and (64-bit code only)
 *     a REX prefix right before the opcode; LOCK only on XCHG;
 *   - size 1, 2, 4 or 8 (8 only with REX.W in 64-bit code); register
 *     numbers 0-15 (0-7 in 32-bit code); AH..BH only for byte stores
 *     without REX; an immediate is the instruction's last bytes,
 *     sign-extended;
 *   - the decoding depends on the first len bytes only: the same bytes cut
 *     to len decode the same way. */
#include "hv/decode/store_decode.h"
#include "tests/fuzz/fuzz_check.h"

static bool is_prefix(uint8_t b)
{
    switch (b) {
    case 0x66: case 0x67: case 0x2E: case 0x36: case 0x3E: case 0x26: case 0x64: case 0x65:
    case 0xF0:
        return true;
    }
    return false;
}

static uint64_t sign_extend(uint64_t v, unsigned bytes)
{
    unsigned bits = 8 * bytes;
    if (bits >= 64)
        return v;
    v &= (1ULL << bits) - 1;
    return (v >> (bits - 1)) & 1 ? v | (~0ULL << bits) : v;
}

static void check_store(const uint8_t *b, unsigned avail, bool long_mode, const struct store_insn *s)
{
    unsigned limit = avail < STORE_INSN_MAX ? avail : STORE_INSN_MAX;
    FUZZ_CHECK(s->len >= 1 && s->len <= limit,
               "a decoded store lies within the bytes given and 15 bytes");

    /* Prefixes, then REX (64-bit code), then the opcode. */
    unsigned i = 0;
    bool lock = false, rex_w = false, rex = false;
    while (i < s->len && is_prefix(b[i]))
        lock |= b[i++] == 0xF0;
    if (long_mode && i < s->len && (b[i] & 0xF0) == 0x40) {
        rex = true;
        rex_w = (b[i] & 8) != 0;
        i++;
    }
    FUZZ_CHECK(i < s->len, "a decoded store has an opcode");
    uint8_t op = b[i];
    bool moffs = op == 0xA2 || op == 0xA3;
    FUZZ_CHECK(moffs || op == 0x88 || op == 0x89 || op == 0x86 || op == 0x87 || op == 0xC6 ||
                   op == 0xC7,
               "a decoded store is MOV 88/89/C6/C7/A2/A3 or XCHG 86/87");
    FUZZ_CHECK(!lock || op == 0x86 || op == 0x87, "LOCK only on XCHG (LOCK MOV is #UD)");
    FUZZ_CHECK(s->exchange == (op == 0x86 || op == 0x87), "exchange exactly for XCHG");
    if (!moffs) {
        FUZZ_CHECK(i + 1 < s->len, "a ModRM store has its ModRM byte");
        uint8_t modrm = b[i + 1];
        FUZZ_CHECK((modrm >> 6) != 3, "a ModRM store writes memory (mod != 11b)");
        if (op == 0xC6 || op == 0xC7)
            FUZZ_CHECK(((modrm >> 3) & 7) == 0, "C6/C7 is a store only as /0");
    }

    FUZZ_CHECK(s->size == 1 || s->size == 2 || s->size == 4 || s->size == 8,
               "store size is 1, 2, 4 or 8");
    FUZZ_CHECK(s->size != 8 || (long_mode && rex_w), "8-byte stores need REX.W in 64-bit code");
    FUZZ_CHECK((s->size == 1) == (op == 0x88 || op == 0x86 || op == 0xC6 || op == 0xA2),
               "byte opcodes store one byte");
    FUZZ_CHECK(s->reg < (long_mode ? 16 : 8), "register number in range for the mode");
    if (s->high_byte)
        FUZZ_CHECK(s->size == 1 && !s->is_imm && !rex && s->reg >= 4 && s->reg <= 7,
                   "AH..BH only for byte stores without REX");
    if (moffs)
        FUZZ_CHECK(!s->is_imm && s->reg == 0 && !s->high_byte, "A2/A3 store AL/rAX");
    FUZZ_CHECK(s->is_imm == (op == 0xC6 || op == 0xC7), "an immediate exactly for C6/C7");
    if (s->is_imm) {
        unsigned isize = s->size == 8 ? 4 : s->size;
        uint64_t tail = 0;
        for (unsigned k = 0; k < isize; k++)
            tail |= (uint64_t)b[s->len - isize + k] << (8 * k);
        FUZZ_CHECK(s->imm == sign_extend(tail, isize),
                   "the immediate is the instruction's last bytes, sign-extended");
        FUZZ_CHECK(s->reg == 0 && !s->high_byte, "an immediate store names no register");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool long_mode = data[0] & 1;
    const uint8_t *bytes = data + 1;
    unsigned avail = (unsigned)(size - 1);
    struct store_insn s;
    if (!store_decode(bytes, avail, long_mode, &s))
        return 0;
    check_store(bytes, avail, long_mode, &s);

    /* Only the first len bytes count: cut there, the answer is the same.
     * A heap copy of exactly len bytes, so a read past it is reported. */
    uint8_t *cut = malloc(s.len);
    memcpy(cut, bytes, s.len);
    struct store_insn again;
    bool ok = store_decode(cut, s.len, long_mode, &again);
    free(cut);
    FUZZ_CHECK(ok && again.len == s.len && again.size == s.size && again.is_imm == s.is_imm &&
                   again.reg == s.reg && again.high_byte == s.high_byte &&
                   again.exchange == s.exchange && again.imm == s.imm,
               "the decoding depends on the first len bytes only");
    return 0;
}
