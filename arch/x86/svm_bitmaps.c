/*
 * svm_bitmaps.c - MSRPM / IOPM bit manipulation.  See svm_bitmaps.h.
 * Pure and freestanding: no libc.
 */
#include "arch/x86/svm_bitmaps.h"

/*
 * APM 15.11, Table 15-8: each covered range of 8 Ki MSRs owns a 2 KiB
 * vector; each MSR takes two adjacent bits (lsb = read, msb = write), so
 * MSR n of a range sits at bit 2n of its vector, i.e. byte n / 4, bit
 * (n % 4) * 2.  The vector at 1800h is reserved: no MSR maps there.
 */
#define MSRPM_RANGE_MSRS 0x2000u   /* MSRs per range */
#define MSRPM_RANGE_BYTES 0x800u   /* 8 Ki MSRs * 2 bits / 8 */

static const struct {
    uint32_t first_msr;
    uint32_t byte_offset;
} msrpm_ranges[] = {
    { 0x00000000u, 0x0000u },
    { 0xC0000000u, 0x0800u },
    { 0xC0010000u, 0x1000u },
};

bool msrpm_locate(uint32_t msr, uint32_t *byte, unsigned *read_bit)
{
    for (size_t i = 0; i < sizeof(msrpm_ranges) / sizeof(msrpm_ranges[0]);
         i++) {
        /* Unsigned subtraction: MSRs below first_msr wrap to a huge value
         * and fail the range check, so one compare covers both ends. */
        uint32_t n = msr - msrpm_ranges[i].first_msr;

        if (n < MSRPM_RANGE_MSRS) {
            if (byte)
                *byte = msrpm_ranges[i].byte_offset + n / 4u;
            if (read_bit)
                *read_bit = (n % 4u) * 2u;
            return true;
        }
    }
    return false;
}

static void put_bit(uint8_t *map, uint32_t byte, unsigned bit, bool v)
{
    uint8_t m = (uint8_t)(1u << bit);

    if (v)
        map[byte] = (uint8_t)(map[byte] | m);
    else
        map[byte] = (uint8_t)(map[byte] & (uint8_t)~m);
}

static bool get_bit(const uint8_t *map, uint32_t byte, unsigned bit)
{
    return (map[byte] >> bit) & 1u;
}

void msrpm_set(uint8_t *msrpm, uint32_t msr, bool intercept_read,
               bool intercept_write)
{
    uint32_t byte;
    unsigned bit;

    if (!msrpm_locate(msr, &byte, &bit))
        return;
    put_bit(msrpm, byte, bit, intercept_read);
    put_bit(msrpm, byte, bit + 1u, intercept_write);
}

bool msrpm_intercepts(const uint8_t *msrpm, uint32_t msr, bool write)
{
    uint32_t byte;
    unsigned bit;

    /* APM 15.11: an MSR outside the map always exits under MSR_PROT. */
    if (!msrpm_locate(msr, &byte, &bit))
        return true;
    return get_bit(msrpm, byte, bit + (write ? 1u : 0u));
}

static bool iopm_size_ok(unsigned size)
{
    return size == 1u || size == 2u || size == 4u;
}

/*
 * The IOPM is a linear bit array: port p is bit p.  The loop index is a
 * uint32_t so port + i goes on past FFFFh into bits 10000h..10002h (the
 * start of the third page) instead of wrapping to port 0; the hardware
 * checks those extra bits for accesses that straddle the top of the port
 * space (APM 15.10.1).
 */
void iopm_set(uint8_t *iopm, uint16_t port, unsigned size, bool intercept)
{
    if (!iopm_size_ok(size))
        return;
    for (uint32_t i = 0; i < size; i++) {
        uint32_t b = (uint32_t)port + i;
        put_bit(iopm, b / 8u, b % 8u, intercept);
    }
}

bool iopm_intercepts(const uint8_t *iopm, uint16_t port, unsigned size)
{
    if (!iopm_size_ok(size))
        return true;
    for (uint32_t i = 0; i < size; i++) {
        uint32_t b = (uint32_t)port + i;
        if (get_bit(iopm, b / 8u, b % 8u))
            return true;
    }
    return false;
}
