/* BOOTX64.EFI: the hypervisor's UEFI loader.
 *
 * Reads the config beside itself, checks the CPU, reserves the hypervisor's
 * memory, places the core there with its own page tables, GDT/TSS/IDT and
 * stacks, and enters it on the boot CPU. Then it starts the next stage. If
 * anything keeps the hypervisor from starting, it says why and boots on as
 * if the hypervisor were not there. */
#include <efi.h>
#include <efilib.h>
#include "boot/acpi.h"
#include "boot/config.h"
#include "boot/console.h"
#include "boot/core_load.h"
#include "boot/core_tables.h"
#include "boot/file.h"
#include "boot/mp.h"
#include "boot/next_stage.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm_probe.h"
#include "hv/core/boot_info.h"
#include "hv/exit/hypercall_abi.h"

#define CONFIG_FILE L"HV.CFG"
#define MIB (1024ULL * 1024)
#define MIN_PHYS_MAP (64ULL << 30) /* identity map at least the low 64 GiB */

extern const UINT8 core_elf_start[], core_elf_end[];
extern int hv_enter_core(struct hv_enter_args *args);

/* Config diagnostics arrive before the console exists (its port is in the
 * config): keep them and print them once it does. */
struct diag_buffer {
    char text[2048];
    UINTN len;
};

static void keep_diag(void *ctx, unsigned line, const char *msg)
{
    struct diag_buffer *d = ctx;
    (void)line;
    while (*msg && d->len + 2 < sizeof d->text)
        d->text[d->len++] = *msg++;
    d->text[d->len++] = 0;
}

static void load_config(EFI_LOADED_IMAGE *self, struct hv_config *cfg)
{
    struct diag_buffer diags = { .len = 0 };
    config_defaults(cfg);
    CHAR16 *dir = file_own_dir(self);
    CHAR16 *path = dir ? PoolPrint(L"%s%s", dir, CONFIG_FILE) : NULL;
    void *text = NULL;
    UINTN size = 0;
    EFI_STATUS st = path ? file_read(self->DeviceHandle, path, &text, &size) : EFI_NOT_FOUND;
    if (!EFI_ERROR(st))
        config_parse(cfg, text, size, keep_diag, &diags);
    console_init(cfg);
    if (EFI_ERROR(st))
        lprintf(LOG_INFO, "no config file %s (%r): using defaults", path ? path : CONFIG_FILE, st);
    else
        lprintf(LOG_INFO, "config %s: %d bytes", path, size);
    for (UINTN i = 0; i < diags.len; i += strlena((CHAR8 *)diags.text + i) + 1)
        lprintf(LOG_WARN, "config: %a", diags.text + i);
    if (text)
        FreePool(text);
    if (path)
        FreePool(path);
    if (dir)
        FreePool(dir);
}

/* Memory the OS may use as RAM (and so may hand to the hypervisor as a
 * buffer): everything but reserved, MMIO and unusable ranges. */
static BOOLEAN is_ram(UINT32 type)
{
    switch (type) {
    case EfiLoaderCode: case EfiLoaderData: case EfiBootServicesCode:
    case EfiBootServicesData: case EfiRuntimeServicesCode:
    case EfiRuntimeServicesData: case EfiConventionalMemory:
    case EfiACPIReclaimMemory: case EfiACPIMemoryNVS:
        return TRUE;
    }
    return FALSE;
}

/* What the memory map says, gathered once before the core's layout exists
 * and handed to the core in its boot info. */
struct ram_map {
    UINT64 top; /* highest address any entry covers, RAM or MMIO */
    UINT32 nram;
    struct hv_ram_range ram[HV_MAX_RAM_RANGES];
};

static void add_ram(struct ram_map *m, UINT64 base, UINT64 size)
{
    struct hv_ram_range *last = m->nram ? &m->ram[m->nram - 1] : NULL;
    if (last && last->base + last->size == base)
        last->size += size;
    else if (m->nram < HV_MAX_RAM_RANGES)
        m->ram[m->nram++] = (struct hv_ram_range){ base, size };
    else
        lprintf(LOG_WARN, "more than %d RAM ranges: 0x%lx+0x%lx not listed", HV_MAX_RAM_RANGES, base, size);
}

/* Walks the memory map once: the RAM ranges and the highest address any
 * entry covers (the core's identity map spans at least that). */
static void memory_map_scan(struct ram_map *m)
{
    UINTN n, key, desc_size;
    UINT32 desc_version;
    EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&n, &key, &desc_size, &desc_version);
    m->top = 0;
    m->nram = 0;
    for (UINTN i = 0; map && i < n; i++) {
        EFI_MEMORY_DESCRIPTOR *d = (void *)((UINT8 *)map + i * desc_size);
        UINT64 size = d->NumberOfPages * EFI_PAGE_SIZE;
        if (d->PhysicalStart + size > m->top)
            m->top = d->PhysicalStart + size;
        if (is_ram(d->Type))
            add_ram(m, d->PhysicalStart, size);
    }
    if (map)
        FreePool(map);
}

/* Per CPU: the trampoline's arguments, and what that CPU reported. */
struct cpu_entry {
    struct hv_enter_args args;
    int rc;
    struct svm_caps caps;
};
static struct mp_cpu cpus[HV_MAX_CPUS];
static struct cpu_entry entries[HV_MAX_CPUS];
static UINT32 ncpus;
#define AP_TIMEOUT_US 5000000 /* the firmware waits this long for an AP */

static void ap_probe(void *arg)
{
    struct cpu_entry *e = arg;
    svm_probe(&e->caps);
}

static void ap_enter(void *arg)
{
    struct cpu_entry *e = arg;
    e->rc = hv_enter_core(&e->args);
}

/* Every CPU must be able to run the hypervisor before any does: a CPU
 * left outside would run L1 without NPT01 and read the hypervisor's
 * memory. So the first CPU that cannot keeps it off everywhere, named by
 * its APIC ID (docs/design.md, "Several CPUs"). */
static BOOLEAN svm_usable_everywhere(void)
{
    ncpus = mp_list_cpus(cpus, HV_MAX_CPUS);
    if (ncpus > HV_MAX_CPUS) {
        lprintf(LOG_WARN, "%d CPUs, the hypervisor supports at most %d", ncpus, HV_MAX_CPUS);
        return FALSE;
    }
    /* A CPU that ACPI lists as enabled but the MP services do not (no
     * protocol, or a firmware that lost one) could not be brought in. */
    int madt = acpi_count_cpus();
    if (madt > (int)ncpus) {
        lprintf(LOG_WARN, "ACPI lists %d CPUs, the firmware's MP services %d: the others "
                "could not be virtualized", madt, ncpus);
        return FALSE;
    }
    svm_probe(&entries[0].caps);
    for (UINT32 i = 0; i < ncpus; i++) {
        if (i > 0 && !cpus[i].enabled) {
            lprintf(LOG_WARN, "CPU with APIC ID %d is disabled in the firmware: it could "
                    "not be virtualized", cpus[i].apic_id);
            return FALSE;
        }
        EFI_STATUS st = i ? mp_run_on(cpus[i].number, ap_probe, &entries[i], AP_TIMEOUT_US)
                          : EFI_SUCCESS;
        if (EFI_ERROR(st)) {
            lprintf(LOG_WARN, "CPU with APIC ID %d did not answer (%r)", cpus[i].apic_id, st);
            return FALSE;
        }
        if (entries[i].caps.verdict != SVM_OK) {
            lprintf(LOG_WARN, "SVM unavailable: %a (CPU with APIC ID %d)",
                    svm_verdict_text(entries[i].caps.verdict), cpus[i].apic_id);
            return FALSE;
        }
        /* SVM alone is not enough: what the hypervisor needs to protect
         * itself (nested paging, its ASIDs) must be there too. */
        const char *missing = svm_missing_requirement(&entries[i].caps);
        if (missing) {
            lprintf(LOG_WARN, "not starting the hypervisor: %a (CPU with APIC ID %d)", missing,
                    cpus[i].apic_id);
            return FALSE;
        }
    }
    lprintf(LOG_INFO, "SVM usable on all %d CPU(s)", ncpus);
    return TRUE;
}

/* The boot CPU is in (running as L1); now each AP, one at a time, through
 * the firmware, which still owns them: each enters the core like the boot
 * CPU did and returns to the firmware as L1. */
static void enter_aps(void)
{
    UINT64 in, rax;
    for (UINT32 i = 1; i < ncpus; i++) {
        entries[i].rc = -1;
        EFI_STATUS st = mp_run_on(cpus[i].number, ap_enter, &entries[i], AP_TIMEOUT_US);
        if (EFI_ERROR(st) || entries[i].rc != 0)
            lprintf(LOG_ERROR, "CPU with APIC ID %d could not be virtualized (%r, core %d): it "
                    "stays where the firmware left it, and the hypervisor drops every "
                    "INIT and SIPI to it from now on", cpus[i].apic_id, st, entries[i].rc);
    }
    /* HV_CALL_SMP_READY: nobody may start a CPU outside the hypervisor now. */
    rax = HV_CALL_SMP_READY;
    __asm__ volatile("vmmcall" : "+a"(rax), "=b"(in) : : "rcx", "rdx", "memory");
    (void)in;
}

/* The loader runs as L1 now and cannot read the boot info (the region is
 * the hypervisor's): it asks the core whether it owns the IOMMUs, and if so
 * takes IVRS out of L1's sight. */
static void hide_owned_iommus(void)
{
    UINT64 rax = HV_CALL_DMA_INFO, owned;
    __asm__ volatile("vmmcall" : "+a"(rax), "=b"(owned) : : "rcx", "rdx", "memory");
    if (rax == HV_OK && owned)
        lprintf(LOG_INFO, "IVRS hidden from L1 (%d table entries removed)", acpi_hide_ivrs());
}

static EFI_STATUS run_core_in(const struct hv_config *cfg, UINT64 region_pa, UINT64 size);

/* Everything from reserving memory to the core's return. */
static EFI_STATUS run_core(const struct hv_config *cfg)
{
    UINT64 size = (UINT64)cfg->memory_mb * MIB;
    UINT64 region_pa;
    EFI_STATUS st = region_reserve(size, &region_pa);
    if (EFI_ERROR(st)) {
        lprintf(LOG_ERROR, "no room for the hypervisor's memory: the firmware has no free "
                "block of %d MiB (memory_mb) to reserve: %r", cfg->memory_mb, st);
        return st;
    }
    st = run_core_in(cfg, region_pa, size);
    if (EFI_ERROR(st)) /* the hypervisor is not running: the OS may have it back */
        uefi_call_wrapper(BS->FreePages, 2, region_pa, EFI_SIZE_TO_PAGES(size));
    return st;
}

/* From copying the core into its region to the core's return. */
static EFI_STATUS run_core_in(const struct hv_config *cfg, UINT64 region_pa, UINT64 size)
{
    EFI_STATUS st;
    struct core_image img;
    st = core_load(core_elf_start, (UINTN)(core_elf_end - core_elf_start), region_pa, size, &img);
    if (EFI_ERROR(st)) {
        lprintf(LOG_ERROR, "embedded core image is unusable: %r", st);
        return st;
    }
    static struct ram_map mm;
    memory_map_scan(&mm);
    UINT64 top = mm.top;
    UINT64 map_top = top > MIN_PHYS_MAP ? (top + (1ULL << 30) - 1) & ~((1ULL << 30) - 1) : MIN_PHYS_MAP;
    static struct core_layout lay;
    st = core_tables_build(region_pa, size, &img, ncpus, map_top, &lay);
    if (EFI_ERROR(st)) {
        lprintf(LOG_ERROR, "memory_mb=%d is too small for the core's tables: %r", cfg->memory_mb, st);
        return st;
    }
    lay.info->config = *cfg;
    lay.info->ram_top = top;
    lay.info->nram = mm.nram;
    CopyMem(lay.info->ram, mm.ram, sizeof mm.ram);
    lay.info->acpi_pm1a_cnt = acpi_pm1a_cnt_port();
    lay.info->acpi_s5_slp_typ = acpi_s5_sleep_type();
    lay.info->niommu = cfg->iommu ? acpi_find_iommus(lay.info->iommu, HV_MAX_IOMMUS) : 0;
    lprintf(LOG_INFO, "reserved %d MiB at 0x%lx; entering the core", cfg->memory_mb, region_pa);
    lay.info->early_log_len = console_copy_log(lay.info->early_log, HV_EARLY_LOG_SIZE);

    for (UINT32 i = 0; i < ncpus; i++) {
        lay.info->cpu[i].apic_id = cpus[i].apic_id;
        entries[i].args = (struct hv_enter_args){
            .core_cr3 = lay.cr3,
            .entry = img.entry,
            .info_va = lay.info_va,
            .stack_top = lay.info->cpu[i].stack_top,
            .gdtr = (UINT64)(UINTN)&lay.gdtr[i],
            .idtr = (UINT64)(UINTN)&lay.idtr,
            .state = (UINT64)(UINTN)&lay.info->cpu[i].loader,
            .cpu = i,
        };
    }
    int rc = hv_enter_core(&entries[0].args);
    if (rc != 0) {
        lprintf(LOG_ERROR, "the hypervisor could not start (core returned %d)", rc);
        return EFI_ABORTED;
    }
    hide_owned_iommus();
    enter_aps();
    char sig[13];
    struct cpuid_regs r = cpuid(0x40000000u, 0);
    CopyMem(sig, &r.ebx, 4);
    CopyMem(sig + 4, &r.ecx, 4);
    CopyMem(sig + 8, &r.edx, 4);
    sig[12] = 0;
    lprintf(LOG_INFO, "loader resumed as L1 (CPUID 0x40000000: \"%a\")", sig);
    return EFI_SUCCESS;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    EFI_LOADED_IMAGE *self = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&self);
    struct hv_config cfg;
    load_config(self, &cfg);
    lprintf(LOG_INFO, "nested SVM hypervisor loader starting");

    if (!cfg.hypervisor)
        lprintf(LOG_INFO, "hypervisor = no: not starting the hypervisor");
    else if (!svm_usable_everywhere() || EFI_ERROR(run_core(&cfg)))
        lprintf(LOG_WARN, "continuing the boot without the hypervisor");
    return next_stage_start(image, self, &cfg);
}
