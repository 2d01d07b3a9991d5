/* RDTSC / RDTSCP decoding (hv/decode/rdtscp_decode.h). */
#include "hv/decode/rdtscp_decode.h"
#include "hv/decode/insn_prefix.h"

#define INSN_MAX 15 /* an instruction is at most 15 bytes (APM Vol. 3, 1.1) */

static bool ignored_prefix(uint8_t b)
{
    return insn_size_or_segment_prefix(b) || b == 0xF2 || b == 0xF3; /* REPNE, REP */
}

bool rdtscp_decode(const uint8_t *bytes, unsigned avail, bool long_mode, struct rdtscp_insn *out)
{
    unsigned i = 0;
    if (avail > INSN_MAX)
        avail = INSN_MAX;
    while (i < avail && ignored_prefix(bytes[i]))
        i++;
    /* A REX prefix counts only right before the opcode (APM Vol. 3, 1.2.7). */
    if (long_mode && i < avail && (bytes[i] & 0xF0) == 0x40)
        i++;
    if (i + 2 <= avail && bytes[i] == 0x0F && bytes[i + 1] == 0x31) {
        out->len = (uint8_t)(i + 2);
        out->rdtscp = false;
        return true;
    }
    if (i + 3 <= avail && bytes[i] == 0x0F && bytes[i + 1] == 0x01 && bytes[i + 2] == 0xF9) {
        out->len = (uint8_t)(i + 3);
        out->rdtscp = true;
        return true;
    }
    return false;
}
