/* excheck: run inside the L1 Linux guest (tests/integration/test_linux.py)
 * to show that the exceptions the hypervisor always intercepts (#AC, #DB;
 * hv/exit/exit_debug.c) still reach L1 as on a CPU: a misaligned load with
 * RFLAGS.AC set at CPL 3 is #AC (Linux: SIGBUS, BUS_ADRALN), an ICEBP is a
 * #DB trap after it (Linux: SIGTRAP). Prints
 *
 *   excheck: #AC -> SIGBUS ok|not raised|FAILED
 *   excheck: ICEBP -> SIGTRAP ok|FAILED
 *
 * Built static by tools/linux-l1.sh. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf back;
static volatile int got_sig, got_code;
static volatile uintptr_t trap_ip;

extern char icebp_at[], icebp_after[];

/* SIGBUS: back out of the load (AC is cleared there); SIGTRAP: a trap,
 * the program goes on after the ICEBP. A trap reported at the ICEBP
 * itself (the bug of a hypervisor that intercepts #DB, seen on one cloud
 * host) is recorded and stepped over, not run again forever. */
static void on_signal(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    got_sig = sig;
    got_code = si->si_code;
    trap_ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (sig == SIGBUS)
        siglongjmp(back, 1);
    if (trap_ip == (uintptr_t)icebp_at)
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)icebp_after;
}

static void catch(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigaction(sig, &sa, NULL);
}

/* "ok", "not raised" (a CPU model without alignment checking: QEMU's
 * TCG) or "FAILED". */
static const char *alignment_check(void)
{
    static uint8_t buf[16] __attribute__((aligned(16)));
    volatile uint32_t *odd = (volatile uint32_t *)(buf + 1);
    got_sig = 0;
    if (sigsetjmp(back, 1) == 0) {
        __asm__ volatile("pushfq; orq $0x40000, (%%rsp); popfq" ::: "memory", "cc");
        (void)*odd;
    }
    /* siglongjmp does not restore RFLAGS: AC off again either way */
    __asm__ volatile("pushfq; andq $~0x40000, (%%rsp); popfq" ::: "memory", "cc");
    if (!got_sig)
        return "not raised";
    return got_sig == SIGBUS && got_code == BUS_ADRALN ? "ok" : "FAILED";
}

static int icebp(void)
{
    got_sig = 0;
    __asm__ volatile(".globl icebp_at, icebp_after\nicebp_at: .byte 0xf1\nicebp_after:" ::: "memory");
    return got_sig == SIGTRAP && trap_ip == (uintptr_t)icebp_after;
}

int main(void)
{
    catch(SIGBUS);
    catch(SIGTRAP);
    printf("excheck: #AC -> SIGBUS %s\n", alignment_check());
    printf("excheck: ICEBP -> SIGTRAP %s\n", icebp() ? "ok" : "FAILED");
    return 0;
}
