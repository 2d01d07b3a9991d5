/* L1's physical memory as the hypervisor presents it: NPT01, an identity
 * map of the guest-physical space with the hypervisor's region left out,
 * and the checks for buffers L1 hands to the hypervisor. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "hv/boot_info.h"

/* false when the hypervisor's memory cannot hold NPT01. */
bool guest_mem_init(const struct hv_boot_info *info);
uint64_t guest_mem_npt01_root(void);
/* Is [gpa, gpa + len) inside one RAM range of L1 and outside the
 * hypervisor's region? Only such buffers are read or written for L1. */
bool l1_ram_ok(uint64_t gpa, uint64_t len);
/* Highest guest-physical address + 1 that NPT01 maps. */
uint64_t guest_phys_limit(void);
/* #NPF on a hypervisor page: L1 gets the decoy page there (see .c). */
bool guest_mem_hv_access(uint64_t gpa, uint64_t rip, bool write);
uint64_t guest_mem_hv_accesses(void);
uint64_t guest_mem_table_pages(void);
