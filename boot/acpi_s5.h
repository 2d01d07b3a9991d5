/* The sleeping-state value an OS writes with SLP_EN to power the machine
 * off: SLP_TYPa of the \_S5 package in the DSDT (ACPI 6.x, 7.4.2 "\_Sx
 * System States", 4.8.3.2.1 PM1 control). Pure: unit-tested on the host. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* SLP_TYPa (0-7) from the AML of a DSDT or SSDT body (the bytes after its
 * 36-byte header), or -1 when it names no \_S5 package this scan can read
 * (a method, an integer past a byte, a truncated table). */
int acpi_s5_slp_typ(const uint8_t *aml, size_t len);
