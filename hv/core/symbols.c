#include "hv/core/symbols.h"
#include "lib/elf64.h"

static const struct elf64_sym *syms;
static uint64_t nsyms;
static const char *strtab;
static uint64_t strtab_size;

void symbols_init(const struct hv_boot_info *info)
{
    syms = (const struct elf64_sym *)info->symtab_va;
    nsyms = info->symtab_size / sizeof(struct elf64_sym);
    strtab = (const char *)info->strtab_va;
    strtab_size = info->strtab_size;
}

/* A linear scan: only crash dumps call this. */
const char *symbol_lookup(uint64_t addr, uint64_t *offset)
{
    const struct elf64_sym *best = 0;
    for (uint64_t i = 0; i < nsyms; i++) {
        const struct elf64_sym *s = &syms[i];
        if (ELF64_ST_TYPE(s->info) != STT_FUNC || s->name >= strtab_size)
            continue;
        if (addr >= s->value && addr < s->value + (s->size ? s->size : 1) &&
            (!best || s->value > best->value))
            best = s;
    }
    if (!best)
        return 0;
    *offset = addr - best->value;
    return strtab + best->name;
}
