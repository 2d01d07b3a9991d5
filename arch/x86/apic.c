#include "arch/x86/apic.h"

#define XAPIC_BROADCAST 0xFFu
#define X2APIC_BROADCAST 0xFFFFFFFFu
#define DFR_FLAT 0xFu /* DFR[31:28]: 1111b flat, 0000b cluster */

struct icr icr_decode(uint64_t icr, bool x2apic)
{
    uint32_t lo = (uint32_t)icr;
    return (struct icr){
        .vector = ICR_VECTOR(lo),
        .mode = (enum icr_mode)ICR_MODE(lo),
        .shorthand = (enum icr_shorthand)ICR_SHORTHAND(lo),
        .logical = (lo & ICR_LOGICAL) != 0,
        .assert = (lo & ICR_LEVEL_ASSERT) != 0,
        .level = (lo & ICR_TRIGGER_LEVEL) != 0,
        .dest = x2apic ? (uint32_t)(icr >> 32) : (uint32_t)(icr >> 56),
        .x2apic = x2apic,
    };
}

bool icr_is_init_deassert(const struct icr *i)
{
    return i->mode == ICR_MODE_INIT && !i->assert && i->level;
}

uint32_t x2apic_ldr(uint32_t apic_id)
{
    return (apic_id >> 4) << 16 | 1u << (apic_id & 0xF);
}

/* xAPIC logical: flat model, an 8-bit mask against LDR[31:24]; cluster
 * model, DEST[7:4] names the cluster and DEST[3:0] its members (16.6.2). */
static bool xapic_logical_match(uint8_t dest, uint32_t ldr, uint32_t dfr)
{
    uint8_t id = (uint8_t)(ldr >> 24);
    if (dest == XAPIC_BROADCAST)
        return true;
    if ((dfr >> 28) == DFR_FLAT)
        return (id & dest) != 0;
    return (id >> 4) == (dest >> 4) && (id & dest & 0xF) != 0;
}

/* x2APIC logical: DEST[31:16] the cluster, DEST[15:0] a member mask. */
static bool x2apic_logical_match(uint32_t dest, uint32_t apic_id)
{
    uint32_t ldr = x2apic_ldr(apic_id);
    if (dest == X2APIC_BROADCAST)
        return true;
    return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xFFFF) != 0;
}

bool icr_targets(const struct icr *i, uint32_t sender_id, const struct apic_target *t)
{
    switch (i->shorthand) {
    case ICR_SELF:
        return t->apic_id == sender_id;
    case ICR_ALL_INCL_SELF:
        return true;
    case ICR_ALL_EXCL_SELF:
        return t->apic_id != sender_id;
    case ICR_DEST_FIELD:
        break;
    }
    if (!i->logical) {
        if (i->dest == (i->x2apic ? X2APIC_BROADCAST : XAPIC_BROADCAST))
            return true;
        return t->apic_id == i->dest;
    }
    if (i->x2apic)
        return x2apic_logical_match(i->dest, t->apic_id);
    return xapic_logical_match((uint8_t)i->dest, t->ldr, t->dfr);
}
