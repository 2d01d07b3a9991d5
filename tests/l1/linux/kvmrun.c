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
 * when the guest did exactly that. */
#include <errno.h>
#include <fcntl.h>
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

static int fail(const char *what)
{
    printf("kvmrun: FAIL: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(void)
{
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
        if (ioctl(vcpu, KVM_RUN, 0) < 0)
            return fail("KVM_RUN");
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
            run->io.port == PORT && run->io.size == 1 &&
            *((uint8_t *)run + run->io.data_offset) == 'K') {
            outs++;
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
