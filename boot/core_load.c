#include "boot/core_load.h"
#include "boot/console.h"
#include "lib/elf64.h"

#define ALIGN_2M (2ULL << 20)
#define EFI_PAGES(bytes) ((bytes) / EFI_PAGE_SIZE)

/* AllocatePages cannot align: take 2 MiB more, keep the aligned middle and
 * give the head and tail back. */
EFI_STATUS region_reserve(UINT64 size, UINT64 *pa)
{
    EFI_PHYSICAL_ADDRESS base = 0;
    UINT64 total = size + ALIGN_2M;
    EFI_STATUS st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages,
                                      EfiReservedMemoryType, EFI_PAGES(total), &base);
    if (EFI_ERROR(st))
        return st;
    UINT64 aligned = (base + ALIGN_2M - 1) & ~(ALIGN_2M - 1);
    if (aligned > base)
        uefi_call_wrapper(BS->FreePages, 2, base, EFI_PAGES(aligned - base));
    UINT64 tail = base + total - (aligned + size);
    if (tail)
        uefi_call_wrapper(BS->FreePages, 2, aligned + size, EFI_PAGES(tail));
    *pa = aligned;
    return EFI_SUCCESS;
}

static BOOLEAN elf_header_ok(const struct elf64_ehdr *eh, UINTN size)
{
    return size >= sizeof *eh && *(const UINT32 *)eh->ident == ELF_MAGIC &&
           eh->ident[4] == 2 /* ELFCLASS64 */ && eh->type == ET_EXEC &&
           eh->machine == EM_X86_64 && eh->phentsize == sizeof(struct elf64_phdr) &&
           eh->phoff + (UINT64)eh->phnum * sizeof(struct elf64_phdr) <= size;
}

static EFI_STATUS load_segments(const UINT8 *elf, UINTN size, UINT64 region_pa,
                                UINT64 region_size, UINT64 *image_end)
{
    const struct elf64_ehdr *eh = (const void *)elf;
    const struct elf64_phdr *ph = (const void *)(elf + eh->phoff);
    *image_end = 0;
    for (UINT16 i = 0; i < eh->phnum; i++) {
        if (ph[i].type != PT_LOAD)
            continue;
        UINT64 off = ph[i].vaddr - HV_VBASE;
        if (ph[i].vaddr < HV_VBASE || ph[i].filesz > ph[i].memsz ||
            off + ph[i].memsz > region_size || ph[i].offset + ph[i].filesz > size)
            return EFI_LOAD_ERROR;
        UINT8 *dst = (UINT8 *)(UINTN)(region_pa + off);
        CopyMem(dst, (void *)(elf + ph[i].offset), ph[i].filesz);
        ZeroMem(dst + ph[i].filesz, ph[i].memsz - ph[i].filesz);
        if (off + ph[i].memsz > *image_end)
            *image_end = off + ph[i].memsz;
    }
    *image_end = (*image_end + EFI_PAGE_SIZE - 1) & ~(UINT64)(EFI_PAGE_SIZE - 1);
    return *image_end ? EFI_SUCCESS : EFI_LOAD_ERROR;
}

/* The symbol table stays optional: a stripped core still runs, its crash
 * dumps just show bare addresses. */
static void find_symbols(const UINT8 *elf, UINTN size, struct core_image *out)
{
    const struct elf64_ehdr *eh = (const void *)elf;
    out->symtab = NULL;
    if (eh->shentsize != sizeof(struct elf64_shdr) ||
        eh->shoff + (UINT64)eh->shnum * sizeof(struct elf64_shdr) > size)
        return;
    const struct elf64_shdr *sh = (const void *)(elf + eh->shoff);
    for (UINT16 i = 0; i < eh->shnum; i++) {
        if (sh[i].type != SHT_SYMTAB || sh[i].link >= eh->shnum)
            continue;
        const struct elf64_shdr *st = &sh[sh[i].link];
        if (sh[i].offset + sh[i].size > size || st->offset + st->size > size)
            return;
        out->symtab = (const void *)(elf + sh[i].offset);
        out->symtab_size = sh[i].size;
        out->strtab = (const char *)(elf + st->offset);
        out->strtab_size = st->size;
        return;
    }
}

EFI_STATUS core_load(const void *elf, UINTN elf_size, UINT64 region_pa,
                     UINT64 region_size, struct core_image *out)
{
    const struct elf64_ehdr *eh = elf;
    if (!elf_header_ok(eh, elf_size))
        return EFI_LOAD_ERROR;
    EFI_STATUS st = load_segments(elf, elf_size, region_pa, region_size, &out->image_size);
    if (EFI_ERROR(st))
        return st;
    const struct hv_core_header *hdr = (const void *)(UINTN)region_pa;
    if (hdr->magic != HV_CORE_MAGIC)
        return EFI_INCOMPATIBLE_VERSION;
    out->entry = eh->entry;
    out->exception_stubs = hdr->exception_stubs;
    find_symbols(elf, elf_size, out);
    return EFI_SUCCESS;
}
