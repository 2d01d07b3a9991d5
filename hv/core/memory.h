/* The hypervisor's own memory: the region the loader reserved, mapped at
 * HV_VBASE. After the core image and the loader-built tables come the newlib
 * heap and then the page allocator's pool. */
#pragma once
#include <stdint.h>
#include "hv/core/boot_info.h"
#include "lib/page_alloc.h"

void memory_init(const struct hv_boot_info *info);
uint64_t hv_va_to_pa(const void *va);
void *hv_pa_to_va(uint64_t pa);
/* Is [pa, pa + len) inside the hypervisor's region? (L1 must never reach it.) */
bool hv_owns_pa(uint64_t pa, uint64_t len);
struct page_alloc *hv_pages(void);
/* pages zeroed 4 KiB pages from the pool: VA, PA in *pa; NULL when out. */
void *hv_alloc_zeroed(uint64_t pages, uint64_t *pa);
void memory_report(void);
uint64_t hv_region_pa(void);
uint64_t hv_region_size(void);
