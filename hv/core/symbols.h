/* Symbolization of core addresses for crash dumps, from the copy of the core
 * ELF's .symtab/.strtab that the loader places in the hypervisor's region. */
#pragma once
#include <stdint.h>
#include "hv/core/boot_info.h"

void symbols_init(const struct hv_boot_info *info);
/* Name of the function containing addr and the offset into it; NULL if none. */
const char *symbol_lookup(uint64_t addr, uint64_t *offset);
