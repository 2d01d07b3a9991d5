#include "tinyvm.h"
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define FAIL(step) do { *what = step; return -1; } while (0)

int tinyvm_reset(struct tinyvm *t, const uint8_t *code, size_t len, const char **what)
{
    memcpy(t->mem + TINYVM_CODE_AT, code, len);
    struct kvm_sregs sregs;
    if (ioctl(t->vcpu, KVM_GET_SREGS, &sregs) < 0)
        FAIL("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(t->vcpu, KVM_SET_SREGS, &sregs) < 0)
        FAIL("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = TINYVM_CODE_AT, .rflags = 2 };
    if (ioctl(t->vcpu, KVM_SET_REGS, &regs) < 0)
        FAIL("KVM_SET_REGS");
    return 0;
}

int tinyvm_create(struct tinyvm *t, const uint8_t *code, size_t len, const char **what)
{
    t->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (t->kvm < 0)
        FAIL("open /dev/kvm");
    t->vm = ioctl(t->kvm, KVM_CREATE_VM, 0);
    if (t->vm < 0)
        FAIL("KVM_CREATE_VM");
    t->mem = mmap(NULL, TINYVM_MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t->mem == MAP_FAILED)
        FAIL("mmap guest memory");
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = TINYVM_MEM,
        .userspace_addr = (uint64_t)(uintptr_t)t->mem,
    };
    if (ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        FAIL("KVM_SET_USER_MEMORY_REGION");
    t->vcpu = ioctl(t->vm, KVM_CREATE_VCPU, 0);
    if (t->vcpu < 0)
        FAIL("KVM_CREATE_VCPU");
    int run_size = ioctl(t->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    t->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->vcpu, 0);
    if (t->run == MAP_FAILED)
        FAIL("mmap kvm_run");
    return tinyvm_reset(t, code, len, what);
}
