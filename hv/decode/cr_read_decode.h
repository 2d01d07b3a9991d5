/* Decoding MOV from a control register (0F 20 /r, APM Vol. 3 "MOV CRn"),
 * for L2's CR-read exits on a CPU without decode assists, where the exit
 * code must be trusted to say which CR was read. QEMU's TCG (10.0) does
 * not: it takes every MOV from CRn as a CR0 read (exit code 0), on the
 * CR0-read intercept bit, whatever n and whatever the CRn bit says
 * (measured: Xen's HVM guests intercept CR0 and CR4 reads, not CR2 and
 * CR3; TCG still exited on L2's MOV from CR2 and CR3, code 0). hv/nested/nested.c
 * reads the instruction to give L1 the exit a CPU gives (APM Vol. 2,
 * 15.9: one intercept bit and one exit code per CR) or none. Pure. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct cr_read_insn {
    uint8_t len; /* bytes, prefixes included */
    uint8_t cr;  /* 0-15; LOCK MOV CR0 is CR8 (AMD's alternate encoding) */
    uint8_t gpr; /* destination, 0 = RAX ... 15 = R15 (APM's numbering) */
};

/* bytes: what was fetched at RIP (avail of them). long_mode: 64-bit code
 * (REX prefixes exist), else 32-bit protected-mode code. */
bool cr_read_decode(const uint8_t *bytes, unsigned avail, bool long_mode, struct cr_read_insn *out);
