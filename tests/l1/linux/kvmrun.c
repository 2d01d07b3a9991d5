/* kvmrun: KVM as the guest hypervisor. Run by /init in the L1 Linux test's
 * initramfs after kvm_amd is loaded: creates a VM through /dev/kvm and runs
 * a few bytes of real-mode code in it, which is L2 on our hypervisor:
 *
 *     cpuid                 an exit KVM handles in the kernel
 *     mov al, 'K'
 *     mov cx, ROUNDS
 *  1: out 0x10, al          ROUNDS exits KVM hands to us (KVM_EXIT_IO)
 *     loop 1b
 *     hlt                   KVM_EXIT_HLT: done
 *
 * Prints one "kvmrun:" line per finding on the console; exit status 0 only
 * when the guest did exactly that.
 *
 * `kvmrun forever`: the guest loops on its OUT instead (no CPUID, no
 * HLT), a VM that keeps running until SIGTERM, for the debug shell test
 * (tests/integration/test_console.py); exit status 0 when it was still
 * running then. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include "tinyvm.h"

#define PORT 0x10
#define ROUNDS 100

static const uint8_t code[] = {
    0x31, 0xC0,             /* xor ax, ax */
    0x0F, 0xA2,             /* cpuid */
    0xB0, 'K',              /* mov al, 'K' */
    0xB9, ROUNDS, 0x00,     /* mov cx, ROUNDS */
    0xE6, PORT,             /* 1: out PORT, al */
    0xE2, 0xFC,             /* loop 1b */
    0xF4,                   /* hlt */
};

static const uint8_t forever_code[] = {
    0xB0, 'K',              /* mov al, 'K' */
    0xE6, PORT,             /* 1: out PORT, al */
    0xEB, 0xFC,             /* jmp 1b */
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int fail(const char *what)
{
    printf("kvmrun: FAIL: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    int forever = argc == 2 && !strcmp(argv[1], "forever");
    if (forever) {
        /* No SA_RESTART: the signal ends KVM_RUN with EINTR. */
        struct sigaction sa = { .sa_handler = on_term };
        sigaction(SIGTERM, &sa, NULL);
    }
    struct tinyvm t;
    const char *what;
    if (tinyvm_create(&t, forever ? forever_code : code, forever ? sizeof forever_code : sizeof code,
                      &what) < 0)
        return fail(what);
    printf("kvmrun: KVM API version %d\n", ioctl(t.kvm, KVM_GET_API_VERSION, 0));
    int vcpu = t.vcpu;
    struct kvm_run *run = t.run;
    struct kvm_regs regs;

    int outs = 0;
    for (;;) {
        /* The signal may land between two KVM_RUNs, or inside one. */
        if ((forever && stop) || ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (forever && stop) {
                printf("kvmrun: L2 ran %d OUTs to port %#x until stopped\n", outs, PORT);
                return outs > 0 ? 0 : 1;
            }
            return fail("KVM_RUN");
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
            run->io.port == PORT && run->io.size == 1 &&
            *((uint8_t *)run + run->io.data_offset) == 'K') {
            if (++outs == 1 && forever) {
                printf("kvmrun: L2 is running (OUTs to port %#x until SIGTERM)\n", PORT);
                fflush(stdout);
            }
            continue;
        }
        if (run->exit_reason == KVM_EXIT_HLT)
            break;
        printf("kvmrun: FAIL: unexpected exit reason %u after %d OUTs\n", run->exit_reason, outs);
        return 1;
    }
    if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
        return fail("KVM_GET_REGS");
    printf("kvmrun: L2 ran: %d OUTs to port %#x, then HLT at %#llx\n", outs, PORT,
           (unsigned long long)regs.rip - 1);
    return outs == ROUNDS ? 0 : 1;
}
