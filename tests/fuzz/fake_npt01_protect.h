/* NPT01's write protection of L1 pages, page by page: the stand-in of
 * hv/memory/guest_mem.c's guest_mem_set_writable() for the targets around the
 * merged permission maps. Include after fake_l1_ram.h, once per target. */
#pragma once
#include "tests/fuzz/fake_l1_ram.h"
#include "tests/fuzz/fuzz_check.h"

#define MAX_PROTECTED 32
static uint64_t protected_pages[MAX_PROTECTED];
static unsigned nprot;

static inline int prot_index(uint64_t page)
{
    for (unsigned i = 0; i < nprot; i++)
        if (protected_pages[i] == page)
            return (int)i;
    return -1;
}

void guest_mem_set_writable(uint64_t gpa, bool writable)
{
    FUZZ_CHECK((gpa & 0xFFF) == 0 && l1_ram_ok(gpa, 4096),
               "only whole pages of L1's RAM are write-protected");
    int i = prot_index(gpa);
    if (writable && i >= 0)
        protected_pages[i] = protected_pages[--nprot];
    else if (!writable && i < 0) {
        FUZZ_CHECK(nprot < MAX_PROTECTED, "harness: protection list full");
        protected_pages[nprot++] = gpa;
    }
}
