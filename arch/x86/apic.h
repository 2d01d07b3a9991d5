/* The local APIC as the hypervisor needs it (APM Vol. 2, 16 "Advanced
 * Programmable Interrupt Controller"): register offsets, the interrupt
 * command register (ICR) and its decoding, pure so unit tests can use it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define APIC_BASE_BSP        (1ULL << 8)
#define APIC_BASE_EXTD       (1ULL << 10) /* x2APIC mode */
#define APIC_BASE_ENABLE     (1ULL << 11)
#define MSR_X2APIC_ICR       0x830u
#define MSR_X2APIC_FIRST     0x800u
#define MSR_X2APIC_LAST      0x8FFu

/* xAPIC register offsets in the 4 KiB page (16.3.2 Table 16-2). */
#define APIC_REG_ID   0x020
#define APIC_REG_EOI  0x0B0
#define APIC_REG_LDR  0x0D0
#define APIC_REG_DFR  0x0E0
#define APIC_REG_ICR_LO 0x300
#define APIC_REG_ICR_HI 0x310

/* ICR fields (16.5, Figure 16-18). */
#define ICR_VECTOR(icr)      ((uint8_t)(icr))
#define ICR_MODE(icr)        ((unsigned)((icr) >> 8) & 7)
#define ICR_LOGICAL          (1u << 11)
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_LEVEL_ASSERT     (1u << 14)
#define ICR_TRIGGER_LEVEL    (1u << 15)
#define ICR_SHORTHAND(icr)   ((unsigned)((icr) >> 18) & 3)

/* x2APIC ICR bits that must be 0: 12 (no delivery status), 13, 16-17,
 * 20-31 (16.12 / the x2APIC spec); a WRMSR with one set #GPs. */
#define X2APIC_ICR_RESERVED 0x00000000FFF33000ULL

enum icr_mode {
    ICR_MODE_FIXED = 0, ICR_MODE_LOWEST = 1, ICR_MODE_SMI = 2, ICR_MODE_NMI = 4,
    ICR_MODE_INIT = 5, ICR_MODE_STARTUP = 6, ICR_MODE_EXTINT = 7,
};
enum icr_shorthand {
    ICR_DEST_FIELD = 0, ICR_SELF = 1, ICR_ALL_INCL_SELF = 2, ICR_ALL_EXCL_SELF = 3,
};

/* One ICR write, decoded. xAPIC: the destination is ICR[63:56]; x2APIC:
 * ICR[63:32]. */
struct icr {
    uint8_t vector;
    enum icr_mode mode;
    enum icr_shorthand shorthand;
    bool logical, assert, level;
    uint32_t dest;
    bool x2apic;
};
struct icr icr_decode(uint64_t icr, bool x2apic);
/* INIT with level de-assert (the old "INIT level de-assert" that only
 * synchronizes arbitration IDs): no effect on a CPU since the P6/K7. */
bool icr_is_init_deassert(const struct icr *i);

/* A possible target of an IPI: its APIC ID and, for xAPIC logical
 * destinations, its LDR and DFR as its OS programmed them. */
struct apic_target {
    uint32_t apic_id, ldr, dfr;
};
/* Is t among the destinations of i, sent by the CPU with sender_id? */
bool icr_targets(const struct icr *i, uint32_t sender_id, const struct apic_target *t);
/* The x2APIC logical ID the hardware derives from the x2APIC ID (16.12). */
uint32_t x2apic_ldr(uint32_t apic_id);
