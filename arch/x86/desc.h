/* Segment descriptors, the 64-bit TSS and IDT gates (APM Vol. 2, 4.8 and
 * 8.9 / 12.2.5). Layouts are checked at compile time. */
#pragma once
#include <stdint.h>
#include <stddef.h>

/* The core's GDT, built by the loader: selectors are fixed. */
enum gdt_selector {
    SEL_NULL = 0x00,
    SEL_CODE64 = 0x08,
    SEL_DATA = 0x10,
    SEL_TSS = 0x18, /* 16-byte system descriptor: occupies two slots */
    GDT_ENTRIES = 5,
};

/* Access bytes and flags of the flat 64-bit code and data segments. */
#define GDT_CODE64 0x00AF9A000000FFFFULL /* P, DPL0, code RX, L=1, G */
#define GDT_DATA   0x00CF92000000FFFFULL /* P, DPL0, data RW, D/B, G */
#define TSS_TYPE_AVAILABLE 0x9

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7]; /* ist[0] is IST1 */
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");
_Static_assert(offsetof(struct tss64, rsp) == 0x04, "TSS RSP0");
_Static_assert(offsetof(struct tss64, ist) == 0x24, "TSS IST1");
_Static_assert(offsetof(struct tss64, iomap_base) == 0x66, "TSS I/O map base");

struct __attribute__((packed)) idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;        /* bits 2:0 */
    uint8_t type_attr;  /* P, DPL, type */
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate is 16 bytes");
#define IDT_INTERRUPT_GATE 0x8E /* P, DPL0, 64-bit interrupt gate */

struct __attribute__((packed)) desc_ptr {
    uint16_t limit;
    uint64_t base;
};
_Static_assert(sizeof(struct desc_ptr) == 10, "GDTR/IDTR image is 10 bytes");

/* IST slots the core uses: exceptions that can arrive on a bad stack. */
enum { IST_FAULT = 1 };

static inline void tss_descriptor(uint64_t gdt[2], uint64_t base, uint32_t limit)
{
    gdt[0] = (limit & 0xFFFFULL) | ((base & 0xFFFFFFULL) << 16) |
             ((uint64_t)TSS_TYPE_AVAILABLE << 40) | (1ULL << 47) |
             (((uint64_t)limit >> 16 & 0xF) << 48) | ((base >> 24 & 0xFF) << 56);
    gdt[1] = base >> 32;
}

static inline struct idt_gate idt_gate_make(uint64_t handler, uint8_t ist)
{
    struct idt_gate g = {
        .offset_lo = (uint16_t)handler,
        .selector = SEL_CODE64,
        .ist = ist,
        .type_attr = IDT_INTERRUPT_GATE,
        .offset_mid = (uint16_t)(handler >> 16),
        .offset_hi = (uint32_t)(handler >> 32),
        .reserved = 0,
    };
    return g;
}
