/* ACPI's IVRS table (AMD IOMMU spec 5.2): where the IOMMUs are, and how the
 * loader hides the table from L1 once the hypervisor owns them.
 *
 * Pure C on stdint (no UEFI types), so a host unit test feeds it made-up
 * and malformed tables; boot/acpi.c finds the table and calls these. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "hv/core/boot_info.h"

/* The IOMMUs the IVHD blocks of the len-byte table describe, one per MMIO
 * base (firmware lists an IOMMU once per IVHD type it supports), at most
 * max of them in out[]. Returns how many were found, or -1 when the table
 * is malformed (a block running past the end, a bad length): then nothing
 * in out[] may be trusted. */
int ivrs_parse(const uint8_t *ivrs, size_t len, struct hv_iommu_boot *out, int max);

/* Removes every entry equal to table_pa from an RSDT (entry_size 4) or
 * XSDT (8) of sdt_len bytes, in place, and fixes its length and checksum.
 * Returns how many entries were removed. */
int acpi_sdt_remove(uint8_t *sdt, size_t entry_size, uint64_t table_pa);

/* The byte that makes the first len bytes of an ACPI table sum to 0 when
 * stored at offset 9 (ACPI 5.2.6). */
uint8_t acpi_checksum_fix(const uint8_t *table, size_t len);
