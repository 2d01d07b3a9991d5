/* Placing the core: the reserved region and the ELF image in it. */
#pragma once
#include <efi.h>
#include <efilib.h>
#include "hv/core/boot_info.h"

struct core_image {
    UINT64 entry;            /* VA */
    UINT64 exception_stubs;  /* VA of the stub table, from the core header */
    UINT64 image_size;       /* bytes from region start, page rounded */
    const struct elf64_sym *symtab; /* inside the embedded ELF, or NULL */
    UINT64 symtab_size;
    const char *strtab;
    UINT64 strtab_size;
};

/* Reserves size bytes (a multiple of 2 MiB), 2 MiB aligned, as
 * EfiReservedMemoryType so that no OS ever reuses them. */
EFI_STATUS region_reserve(UINT64 size, UINT64 *pa);
/* Checks the embedded core ELF and copies it into the region. */
EFI_STATUS core_load(const void *elf, UINTN elf_size, UINT64 region_pa,
                     UINT64 region_size, struct core_image *out);
