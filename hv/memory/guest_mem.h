/* L1's physical memory as the hypervisor presents it: NPT01, an identity
 * map of the guest-physical space with the hypervisor's region left out,
 * and the checks for buffers L1 hands to the hypervisor. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "hv/core/boot_info.h"
#include "hv/core/vcpu.h"

/* false when the hypervisor's memory cannot hold NPT01. */
bool guest_mem_init(const struct hv_boot_info *info);
uint64_t guest_mem_npt01_root(void);
/* Is [gpa, gpa + len) inside one RAM range of L1 and outside the
 * hypervisor's region? Only such buffers are read or written for L1. */
bool l1_ram_ok(uint64_t gpa, uint64_t len);
/* Highest guest-physical address + 1 that NPT01 maps. */
uint64_t guest_phys_limit(void);
/* The host's own identity map ends here (the loader's phys_map_top). */
uint64_t guest_mem_host_map_top(void);
/* #NPF on a hypervisor page: L1 gets the decoy page there (see .c). */
bool guest_mem_hv_access(uint64_t gpa, uint64_t rip, bool write);
/* Does [gpa, gpa + len) touch what L1 may never reach: the hypervisor's
 * region or MMIO it protects? Every place that lets L1 name an address
 * for the hypervisor to map or use (APIC base, VM_HSAVE_PA, buffers)
 * asks this. */
bool guest_mem_l1_barred(uint64_t gpa, uint64_t len);
/* Takes [pa, pa + size) out of NPT01 for good (an IOMMU's registers): L1's
 * accesses there get the decoy page like the hypervisor's region. Before
 * any vCPU runs; false when out of table memory or slots. */
bool guest_mem_protect_mmio(uint64_t pa, uint64_t size);
/* Gives every protected range back to L1, one to one (the IOMMUs are not
 * the hypervisor's after all); before any vCPU runs. */
void guest_mem_unprotect_mmio(void);
uint64_t guest_mem_hv_accesses(void);
uint64_t guest_mem_table_pages(void);

/* L2 with nested paging: the shadow NPT02 (= NPT01 o NPT12). */
bool guest_mem_npt02_init(struct npt02 *npt02);
enum npt02_fill {
    NPT02_FILLED,           /* resume L2 */
    NPT02_FILLED_MAP_WRITE, /* resume L2, which wrote a merged map (hv/nested/nested_maps.c) */
    NPT02_TO_L1,            /* reflect #NPF with *reflect_info1 */
    NPT02_TO_L1_NOT_MAPPED, /* could not map (out of memory): fatal */
    NPT02_APIC_WRITE,       /* L2 wrote L1's APIC page through NPT12: performed */
};
enum npt02_fill guest_mem_npt02_fault(struct vcpu *v, uint64_t npt12_root, uint64_t l2_gpa,
                                      uint64_t info1, uint64_t *reflect_info1);
/* L2's guest-physical address in L1's physical space, as NPT02 maps it
 * now (false: not mapped); one to one when L2 runs without NP. */
bool guest_mem_l2_to_l1(const struct vcpu *v, uint64_t gpa, uint64_t *l1_gpa);
/* Write-protects (or unprotects) one 4 KiB page of L1 in NPT01. The caller
 * requests the TLB flush that fewer rights need. */
void guest_mem_set_writable(uint64_t gpa, bool writable);
