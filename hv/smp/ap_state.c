#include "hv/smp/ap_state.h"

#define MODE(w) ((enum ap_mode)((w) & 0xFF))
#define WORD(mode, vector) ((uint32_t)(mode) | (uint32_t)(vector) << 8)

static uint32_t load(const struct ap_state *s)
{
    return __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
}

static bool swap(struct ap_state *s, uint32_t *old, uint32_t new)
{
    return __atomic_compare_exchange_n(&s->word, old, new, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

enum ap_mode ap_state_mode(const struct ap_state *s)
{
    return MODE(load(s));
}

bool ap_state_init(struct ap_state *s)
{
    uint32_t w = load(s);
    for (;;) {
        enum ap_mode m = MODE(w);
        if (m == AP_INIT || m == AP_WAIT_SIPI)
            return false; /* already waiting for a SIPI */
        if (swap(s, &w, WORD(AP_INIT, 0)))
            return m == AP_RUNNING; /* from SIPI: the target is in L0 already */
    }
}

enum ap_sipi_result ap_state_sipi(struct ap_state *s, uint8_t vector)
{
    uint32_t w = load(s);
    for (;;) {
        enum ap_mode m = MODE(w);
        if (m == AP_RUNNING)
            return AP_SIPI_IGNORED_RUNNING;
        if (m == AP_SIPI)
            return AP_SIPI_IGNORED_PENDING;
        if (swap(s, &w, WORD(AP_SIPI, vector)))
            return AP_SIPI_ACCEPTED;
    }
}

bool ap_state_reset_due(const struct ap_state *s)
{
    enum ap_mode m = MODE(load(s));
    return m == AP_INIT || m == AP_SIPI;
}

void ap_state_reset_done(struct ap_state *s)
{
    uint32_t w = WORD(AP_INIT, 0);
    swap(s, &w, WORD(AP_WAIT_SIPI, 0)); /* a SIPI (or nothing new) stays */
}

bool ap_state_take_sipi(struct ap_state *s, uint8_t *vector)
{
    uint32_t w = load(s);
    while (MODE(w) == AP_SIPI) {
        if (swap(s, &w, WORD(AP_RUNNING, 0))) {
            *vector = (uint8_t)(w >> 8);
            return true;
        }
    }
    return false;
}
