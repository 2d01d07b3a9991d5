/* The little the hypervisor needs from ACPI: the PM1a control port, where
 * an OS writes SLP_EN to power the machine off (ACPI 6.x, 4.8.3.2.1), and
 * the \_S5 sleep type it writes with it (the shell's `poweroff`), how
 * many CPUs the MADT lists, against the firmware's MP services, and the
 * IOMMUs of the IVRS table. */
#pragma once
#include <efi.h>
#include "hv/core/boot_info.h"

/* 0 when there is no ACPI 2.0+ table or the block is not in I/O space. */
UINT16 acpi_pm1a_cnt_port(void);
/* SLP_TYPa of \_S5 in the DSDT (boot/acpi_s5.c), -1 when unknown. */
INT16 acpi_s5_sleep_type(void);
/* Processors the MADT lists as enabled (x2APIC entries included); -1
 * without a MADT. */
int acpi_count_cpus(void);
/* The IOMMUs IVRS lists (up to max): how many, 0 without IVRS, -1 when
 * the table is malformed or lists more than max. */
int acpi_find_iommus(struct hv_iommu_boot *out, int max);
/* Takes IVRS out of the XSDT and RSDT; returns the entries removed. */
int acpi_hide_ivrs(void);
