/* MOV from CRn decoding (hv/decode/cr_read_decode.h). */
#include "hv/decode/cr_read_decode.h"
#include "hv/decode/insn_prefix.h"

#define INSN_MAX 15 /* an instruction is at most 15 bytes (APM Vol. 3, 1.1) */

bool cr_read_decode(const uint8_t *bytes, unsigned avail, bool long_mode, struct cr_read_insn *out)
{
    unsigned i = 0;
    bool lock = false;
    uint8_t rex = 0;
    if (avail > INSN_MAX)
        avail = INSN_MAX;
    /* Legacy prefixes: operand/address size and segment overrides change
     * nothing for MOV CRn (the operand is 64-bit in long mode, 32-bit
     * otherwise); LOCK selects CR8 (CR8 from 32-bit code, APM Vol. 3). */
    for (; i < avail; i++) {
        uint8_t b = bytes[i];
        if (b == 0xF0)
            lock = true;
        else if (!insn_size_or_segment_prefix(b))
            break;
    }
    /* A REX prefix counts only right before the opcode (APM Vol. 3, 1.2.7). */
    if (long_mode && i < avail && (bytes[i] & 0xF0) == 0x40)
        rex = bytes[i++];
    if (i + 3 > avail || bytes[i] != 0x0F || bytes[i + 1] != 0x20)
        return false;
    uint8_t modrm = bytes[i + 2];
    /* The mod field is ignored: the operand is always a register. */
    unsigned cr = ((rex & 4u) << 1) | ((modrm >> 3) & 7u);
    if (lock)
        cr |= 8;
    out->len = (uint8_t)(i + 3);
    out->cr = (uint8_t)cr;
    out->gpr = (uint8_t)(((rex & 1u) << 3) | (modrm & 7u));
    return true;
}
