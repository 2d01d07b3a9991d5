/* Long-mode 4-level paging entries (APM Vol. 2, 5.3). The same format is
 * used by nested page tables (15.25). */
#pragma once
#include <stdint.h>

#define PAGE_SIZE   4096ULL
#define PAGE_2M     (1ULL << 21)
#define PAGE_1G     (1ULL << 30)
#define PT_ENTRIES  512

#define PTE_P    (1ULL << 0)
#define PTE_W    (1ULL << 1)
#define PTE_U    (1ULL << 2)
#define PTE_PWT  (1ULL << 3)
#define PTE_PCD  (1ULL << 4)
#define PTE_A    (1ULL << 5)
#define PTE_D    (1ULL << 6)
#define PTE_PS   (1ULL << 7) /* large page in a PDPE (1 GiB) or PDE (2 MiB) */
#define PTE_G    (1ULL << 8)
#define PTE_NX   (1ULL << 63)
#define PTE_ADDR_MASK 0x000FFFFFFFFFF000ULL

static inline unsigned pml4_index(uint64_t va) { return (va >> 39) & 511; }
static inline unsigned pdpt_index(uint64_t va) { return (va >> 30) & 511; }
static inline unsigned pd_index(uint64_t va) { return (va >> 21) & 511; }
static inline unsigned pt_index(uint64_t va) { return (va >> 12) & 511; }
