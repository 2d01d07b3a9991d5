/* Requests between CPUs (hv/smp/vcpu_request.c): real threads stand for the
 * CPUs. Each target runs a loop like the run loop (serve requests, then
 * "VMRUN" with what it knows); the requester protects a page (bumps a
 * generation), asks every other CPU to flush and relies on it once the
 * request returns: no target may then run with a generation older than
 * the requester's, and two CPUs asking each other at once must not
 * deadlock. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/core/log.h"
#include "hv/smp/vcpu_request.h"

#define NCPUS 4
#define ROUNDS 500

static struct vcpu cpus[NCPUS];
static uint64_t npt01_gen;            /* "NPT01": bumped when rights go */
static uint64_t seen_gen[NCPUS];      /* what each CPU's TLB reflects */
static int flush_owed[NCPUS];         /* recorded, paid at its next "VMRUN" */
static volatile int stop;
static int violations;

void log_printf(enum log_level level, const char *fmt, ...) { (void)level; (void)fmt; }
unsigned vcpu_count(void) { return NCPUS; }
struct vcpu *vcpu_by_index(unsigned i) { return i < NCPUS ? &cpus[i] : NULL; }
void apic_kick(struct vcpu *t) { __atomic_fetch_add(&t->kicks, 1, __ATOMIC_RELAXED); }
/* (the real apic_kick sends at most one NMI in flight; counted here) */
void tlb_npt01_changed(struct vcpu *v)
{
    __atomic_store_n(&flush_owed[v->id], 1, __ATOMIC_RELEASE);
}

/* VMRUN: an owed flush makes the TLB match NPT01 as it is then. */
static void vmrun(struct vcpu *v)
{
    /* Only the CPU itself records or pays its flushes (as in the policy). */
    if (__atomic_load_n(&flush_owed[v->id], __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&seen_gen[v->id], __atomic_load_n(&npt01_gen, __ATOMIC_ACQUIRE),
                         __ATOMIC_RELEASE);
        __atomic_store_n(&flush_owed[v->id], 0, __ATOMIC_RELEASE);
    }
}

static void *target(void *arg)
{
    struct vcpu *v = arg;
    while (!stop) {
        vcpu_serve_requests(v); /* the top of the run loop */
        vmrun(v);
    }
    return NULL;
}

static void protect_and_rely(struct vcpu *self)
{
    uint64_t gen = __atomic_add_fetch(&npt01_gen, 1, __ATOMIC_ACQ_REL);
    tlb_npt01_changed(self);
    vcpu_request_all(self, VCPU_REQ_NPT01_FLUSH);
    /* Every CPU either owes the flush before its next VMRUN or flushed
     * since (read in this order: a VMRUN stores seen before clearing owed).
     * Counted, not asserted: cmocka's asserts belong to the main thread. */
    for (unsigned i = 0; i < NCPUS; i++) {
        if (!cpus[i].launched)
            continue;
        bool owed = __atomic_load_n(&flush_owed[i], __ATOMIC_ACQUIRE);
        bool seen = __atomic_load_n(&seen_gen[i], __ATOMIC_ACQUIRE) >= gen;
        if (!owed && !seen)
            __atomic_fetch_add(&violations, 1, __ATOMIC_RELAXED);
    }
}

static void setup_cpus(void)
{
    memset(cpus, 0, sizeof cpus);
    memset(seen_gen, 0, sizeof seen_gen);
    memset(flush_owed, 0, sizeof flush_owed);
    violations = 0;
    npt01_gen = 0;
    stop = 0;
    for (unsigned i = 0; i < NCPUS; i++) {
        cpus[i].id = i;
        cpus[i].launched = true;
    }
}

static void test_every_cpu_flushes_before_the_requester_relies(void **state)
{
    (void)state;
    setup_cpus();
    pthread_t t[NCPUS];
    for (unsigned i = 1; i < NCPUS; i++)
        pthread_create(&t[i], NULL, target, &cpus[i]);
    for (int r = 0; r < ROUNDS; r++)
        protect_and_rely(&cpus[0]);
    stop = 1;
    for (unsigned i = 1; i < NCPUS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(violations, 0);
    assert_true(cpus[1].kicks >= ROUNDS); /* each round made them exit */
}

/* A CPU the firmware still owns is not asked (and not waited for). */
static void test_unlaunched_cpus_are_skipped(void **state)
{
    (void)state;
    setup_cpus();
    for (unsigned i = 1; i < NCPUS; i++)
        cpus[i].launched = false;
    vcpu_request_all(&cpus[0], VCPU_REQ_NPT01_FLUSH); /* returns at once */
    assert_int_equal(cpus[1].requests, 0);
    assert_int_equal(cpus[1].kicks, 0);
}

static int done;
static void *requester(void *arg)
{
    struct vcpu *v = arg;
    for (int r = 0; r < ROUNDS; r++) {
        protect_and_rely(v);
        vmrun(v);
    }
    __atomic_fetch_add(&done, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < NCPUS) { /* the run loop goes on */
        vcpu_serve_requests(v);
        vmrun(v);
    }
    return NULL;
}

static void test_cpus_asking_each_other_do_not_deadlock(void **state)
{
    (void)state;
    setup_cpus();
    pthread_t t[NCPUS];
    done = 0;
    for (unsigned i = 0; i < NCPUS; i++)
        pthread_create(&t[i], NULL, requester, &cpus[i]);
    for (unsigned i = 0; i < NCPUS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(violations, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cpu_flushes_before_the_requester_relies),
        cmocka_unit_test(test_unlaunched_cpus_are_skipped),
        cmocka_unit_test(test_cpus_asking_each_other_do_not_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
