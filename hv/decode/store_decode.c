#include "hv/decode/store_decode.h"
#include "hv/decode/insn_prefix.h"

#define REX_W 8
#define REX_R 4

static bool is_legacy_prefix(uint8_t b)
{
    return insn_size_or_segment_prefix(b) || b == 0xF0; /* LOCK (XCHG implies it anyway) */
}

/* Bytes after the opcode taken by ModRM, SIB and displacement; 0 for a
 * register operand (mod = 11b: no memory, so no store). APM Vol. 3, 1.4. */
static unsigned modrm_bytes(const uint8_t *p, unsigned avail, bool addr16)
{
    if (avail < 1)
        return 0;
    uint8_t modrm = p[0], mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3)
        return 0;
    if (addr16) {
        if (mod == 0)
            return rm == 6 ? 3 : 1;
        return mod == 1 ? 2 : 3;
    }
    unsigned n = 1;
    if (rm == 4) { /* SIB */
        if (avail < 2)
            return 0;
        n++;
        if (mod == 0 && (p[1] & 7) == 5)
            return n + 4;
    } else if (mod == 0 && rm == 5) {
        return n + 4; /* disp32 (RIP-relative in 64-bit mode) */
    }
    return n + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

static uint64_t read_imm(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    unsigned bits = 8 * size;
    if (bits < 64 && (v >> (bits - 1)) & 1)
        v |= ~0ULL << bits;
    return v;
}

bool store_decode(const uint8_t *bytes, unsigned avail, bool long_mode, struct store_insn *out)
{
    unsigned i = 0;
    bool opsize16 = false, addrsize = false;
    uint8_t rex = 0;
    bool lock = false;
    if (avail > STORE_INSN_MAX)
        avail = STORE_INSN_MAX;
    while (i < avail && is_legacy_prefix(bytes[i])) {
        opsize16 |= bytes[i] == 0x66;
        addrsize |= bytes[i] == 0x67;
        lock |= bytes[i] == 0xF0;
        i++;
    }
    if (long_mode && i < avail && (bytes[i] & 0xF0) == 0x40)
        rex = bytes[i++]; /* REX must come right before the opcode */
    if (i >= avail)
        return false;
    uint8_t op = bytes[i++];
    bool byte_op;
    bool imm_form;
    switch (op) {
    case 0x88: case 0x86: byte_op = true; imm_form = false; break;
    case 0x89: case 0x87: byte_op = false; imm_form = false; break;
    case 0xC6: byte_op = true; imm_form = true; break;
    case 0xC7: byte_op = false; imm_form = true; break;
    case 0xA2: case 0xA3: byte_op = op == 0xA2; imm_form = false; break;
    default: return false;
    }
    if (lock && (op & 0xFE) != 0x86)
        return false; /* LOCK MOV is #UD: the CPU never gets to the store */
    if (op == 0xA2 || op == 0xA3) {
        /* MOV moffs, AL/rAX: an absolute address as wide as the address
         * size (8 bytes in 64-bit code), the source always rAX. */
        unsigned moffs = long_mode ? (addrsize ? 4 : 8) : (addrsize ? 2 : 4);
        if (i + moffs > avail)
            return false;
        unsigned size = op == 0xA2 ? 1 : (rex & REX_W) ? 8 : opsize16 ? 2 : 4;
        *out = (struct store_insn){ .len = (uint8_t)(i + moffs), .size = (uint8_t)size, .reg = 0 };
        return true;
    }
    if (i >= avail)
        return false;
    uint8_t modrm = bytes[i];
    if (imm_form && ((modrm >> 3) & 7) != 0)
        return false; /* C6/C7 /0 is MOV; the rest are not stores */
    /* 16-bit addressing only in 32-bit code with 67h (in 64-bit code 67h
     * selects 32-bit addressing, whose ModRM forms are the 64-bit ones). */
    unsigned m = modrm_bytes(bytes + i, avail - i, !long_mode && addrsize);
    if (m == 0)
        return false;
    i += m;
    /* The displacement must be among the bytes given, as the immediate
     * below: an instruction cut short (or longer than the 15 bytes the
     * CPU executes, APM Vol. 3, 1.1: #GP, no store) is not one to vouch
     * for, nor to move RIP past. */
    if (i > avail)
        return false;
    unsigned size = byte_op ? 1 : (rex & REX_W) ? 8 : opsize16 ? 2 : 4;
    *out = (struct store_insn){ .size = (uint8_t)size, .is_imm = imm_form,
                                .exchange = (op & 0xFE) == 0x86 };
    if (imm_form) {
        unsigned isize = size == 8 ? 4 : size;
        if (i + isize > avail)
            return false;
        out->imm = read_imm(bytes + i, isize);
        i += isize;
    } else {
        out->reg = (uint8_t)(((modrm >> 3) & 7) | ((rex & REX_R) ? 8 : 0));
        out->high_byte = byte_op && !rex && out->reg >= 4 && out->reg < 8;
    }
    out->len = (uint8_t)i;
    return true;
}
