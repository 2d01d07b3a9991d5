/* The few ELF64 structures the loader (to load the core) and the core (to
 * symbolize backtraces) need. Layout per the System V gABI. */
#pragma once
#include <stdint.h>
#include <stddef.h>

#define ELF_MAGIC 0x464C457FU /* "\x7fELF" little-endian */
#define ET_EXEC 2
#define EM_X86_64 62
#define PT_LOAD 1
#define SHT_SYMTAB 2
#define STT_FUNC 2
#define ELF64_ST_TYPE(i) ((i) & 0xF)

struct elf64_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF64 header");

struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF64 program header");

struct elf64_shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t addralign, entsize;
};
_Static_assert(sizeof(struct elf64_shdr) == 64, "ELF64 section header");

struct elf64_sym {
    uint32_t name;
    uint8_t info, other;
    uint16_t shndx;
    uint64_t value, size;
};
_Static_assert(sizeof(struct elf64_sym) == 24, "ELF64 symbol");
