/* The system interface newlib needs, for the freestanding core: output goes
 * to the hypervisor's console, memory comes from a fixed heap. */
#pragma once
#include <stddef.h>

void heap_init(void *start, size_t size);
