/* A test-and-test-and-set spinlock for the few structures the CPUs share
 * (the page pool, NPT01, the log). The host never takes interrupts (GIF
 * stays clear), so nothing can preempt a holder but a fault. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct spinlock {
    uint32_t locked;
};

static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

static inline bool spin_trylock(struct spinlock *l)
{
    return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void spin_lock(struct spinlock *l)
{
    while (!spin_trylock(l))
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            cpu_relax();
}

static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
