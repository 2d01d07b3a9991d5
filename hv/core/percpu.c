#include "hv/core/percpu.h"
#include "arch/x86/cpu.h"
#include "arch/x86/msr.h"
#include "hv/core/fpu.h"
#include "hv/core/memory.h"
#include "hv/core/boot_info.h"

static struct vcpu *vcpus[HV_MAX_CPUS];
static uint32_t nvcpus;

bool percpu_init(uint32_t ncpus, const uint32_t *apic_ids)
{
    uint64_t pages = (sizeof(struct vcpu) + 4095) / 4096, pa;
    if (ncpus == 0 || ncpus > HV_MAX_CPUS)
        return false;
    for (uint32_t i = 0; i < ncpus; i++) {
        struct vcpu *v = hv_alloc_zeroed(pages, &pa);
        if (!v)
            return false;
        v->self = v;
        v->id = i;
        v->apic_id = apic_ids[i];
        stats_init(&v->stats);
        vcpus[i] = v;
    }
    percpu_enter(vcpus[0]); /* this is the boot CPU */
    fpu_adopt_boot_state(vcpus[0]);
    __atomic_store_n(&nvcpus, ncpus, __ATOMIC_RELEASE);
    return true;
}

void percpu_enter(struct vcpu *v)
{
    wrmsr(MSR_GS_BASE, (uint64_t)v);
}

struct vcpu *vcpu_current(void)
{
    struct vcpu *v;
    if (!__atomic_load_n(&nvcpus, __ATOMIC_ACQUIRE))
        return 0;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(v));
    return v;
}

unsigned vcpu_count(void)
{
    return __atomic_load_n(&nvcpus, __ATOMIC_ACQUIRE);
}

struct vcpu *vcpu_by_index(unsigned i)
{
    return i < vcpu_count() ? vcpus[i] : 0;
}

uint32_t cpu_apic_id(void)
{
    if (cpuid(0, 0).eax >= 0xB && cpuid(0xB, 0).ebx != 0)
        return cpuid(0xB, 0).edx; /* the full x2APIC ID */
    return cpuid(1, 0).ebx >> 24;
}
