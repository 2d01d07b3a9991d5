/* Decoding the one kind of instruction L1 uses to write the local APIC's
 * page: a store of a register or an immediate to memory (MOV 88/89/C6/C7,
 * MOV A2/A3 to an absolute address, XCHG 86/87 as Linux uses on some
 * CPUs), with the prefixes a compiler emits (66, 67, REX, segment
 * overrides). Without decode assists the CPU
 * tells the hypervisor only the faulting address (#NPF EXITINFO2), so the
 * length and the value come from here. Pure; unit-tested against objdump
 * over every ModRM/SIB/displacement form (tests/unit/test_store_decode.c).
 * Everything else (string stores, RMW instructions, AVX stores) is not a
 * store this decodes: the caller gives it its defined outcome. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define STORE_INSN_MAX 15

struct store_insn {
    uint8_t len;       /* bytes, prefixes included */
    uint8_t size;      /* 1, 2, 4 or 8 bytes stored */
    bool is_imm;       /* the value is imm, else register reg */
    uint8_t reg;       /* 0 = RAX ... 15 = R15 (APM's numbering) */
    bool high_byte;    /* AH/CH/DH/BH (reg 4-7 as byte registers, no REX) */
    bool exchange;     /* XCHG: the old value goes back to the register */
    uint64_t imm;      /* sign-extended to 64 bits */
};

/* bytes: what was fetched at RIP (avail of them). long_mode: 64-bit code,
 * else 32-bit protected-mode code (16-bit code is not decoded). */
bool store_decode(const uint8_t *bytes, unsigned avail, bool long_mode, struct store_insn *out);
