#include "hv/decode/guest_fetch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/memory/guest_mem.h"

#define PG_P (1ULL << 0)
#define PG_PS (1ULL << 7)
#define PG_ADDR 0x000FFFFFFFFFF000ULL

/* The guest-physical address of the context that runs (L1, or L2) in L1's
 * physical space, which the host maps one to one. */
static bool to_l1(const struct vcpu *v, uint64_t gpa, uint64_t len, uint64_t *pa)
{
    if (v->nested.in_l2 && !guest_mem_l2_to_l1(v, gpa, pa))
        return false;
    if (!v->nested.in_l2)
        *pa = gpa;
    return l1_ram_ok(*pa, len);
}

static bool read_phys64(const struct vcpu *v, uint64_t gpa, uint64_t *val)
{
    uint64_t pa;
    if (!to_l1(v, gpa, 8, &pa))
        return false;
    *val = *(volatile const uint64_t *)pa; /* identity map */
    return true;
}

static bool read_phys32(const struct vcpu *v, uint64_t gpa, uint32_t *val)
{
    uint64_t pa;
    if (!to_l1(v, gpa, 4, &pa))
        return false;
    *val = *(volatile const uint32_t *)pa;
    return true;
}

/* Long mode (4 or 5 levels) and legacy PAE (3 levels): 8-byte entries,
 * 9 bits per level; a PS bit ends the walk at 1 GiB or 2 MiB. */
static bool walk64(const struct vcpu *v, uint64_t cr3, uint64_t la, unsigned levels, uint64_t *pa)
{
    uint64_t table = cr3 & (levels == 3 ? 0xFFFFFFE0ULL : PG_ADDR);
    for (unsigned l = levels; l >= 1; l--) {
        unsigned shift = 12 + 9 * (l - 1);
        unsigned index = (unsigned)(la >> shift) & (levels == 3 && l == 3 ? 3 : 511);
        uint64_t e;
        if (!read_phys64(v, table + index * 8, &e) || !(e & PG_P))
            return false;
        if (l == 1 || ((e & PG_PS) && l <= 3 && l != levels)) {
            uint64_t page = 1ULL << shift;
            *pa = (e & PG_ADDR & ~(page - 1)) | (la & (page - 1));
            return true;
        }
        table = e & PG_ADDR;
    }
    return false;
}

/* 32-bit paging: two levels of 4-byte entries, 4 MiB pages with PSE. */
static bool walk32(const struct vcpu *v, uint64_t cr3, uint32_t la, uint64_t *pa)
{
    uint32_t pde, pte;
    if (!read_phys32(v, (cr3 & 0xFFFFF000) + (la >> 22) * 4, &pde) || !(pde & PG_P))
        return false;
    if (pde & PG_PS) {
        *pa = (pde & 0xFFC00000) | (la & 0x3FFFFF);
        return true;
    }
    if (!read_phys32(v, (pde & 0xFFFFF000) + ((la >> 12) & 0x3FF) * 4, &pte) || !(pte & PG_P))
        return false;
    *pa = (pte & 0xFFFFF000) | (la & 0xFFF);
    return true;
}

static bool translate(const struct vcpu *v, const struct vmcb_save *s, uint64_t la, uint64_t *pa)
{
    if (!(s->cr0 & CR0_PG)) {
        *pa = la;
        return true;
    }
    if (s->efer & EFER_LMA)
        return walk64(v, s->cr3, la, (s->cr4 & CR4_LA57) ? 5 : 4, pa);
    if (s->cr4 & CR4_PAE)
        return walk64(v, s->cr3, la, 3, pa);
    return walk32(v, s->cr3, (uint32_t)la, pa);
}

unsigned guest_fetch_insn(const struct vcpu *v, uint8_t *buf, unsigned max)
{
    const struct vmcb_save *s = &v->vmcb.va->save;
    bool code64 = guest_code64(s);
    uint64_t la = code64 ? s->rip : (uint32_t)(s->cs.base + s->rip);
    unsigned n = 0;
    while (n < max) {
        uint64_t gpa, pa;
        if (!translate(v, s, la + n, &gpa))
            break;
        unsigned in_page = 4096 - (unsigned)(gpa & 0xFFF);
        unsigned take = max - n < in_page ? max - n : in_page;
        if (!to_l1(v, gpa, take, &pa))
            break;
        for (unsigned i = 0; i < take; i++) /* no libc here: the exit path stays SSE-free */
            buf[n + i] = ((const uint8_t *)pa)[i];
        n += take;
    }
    return n;
}
