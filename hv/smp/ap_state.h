/* INIT and SIPI of one vCPU (APM Vol. 2, 16.5 "Interprocessor Interrupts";
 * 14.1 "Processor Initialization"): what the hypervisor emulates because
 * SVM cannot intercept a SIPI and QEMU's INIT intercept resets the CPU
 * (docs/design.md, "Several CPUs").
 *
 * Senders (any CPU, in the ICR emulation) and the target (at its next
 * exit) change one atomic word; the pure functions here are the whole
 * state machine, unit-tested in tests/unit/test_ap_state.c:
 *
 *   RUNNING   --INIT-->  INIT       (the sender must make the target exit)
 *   INIT      --target resets itself-->  WAIT_SIPI
 *   INIT, WAIT_SIPI --SIPI(v)--> SIPI(v)   (an INIT means wait-for-SIPI at
 *                                           once, even before the target
 *                                           has reset itself)
 *   SIPI(v)   --target starts at v * 4096-->  RUNNING
 *   SIPI(v)   --INIT-->  INIT       (the new INIT wins, as on a CPU)
 *   RUNNING, SIPI(v) --SIPI--> unchanged: a SIPI to a CPU that is not
 *                                         waiting for one is ignored, as
 *                                         the hardware does (the second
 *                                         SIPI of INIT-SIPI-SIPI lands so)
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

enum ap_mode {
    AP_RUNNING = 0,
    AP_INIT = 1,      /* INIT received, the target has not reset yet */
    AP_WAIT_SIPI = 2, /* reset, waiting in the hypervisor for a SIPI */
    AP_SIPI = 3,      /* SIPI received, vector in bits 15:8 */
};

struct ap_state {
    uint32_t word; /* enum ap_mode | vector << 8 */
};

enum ap_sipi_result {
    AP_SIPI_ACCEPTED,
    AP_SIPI_IGNORED_RUNNING, /* not in wait-for-SIPI */
    AP_SIPI_IGNORED_PENDING, /* a SIPI already waits to be taken */
};

/* Sender of an INIT. true: the target was running and must be made to
 * exit (it resets at its next exit). */
bool ap_state_init(struct ap_state *s);
/* Sender of a SIPI with this vector. */
enum ap_sipi_result ap_state_sipi(struct ap_state *s, uint8_t vector);
/* Target, at an exit: must it reset (an INIT came, with or without a SIPI
 * after it)? */
bool ap_state_reset_due(const struct ap_state *s);
/* Target, after resetting (and again while waiting): INIT -> WAIT_SIPI. */
void ap_state_reset_done(struct ap_state *s);
/* Target, waiting: true with the vector once a SIPI came (-> RUNNING). */
bool ap_state_take_sipi(struct ap_state *s, uint8_t *vector);
enum ap_mode ap_state_mode(const struct ap_state *s);
