#include "boot/acpi.h"
#include <efilib.h>
#include "boot/acpi_s5.h"
#include "boot/ivrs.h"

struct __attribute__((packed)) rsdp {
    char signature[8];
    UINT8 checksum;
    char oem_id[6];
    UINT8 revision;
    UINT32 rsdt;
    UINT32 length;
    UINT64 xsdt;
};

struct __attribute__((packed)) sdt_header {
    char signature[4];
    UINT32 length;
    UINT8 revision, checksum;
    char oem_id[6], oem_table_id[8];
    UINT32 oem_revision, creator_id, creator_revision;
};

/* FADT fields (ACPI 6.x, table 5.9): PM1a_CNT_BLK at 64, X_PM1a_CNT_BLK (a
 * Generic Address Structure) at 172. */
#define FADT_DSDT 40
#define FADT_X_DSDT 140
#define FADT_PM1A_CNT_BLK 64
#define FADT_X_PM1A_CNT_BLK 172
#define GAS_SYSTEM_IO 1

static const struct sdt_header *find_table(const struct rsdp *rsdp, const char *sig)
{
    if (rsdp->revision < 2 || !rsdp->xsdt)
        return NULL;
    const struct sdt_header *xsdt = (const void *)(UINTN)rsdp->xsdt;
    UINTN n = (xsdt->length - sizeof *xsdt) / 8;
    const UINT8 *entries = (const UINT8 *)(xsdt + 1);
    for (UINTN i = 0; i < n; i++) {
        UINT64 pa;
        CopyMem(&pa, (void *)(entries + 8 * i), 8); /* entries are unaligned */
        const struct sdt_header *h = (const void *)(UINTN)pa;
        if (h && CompareMem((void *)h->signature, (void *)sig, 4) == 0)
            return h;
    }
    return NULL;
}

static const struct rsdp *rsdp20(void)
{
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID;
    void *table = NULL;
    if (EFI_ERROR(LibGetSystemConfigurationTable(&acpi20, &table)))
        return NULL;
    return table;
}

UINT16 acpi_pm1a_cnt_port(void)
{
    const struct rsdp *rsdp = rsdp20();
    if (!rsdp)
        return 0;
    const struct sdt_header *fadt = find_table(rsdp, "FACP");
    if (!fadt)
        return 0;
    const UINT8 *f = (const UINT8 *)fadt;
    if (fadt->length >= FADT_X_PM1A_CNT_BLK + 12 && f[FADT_X_PM1A_CNT_BLK] == GAS_SYSTEM_IO) {
        UINT64 addr;
        CopyMem(&addr, (void *)(f + FADT_X_PM1A_CNT_BLK + 4), 8);
        if (addr && addr <= 0xFFFF)
            return (UINT16)addr;
    }
    UINT32 blk;
    CopyMem(&blk, (void *)(f + FADT_PM1A_CNT_BLK), 4);
    return blk <= 0xFFFF ? (UINT16)blk : 0;
}

/* The DSDT: FADT's X_DSDT when set, else its 32-bit DSDT. */
static const struct sdt_header *dsdt(void)
{
    const struct rsdp *rsdp = rsdp20();
    const struct sdt_header *fadt = rsdp ? find_table(rsdp, "FACP") : NULL;
    if (!fadt)
        return NULL;
    const UINT8 *f = (const UINT8 *)fadt;
    UINT64 pa = 0;
    if (fadt->length >= FADT_X_DSDT + 8)
        CopyMem(&pa, (void *)(f + FADT_X_DSDT), 8);
    if (!pa && fadt->length >= FADT_DSDT + 4)
        CopyMem(&pa, (void *)(f + FADT_DSDT), 4);
    const struct sdt_header *d = (const void *)(UINTN)pa;
    return d && CompareMem((void *)d->signature, "DSDT", 4) == 0 && d->length > sizeof *d ? d : NULL;
}

INT16 acpi_s5_sleep_type(void)
{
    const struct sdt_header *d = dsdt();
    if (!d)
        return -1;
    return (INT16)acpi_s5_slp_typ((const uint8_t *)(d + 1), d->length - sizeof *d);
}

/* MADT (ACPI 6.x, 5.2.12): after the header, the local APIC address (4)
 * and flags (4), then entries of {type, length}: type 0 Processor Local
 * APIC (flags at 4), type 9 Processor Local x2APIC (flags at 8); bit 0 of
 * the flags: enabled. */
#define MADT_ENTRIES 44
#define MADT_LAPIC 0
#define MADT_X2APIC 9
#define MADT_ENABLED 1u

int acpi_count_cpus(void)
{
    const struct rsdp *rsdp = rsdp20();
    const struct sdt_header *madt = rsdp ? find_table(rsdp, "APIC") : NULL;
    if (!madt)
        return -1;
    const UINT8 *p = (const UINT8 *)madt + MADT_ENTRIES, *end = (const UINT8 *)madt + madt->length;
    int n = 0;
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        UINT32 flags = 0;
        if (p[0] == MADT_LAPIC && p[1] >= 8)
            CopyMem(&flags, (void *)(p + 4), 4);
        else if (p[0] == MADT_X2APIC && p[1] >= 12)
            CopyMem(&flags, (void *)(p + 8), 4);
        if (flags & MADT_ENABLED) /* online-capable ones come later, see README */
            n++;
        p += p[1];
    }
    return n;
}

/* IVRS (AMD IOMMU spec 5.2): the IOMMUs, parsed by boot/ivrs.c. */
int acpi_find_iommus(struct hv_iommu_boot *out, int max)
{
    const struct rsdp *rsdp = rsdp20();
    const struct sdt_header *ivrs = rsdp ? find_table(rsdp, "IVRS") : NULL;
    if (!ivrs)
        return 0;
    return ivrs_parse((const uint8_t *)ivrs, ivrs->length, out, max);
}

/* Once the hypervisor owns the IOMMUs, L1 must not find them: IVRS goes
 * out of the XSDT and the RSDT (the table itself stays where it is). An OS
 * then runs as on a machine without an IOMMU (docs/design.md, "DMA
 * protection"). */
int acpi_hide_ivrs(void)
{
    const struct rsdp *rsdp = rsdp20();
    const struct sdt_header *ivrs = rsdp ? find_table(rsdp, "IVRS") : NULL;
    if (!ivrs)
        return 0;
    UINT64 pa = (UINT64)(UINTN)ivrs;
    int removed = acpi_sdt_remove((UINT8 *)(UINTN)rsdp->xsdt, 8, pa);
    if (rsdp->rsdt)
        removed += acpi_sdt_remove((UINT8 *)(UINTN)rsdp->rsdt, 4, pa);
    return removed;
}
