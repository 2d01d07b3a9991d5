/* A tiny KVM VM for the L1 Linux test programs (kvmrun, kvmbench): 64 KiB
 * of guest memory, one vCPU in real mode at CS:IP 0:0x1000 running the
 * bytes given. Here the VM is L2 on our hypervisor (KVM in L1 is the guest
 * hypervisor). */
#pragma once
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#define TINYVM_MEM 0x10000
#define TINYVM_CODE_AT 0x1000

struct tinyvm {
    int kvm, vm, vcpu;
    uint8_t *mem;
    struct kvm_run *run;
};

/* 0, or -1 with errno set and *what naming the step that failed. */
int tinyvm_create(struct tinyvm *t, const uint8_t *code, size_t len, const char **what);
/* Back to the first instruction, with the code replaced. */
int tinyvm_reset(struct tinyvm *t, const uint8_t *code, size_t len, const char **what);
