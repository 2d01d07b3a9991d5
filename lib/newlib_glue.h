/* The system interface newlib needs, for the freestanding core: output goes
 * to the hypervisor's console, memory comes from a fixed heap. */
#pragma once
#include <stddef.h>

void heap_init(void *start, size_t size);
/* What sbrk has handed out of the heap, and the heap's size (debug shell). */
void heap_usage(size_t *used, size_t *size);
