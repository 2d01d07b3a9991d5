/* xorshift64* for the randomized unit tests: a fixed seed gives the same
 * sequence on every machine, so a failing random case reproduces. Each test
 * keeps its own state (and seed). */
#pragma once
#include <stdint.h>

static inline uint64_t xorshift64s(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C(0x2545F4914F6CDD1D);
}
