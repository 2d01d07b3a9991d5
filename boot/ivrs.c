#include "boot/ivrs.h"
#include "arch/x86/amd_iommu.h"

#define SDT_HEADER_BYTES 36
#define SDT_LENGTH 4
#define SDT_CHECKSUM 9
#define IVHD_EFR_OFFSET 24 /* types 11h and 40h: the EFR register's image */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static bool is_ivhd(uint8_t type)
{
    return type == IVHD_TYPE_10 || type == IVHD_TYPE_11 || type == IVHD_TYPE_40;
}

/* One IVHD block into *u; false when its header is too short. */
static bool ivhd_read(const uint8_t *b, uint16_t blen, struct hv_iommu_boot *u)
{
    if (blen < sizeof(struct ivhd_header))
        return false;
    u->ivhd_type = b[0];
    u->flags = b[1];
    u->device_id = rd16(b + 4);
    u->cap_offset = rd16(b + 6);
    u->base = rd64(b + 8);
    u->segment = rd16(b + 16);
    u->efr = 0;
    if (b[0] != IVHD_TYPE_10) {
        if (blen < IVHD_EFR_OFFSET + 8)
            return false;
        u->efr = rd64(b + IVHD_EFR_OFFSET);
    }
    return true;
}

/* The IOMMU with this MMIO base already in out[0..n), or -1. */
static int find_base(const struct hv_iommu_boot *out, int n, uint64_t base)
{
    for (int i = 0; i < n; i++)
        if (out[i].base == base)
            return i;
    return -1;
}

int ivrs_parse(const uint8_t *ivrs, size_t len, struct hv_iommu_boot *out, int max)
{
    if (len < IVRS_HEADER_BYTES || rd32(ivrs + SDT_LENGTH) != len)
        return -1;
    int n = 0;
    for (size_t off = IVRS_HEADER_BYTES; off < len;) {
        if (len - off < 4)
            return -1;
        uint16_t blen = rd16(ivrs + off + 2);
        if (blen < 4 || blen > len - off)
            return -1;
        struct hv_iommu_boot u;
        if (is_ivhd(ivrs[off])) {
            if (!ivhd_read(ivrs + off, blen, &u) || !u.base || (u.base & 0x3FFF))
                return -1;
            int i = find_base(out, n, u.base);
            if (i >= 0) {
                if (u.efr) /* the newer block type knows the EFR */
                    out[i].efr = u.efr;
            } else if (n < max) {
                out[n++] = u;
            } else {
                return -1; /* an IOMMU we could not take over: not protected */
            }
        }
        off += blen;
    }
    return n;
}

uint8_t acpi_checksum_fix(const uint8_t *table, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        if (i != SDT_CHECKSUM)
            sum = (uint8_t)(sum + table[i]);
    return (uint8_t)-sum;
}

int acpi_sdt_remove(uint8_t *sdt, size_t entry_size, uint64_t table_pa)
{
    uint32_t len = rd32(sdt + SDT_LENGTH);
    if (len < SDT_HEADER_BYTES)
        return 0;
    size_t n = (len - SDT_HEADER_BYTES) / entry_size, kept = 0;
    uint8_t *e = sdt + SDT_HEADER_BYTES;
    for (size_t i = 0; i < n; i++) {
        uint64_t pa = entry_size == 8 ? rd64(e + 8 * i) : rd32(e + 4 * i);
        if (pa == table_pa)
            continue;
        for (size_t k = 0; k < entry_size; k++)
            e[kept * entry_size + k] = e[i * entry_size + k];
        kept++;
    }
    if (kept == n)
        return 0;
    uint32_t new_len = (uint32_t)(SDT_HEADER_BYTES + kept * entry_size);
    for (size_t k = new_len; k < len; k++)
        sdt[k] = 0;
    wr32(sdt + SDT_LENGTH, new_len);
    sdt[SDT_CHECKSUM] = acpi_checksum_fix(sdt, new_len);
    return (int)(n - kept);
}
