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
#include <fcntl.h>
#include <signal.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_MEM 0x10000
#define CODE_AT 0x1000
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
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return fail("open /dev/kvm");
    printf("kvmrun: KVM API version %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return fail("KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return fail("mmap guest memory");
    if (forever)
        memcpy(mem + CODE_AT, forever_code, sizeof forever_code);
    else
        memcpy(mem + CODE_AT, code, sizeof code);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_MEM,
        .userspace_addr = (uint64_t)(uintptr_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        return fail("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        return fail("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = CODE_AT, .rflags = 2 };
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return fail("KVM_SET_REGS");

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
