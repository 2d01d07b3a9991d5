/* The caller's side of the hypercall ABI (hv/exit/hypercall_abi.h), for the
 * programs that run in L1: the L1 test program, tools/hvstat, the Linux
 * test programs. VMMCALL with RAX = function, RBX/RCX/RDX in and out; the
 * status comes back in RAX. Not for the core. */
#pragma once
#include <stdint.h>
#include "hv/exit/hypercall_abi.h"

struct hv_result {
    int64_t status;
    uint64_t rbx, rcx, rdx;
};

static inline struct hv_result hv_call(uint64_t fn, uint64_t rbx, uint64_t rcx, uint64_t rdx)
{
    struct hv_result r;
    __asm__ volatile("vmmcall"
                     : "=a"(r.status), "=b"(r.rbx), "=c"(r.rcx), "=d"(r.rdx)
                     : "a"(fn), "b"(rbx), "c"(rcx), "d"(rdx)
                     : "memory");
    return r;
}
