/* \_S5 in AML (ACPI 6.x, 20.2 "AML Grammar Definition"). Firmware writes
 * it as a named package of integers:
 *     NameOp (08) ['\' (5C)] '_S5_' PackageOp (12) PkgLength NumElements
 *     SLP_TYPa SLP_TYPb ...
 * each integer a ZeroOp (00), OneOp (01), or BytePrefix (0A) + byte (some
 * compilers use WordPrefix (0B) or DWordPrefix (0C) for small values). We
 * do not interpret AML: a byte scan for that shape is what every small
 * OS does, and what it cannot read is reported (-1) rather than guessed. */
#include "boot/acpi_s5.h"

#define AML_NAME_OP 0x08
#define AML_ROOT_CHAR 0x5C
#define AML_PACKAGE_OP 0x12
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_BYTE_PREFIX 0x0A
#define AML_WORD_PREFIX 0x0B
#define AML_DWORD_PREFIX 0x0C

/* PkgLength: bits 7-6 of the lead byte = count of following bytes. */
static size_t pkg_length_size(uint8_t lead)
{
    return 1 + (lead >> 6);
}

/* The integer at p (at most end - p bytes), or -1. */
static long aml_integer(const uint8_t *p, const uint8_t *end)
{
    if (p >= end)
        return -1;
    switch (p[0]) {
    case AML_ZERO_OP:
        return 0;
    case AML_ONE_OP:
        return 1;
    case AML_BYTE_PREFIX:
        return p + 1 < end ? p[1] : -1;
    case AML_WORD_PREFIX:
        return p + 2 < end ? (long)(p[1] | p[2] << 8) : -1;
    case AML_DWORD_PREFIX:
        return p + 4 < end ? (long)((uint32_t)p[1] | (uint32_t)p[2] << 8 |
                                    (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24) : -1;
    }
    return -1;
}

int acpi_s5_slp_typ(const uint8_t *aml, size_t len)
{
    const uint8_t *end = aml + len;
    for (const uint8_t *p = aml; p + 4 <= end; p++) {
        if (p[0] != '_' || p[1] != 'S' || p[2] != '5' || p[3] != '_')
            continue;
        /* A NameOp right before, or before a root prefix: a definition,
         * not a reference (\_S5 is never referred to in practice). */
        int named = (p > aml && p[-1] == AML_NAME_OP) ||
                    (p > aml + 1 && p[-1] == AML_ROOT_CHAR && p[-2] == AML_NAME_OP);
        const uint8_t *q = p + 4;
        if (!named || q >= end || q[0] != AML_PACKAGE_OP)
            continue;
        q++;
        if (q >= end || (size_t)(end - q) <= pkg_length_size(q[0]) + 1)
            return -1;
        q += pkg_length_size(q[0]) + 1; /* PkgLength, NumElements */
        long typ = aml_integer(q, end);
        return typ >= 0 && typ <= 7 ? (int)typ : -1;
    }
    return -1;
}
