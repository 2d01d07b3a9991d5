; The core ELF, embedded in the loader so that BOOTX64.EFI is one file.
section .rodata
global core_elf_start, core_elf_end
align 16
core_elf_start:
    incbin CORE_ELF
core_elf_end:
