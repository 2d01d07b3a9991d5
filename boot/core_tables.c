#include "boot/core_tables.h"
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "arch/x86/vectors.h"

#define PAGE_ROUND(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/* Hands out zeroed, page-aligned pieces of the region after the image. */
struct bump {
    UINT64 region_pa, next, end;
};

static void *bump_take(struct bump *b, UINT64 bytes)
{
    bytes = PAGE_ROUND(bytes);
    if (b->next + bytes > b->end)
        return NULL;
    void *p = (void *)(UINTN)b->next;
    b->next += bytes;
    ZeroMem(p, bytes);
    return p;
}

static UINT64 region_va(const struct bump *b, const void *p)
{
    return (UINT64)(UINTN)p - b->region_pa + HV_VBASE;
}

/* Identity map of [0, top): 1 GiB pages where the CPU has them, else 2 MiB. */
static BOOLEAN map_identity(struct bump *b, UINT64 *pml4, UINT64 top)
{
    BOOLEAN gb = cpu_has_1g_pages();
    for (UINT64 pa = 0; pa < top; pa += PAGE_1G) {
        UINT64 *pml4e = &pml4[pml4_index(pa)];
        if (!(*pml4e & PTE_P)) {
            UINT64 *pdpt = bump_take(b, PAGE_SIZE);
            if (!pdpt)
                return FALSE;
            *pml4e = (UINT64)(UINTN)pdpt | PTE_P | PTE_W;
        }
        UINT64 *pdpt = (UINT64 *)(UINTN)(*pml4e & PTE_ADDR_MASK);
        if (gb) {
            pdpt[pdpt_index(pa)] = pa | PTE_P | PTE_W | PTE_PS;
            continue;
        }
        UINT64 *pd = bump_take(b, PAGE_SIZE);
        if (!pd)
            return FALSE;
        for (UINT64 i = 0; i < PT_ENTRIES; i++)
            pd[i] = (pa + i * PAGE_2M) | PTE_P | PTE_W | PTE_PS;
        pdpt[pdpt_index(pa)] = (UINT64)(UINTN)pd | PTE_P | PTE_W;
    }
    return TRUE;
}

/* The region at HV_VBASE with 2 MiB pages (it is 2 MiB aligned and sized,
 * and at most 1 GiB, so one page directory does). */
static BOOLEAN map_region(struct bump *b, UINT64 *pml4, UINT64 size)
{
    UINT64 *pdpt = bump_take(b, PAGE_SIZE);
    UINT64 *pd = bump_take(b, PAGE_SIZE);
    if (!pdpt || !pd || size > PAGE_1G)
        return FALSE;
    for (UINT64 off = 0; off < size; off += PAGE_2M)
        pd[pd_index(HV_VBASE + off)] = (b->region_pa + off) | PTE_P | PTE_W | PTE_PS;
    pdpt[pdpt_index(HV_VBASE)] = (UINT64)(UINTN)pd | PTE_P | PTE_W;
    pml4[pml4_index(HV_VBASE)] = (UINT64)(UINTN)pdpt | PTE_P | PTE_W;
    return TRUE;
}

/* One CPU's GDT (null, code64, data, TSS) and TSS share one page: the TSS
 * holds that CPU's IST stack, and a busy TSS cannot be loaded by a second
 * CPU. The faults that can come with a broken stack (#DF, NMI, #MC) switch
 * to the IST stack. */
static BOOLEAN build_gdt(struct bump *b, UINT64 ist_top, struct desc_ptr *gdtr)
{
    UINT64 *gdt = bump_take(b, PAGE_SIZE);
    if (!gdt)
        return FALSE;
    struct tss64 *tss = (struct tss64 *)(gdt + 8);
    tss->ist[IST_FAULT - 1] = ist_top;
    tss->iomap_base = sizeof *tss; /* no I/O bitmap */
    gdt[SEL_CODE64 / 8] = GDT_CODE64;
    gdt[SEL_DATA / 8] = GDT_DATA;
    tss_descriptor(&gdt[SEL_TSS / 8], region_va(b, tss), sizeof *tss - 1);
    gdtr->base = (UINT64)(UINTN)gdt;
    gdtr->limit = GDT_ENTRIES * 8 - 1;
    return TRUE;
}

/* One IDT for every CPU. */
static BOOLEAN build_idt(struct bump *b, const struct core_image *img, struct desc_ptr *idtr)
{
    struct idt_gate *idt = bump_take(b, PAGE_SIZE);
    if (!idt)
        return FALSE;
    const UINT64 *stubs = (const UINT64 *)(UINTN)(img->exception_stubs - HV_VBASE + b->region_pa);
    for (unsigned v = 0; v < HV_EXC_VECTORS; v++) {
        UINT8 ist = (v == VEC_NMI || v == VEC_DF || v == VEC_MC) ? IST_FAULT : 0;
        idt[v] = idt_gate_make(stubs[v], ist);
    }
    idtr->base = (UINT64)(UINTN)idt;
    idtr->limit = HV_EXC_VECTORS * sizeof(struct idt_gate) - 1;
    return TRUE;
}

/* Per CPU: a stack, an IST stack and a GDT/TSS page. */
static BOOLEAN build_cpus(struct bump *b, UINT32 ncpus, struct hv_boot_info *info,
                          struct core_layout *out)
{
    for (UINT32 i = 0; i < ncpus; i++) {
        UINT8 *stacks = bump_take(b, HV_STACK_SIZE + HV_IST_STACK_SIZE);
        if (!stacks)
            return FALSE;
        info->cpu[i].stack_top = region_va(b, stacks + HV_STACK_SIZE);
        UINT64 ist_top = region_va(b, stacks + HV_STACK_SIZE + HV_IST_STACK_SIZE);
        if (!build_gdt(b, ist_top, &out->gdtr[i]))
            return FALSE;
    }
    return TRUE;
}

static BOOLEAN copy_symbols(struct bump *b, const struct core_image *img,
                            struct hv_boot_info *info)
{
    if (!img->symtab)
        return TRUE;
    void *sym = bump_take(b, img->symtab_size);
    void *str = bump_take(b, img->strtab_size);
    if (!sym || !str)
        return FALSE;
    CopyMem(sym, (void *)img->symtab, img->symtab_size);
    CopyMem(str, (void *)img->strtab, img->strtab_size);
    info->symtab_va = region_va(b, sym);
    info->symtab_size = img->symtab_size;
    info->strtab_va = region_va(b, str);
    info->strtab_size = img->strtab_size;
    return TRUE;
}

EFI_STATUS core_tables_build(UINT64 region_pa, UINT64 region_size,
                             const struct core_image *img, UINT32 ncpus,
                             UINT64 phys_map_top, struct core_layout *out)
{
    struct bump b = { region_pa, region_pa + img->image_size, region_pa + region_size };
    struct hv_boot_info *info = bump_take(&b, sizeof *info);
    if (!info || ncpus == 0 || ncpus > HV_MAX_CPUS)
        return EFI_BUFFER_TOO_SMALL;
    if (!build_cpus(&b, ncpus, info, out) || !build_idt(&b, img, &out->idtr) ||
        !copy_symbols(&b, img, info))
        return EFI_BUFFER_TOO_SMALL;

    UINT64 *pml4 = bump_take(&b, PAGE_SIZE);
    if (!pml4 || !map_identity(&b, pml4, phys_map_top) || !map_region(&b, pml4, region_size))
        return EFI_BUFFER_TOO_SMALL;
    out->cr3 = (UINT64)(UINTN)pml4;

    info->magic = HV_BOOT_MAGIC;
    info->region_pa = region_pa;
    info->region_size = region_size;
    info->image_size = img->image_size;
    info->phys_map_top = phys_map_top;
    info->ncpus = ncpus;
    info->pool_offset = b.next - region_pa;
    out->info = info;
    out->info_va = region_va(&b, info);
    return EFI_SUCCESS;
}
