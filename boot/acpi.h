/* The little the hypervisor needs from ACPI: the PM1a control port, where
 * an OS writes SLP_EN to power the machine off (ACPI 6.x, 4.8.3.2.1), and
 * how many CPUs the MADT lists, against the firmware's MP services. */
#pragma once
#include <efi.h>

/* 0 when there is no ACPI 2.0+ table or the block is not in I/O space. */
UINT16 acpi_pm1a_cnt_port(void);
/* Processors the MADT lists as enabled (x2APIC entries included); -1
 * without a MADT. */
int acpi_count_cpus(void);
