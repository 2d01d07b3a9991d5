/* The contract between the UEFI loader (boot/) and the core (hv/).
 *
 * The loader reserves one physically contiguous region (EfiReservedMemoryType,
 * 2 MiB aligned) and lays it out as
 *
 *   region_pa + 0            core image (ELF PT_LOAD segments, .bss zeroed)
 *             + image_size   boot info page, GDT/TSS/IDT page, symbol table,
 *                            per-CPU stacks, page tables
 *             + pool_offset  free pages: newlib heap, then the page allocator
 *
 * and maps all of it at HV_VBASE (the core's link address) in the core's own
 * page tables, next to an identity map of the physical address space. The
 * core is entered on each CPU, the boot CPU first, with a pointer (virtual) to
 * hv_boot_info and that CPU's index, and never calls UEFI. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include "boot/config.h"

#define HV_VBASE 0xFFFFFFFF80000000ULL
#define HV_BOOT_MAGIC 0x4F464E49544F4F42ULL /* "BOOTINFO" */
#define HV_CORE_MAGIC 0x45524F4356485356ULL /* "VSHVCORE" */
#define HV_EXC_VECTORS 32
#define HV_EARLY_LOG_SIZE 4096
#define HV_STACK_SIZE (64 * 1024)
#define HV_IST_STACK_SIZE (16 * 1024)
/* CPUs the hypervisor can run on; a machine with more keeps it off (the
 * loader says so) rather than leave a CPU outside. */
#define HV_MAX_CPUS 64

/* First bytes of the core image (section .hvheader, see linker.ld): what the
 * loader needs to know about the core besides its ELF headers. */
struct hv_core_header {
    uint64_t magic;
    uint64_t exception_stubs; /* VA of uint64_t[HV_EXC_VECTORS] stub addresses */
};

/* What the entry trampoline saved of the loader's CPU state: enough to come
 * back to it as if hv_enter_core() had returned. */
struct hv_loader_state {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rflags;
    uint64_t cr0, cr3, cr4;
    uint64_t fs_base, gs_base;
    uint16_t cs, ds, es, fs, gs, ss;
    uint8_t gdtr[10], idtr[10];
    uint16_t tr, ldtr;
};

/* One CPU as the loader found it and entered the core on it. */
struct hv_cpu_boot {
    struct hv_loader_state loader;   /* filled by the trampoline */
    uint64_t stack_top;              /* the core's stack for this CPU (VA) */
    uint32_t apic_id;                /* from the firmware's MP services */
    uint32_t reserved;
};

/* RAM as the firmware's memory map describes it (merged, sorted): where L1
 * may point the hypervisor at buffers. */
#define HV_MAX_RAM_RANGES 64
struct hv_ram_range {
    uint64_t base, size;
};

/* An AMD IOMMU as ACPI's IVRS describes it (boot/ivrs.c). */
#define HV_MAX_IOMMUS 8
struct hv_iommu_boot {
    uint64_t base;                 /* MMIO registers (physical) */
    uint64_t efr;                  /* EFR image from an IVHD 11h/40h, else 0 */
    uint16_t segment, device_id, cap_offset;
    uint8_t ivhd_type, flags;
};

struct hv_boot_info {
    uint64_t magic;
    uint64_t region_pa, region_size; /* the whole reserved region */
    uint64_t image_size;             /* core image bytes, page rounded */
    uint64_t pool_offset;            /* first free byte of the region */
    uint64_t symtab_va, symtab_size; /* ELF .symtab copy (0 if none) */
    uint64_t strtab_va, strtab_size;
    uint64_t ram_top;                /* end of the highest RAM range */
    uint64_t phys_map_top;           /* identity map covers [0, phys_map_top) */
    uint32_t ncpus;                  /* CPUs the firmware reported, boot CPU first */
    uint16_t acpi_pm1a_cnt;          /* ACPI PM1a control port, 0 if unknown */
    int16_t acpi_s5_slp_typ;         /* SLP_TYPa of the DSDT's \_S5, -1 if unknown */
    uint32_t early_log_len;
    uint32_t nram;
    struct hv_ram_range ram[HV_MAX_RAM_RANGES];
    /* IOMMUs from IVRS (loader -> core); niommu -1: IVRS malformed or with
     * more than HV_MAX_IOMMUS. The core sets iommu_owned once every one of
     * them translates DMA through its tables: the loader then hides IVRS. */
    int32_t niommu;
    uint32_t iommu_owned;
    struct hv_iommu_boot iommu[HV_MAX_IOMMUS];
    struct hv_config config;
    struct hv_cpu_boot cpu[HV_MAX_CPUS];
    char early_log[HV_EARLY_LOG_SIZE]; /* loader's log lines, for the ring */
};

/* Core entry point (e_entry of the core ELF), System V ABI, called on each
 * CPU in turn, the boot CPU (cpu 0) first. Returns 0 to the loader running
 * as L1 on that CPU, non-zero if the hypervisor could not start there. */
typedef int (*hv_core_entry_fn)(struct hv_boot_info *info, uint32_t cpu);

/* boot/enter_core.asm addresses these fields by offset. */
_Static_assert(offsetof(struct hv_loader_state, rsp) == 48, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, rflags) == 56, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, cr0) == 64, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, fs_base) == 88, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, cs) == 104, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, ss) == 114, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, gdtr) == 116, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, idtr) == 126, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, tr) == 136, "trampoline offset");
_Static_assert(offsetof(struct hv_loader_state, ldtr) == 138, "trampoline offset");

/* Arguments of hv_enter_core() (boot/enter_core.asm), all physical addresses
 * except entry, info_va and stack_top, which are the core's virtual ones. */
struct hv_enter_args {
    uint64_t core_cr3;
    uint64_t entry;
    uint64_t info_va;
    uint64_t stack_top;
    uint64_t gdtr;  /* address of a struct desc_ptr */
    uint64_t idtr;  /* address of a struct desc_ptr */
    uint64_t state; /* struct hv_loader_state * */
    uint64_t cpu;   /* index in hv_boot_info.cpu[] */
};
_Static_assert(offsetof(struct hv_enter_args, state) == 48, "trampoline offset");
_Static_assert(offsetof(struct hv_enter_args, cpu) == 56, "trampoline offset");
