/* MOV to and from CR8 on the host: hv/nested/nested_gif.c reads and writes the
 * physical TPR (CR8) when L0 holds L2's interrupts. In a host process that
 * instruction raises #GP (SIGSEGV); this handler performs it on a fake CR8
 * (4 bits, as the APM defines the TPR; a write of bits 63:4 would #GP on
 * the CPU, so it is a broken invariant here) and resumes after it. Any
 * other SIGSEGV goes on to the handler that was there before (ASan's).
 * Call host_cr8_install() from LLVMFuzzerInitialize: libFuzzer installs its
 * own handler after that and passes SIGSEGV on to this one. */
#pragma once
#include <signal.h>
#include <stdint.h>
#include <ucontext.h>
#include "tests/fuzz/fuzz_check.h"

static uint64_t host_cr8;
static struct sigaction host_cr8_prev;

static void host_cr8_handler(int sig, siginfo_t *si, void *ctx)
{
    static const int gpr[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                 REG_RSI, REG_RDI, REG_R8, REG_R9, REG_R10, REG_R11,
                                 REG_R12, REG_R13, REG_R14, REG_R15 };
    ucontext_t *uc = ctx;
    const uint8_t *ip = (const uint8_t *)uc->uc_mcontext.gregs[REG_RIP];
    unsigned i = 0;
    uint8_t rex = (ip[0] & 0xF0) == 0x40 ? ip[i++] : 0;
    /* 0F 20 /r: MOV reg, CRn; 0F 22 /r: MOV CRn, reg (register forms). */
    if (ip[i] == 0x0F && (ip[i + 1] == 0x20 || ip[i + 1] == 0x22) && (ip[i + 2] >> 6) == 3) {
        uint8_t modrm = ip[i + 2];
        unsigned cr = ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0);
        greg_t *reg = &uc->uc_mcontext.gregs[gpr[(modrm & 7) | (rex & 1 ? 8 : 0)]];
        if (cr == 8) {
            if (ip[i + 1] == 0x20) {
                *reg = (greg_t)host_cr8;
            } else {
                FUZZ_CHECK(((uint64_t)*reg >> 4) == 0, "CR8 writes keep bits 63:4 clear");
                host_cr8 = (uint64_t)*reg;
            }
            uc->uc_mcontext.gregs[REG_RIP] += i + 3;
            return;
        }
    }
    if (host_cr8_prev.sa_flags & SA_SIGINFO) {
        host_cr8_prev.sa_sigaction(sig, si, ctx);
        return;
    }
    fuzz_broken("SIGSEGV outside a MOV CR8", __FILE__, __LINE__);
}

static inline void host_cr8_install(void)
{
    struct sigaction sa = { .sa_sigaction = host_cr8_handler, .sa_flags = SA_SIGINFO | SA_NODEFER };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &host_cr8_prev);
}
