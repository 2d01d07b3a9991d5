#include "hv/console/vmcb_decode.h"
#include <stdio.h>
#include <string.h>
#include "arch/x86/svm.h"

#define F(area, field, label) \
    { label, (uint16_t)offsetof(struct area, field), (uint8_t)sizeof(((struct area *)0)->field) }

static const struct vmcb_field control_fields[] = {
    F(vmcb_control, intercept_cr, "intercept_cr"),
    F(vmcb_control, intercept_dr, "intercept_dr"),
    F(vmcb_control, intercept_exceptions, "intercept_exceptions"),
    F(vmcb_control, intercept_misc1, "intercept_misc1"),
    F(vmcb_control, intercept_misc2, "intercept_misc2"),
    F(vmcb_control, intercept_misc3, "intercept_misc3"),
    F(vmcb_control, pause_filter_thresh, "pause_filter_thresh"),
    F(vmcb_control, pause_filter_count, "pause_filter_count"),
    F(vmcb_control, iopm_base_pa, "iopm_base_pa"),
    F(vmcb_control, msrpm_base_pa, "msrpm_base_pa"),
    F(vmcb_control, tsc_offset, "tsc_offset"),
    F(vmcb_control, guest_asid, "guest_asid"),
    F(vmcb_control, tlb_control, "tlb_control"),
    F(vmcb_control, int_ctl, "int_ctl"),
    F(vmcb_control, int_vector, "int_vector"),
    F(vmcb_control, int_state, "int_state"),
    F(vmcb_control, exitcode, "exitcode"),
    F(vmcb_control, exitinfo1, "exitinfo1"),
    F(vmcb_control, exitinfo2, "exitinfo2"),
    F(vmcb_control, exitintinfo, "exitintinfo"),
    F(vmcb_control, nested_ctl, "nested_ctl"),
    F(vmcb_control, eventinj, "eventinj"),
    F(vmcb_control, n_cr3, "n_cr3"),
    F(vmcb_control, virt_ext, "virt_ext"),
    F(vmcb_control, vmcb_clean, "vmcb_clean"),
    F(vmcb_control, nrip, "nrip"),
};

static const struct vmcb_field save_fields[] = {
    F(vmcb_save, cs.selector, "cs.selector"),
    F(vmcb_save, cs.attrib, "cs.attrib"),
    F(vmcb_save, cs.base, "cs.base"),
    F(vmcb_save, ss.selector, "ss.selector"),
    F(vmcb_save, ds.selector, "ds.selector"),
    F(vmcb_save, gdtr.limit, "gdtr.limit"),
    F(vmcb_save, gdtr.base, "gdtr.base"),
    F(vmcb_save, idtr.limit, "idtr.limit"),
    F(vmcb_save, idtr.base, "idtr.base"),
    F(vmcb_save, tr.selector, "tr.selector"),
    F(vmcb_save, cpl, "cpl"),
    F(vmcb_save, efer, "efer"),
    F(vmcb_save, cr4, "cr4"),
    F(vmcb_save, cr3, "cr3"),
    F(vmcb_save, cr0, "cr0"),
    F(vmcb_save, dr7, "dr7"),
    F(vmcb_save, dr6, "dr6"),
    F(vmcb_save, rflags, "rflags"),
    F(vmcb_save, rip, "rip"),
    F(vmcb_save, rsp, "rsp"),
    F(vmcb_save, rax, "rax"),
    F(vmcb_save, cr2, "cr2"),
    F(vmcb_save, g_pat, "g_pat"),
};

const struct vmcb_field *vmcb_control_fields(size_t *n)
{
    *n = sizeof control_fields / sizeof *control_fields;
    return control_fields;
}

const struct vmcb_field *vmcb_save_fields(size_t *n)
{
    *n = sizeof save_fields / sizeof *save_fields;
    return save_fields;
}

uint64_t vmcb_field_value(const void *area, const struct vmcb_field *f)
{
    const uint8_t *p = (const uint8_t *)area + f->offset;
    switch (f->size) {
    case 1: return *p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

/* Exception mnemonics by vector (APM Vol. 2, 8.2). */
static const char *const excp_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "", "#TS", "#NP",
    "#SS", "#GP", "#PF", "", "#MF", "#AC", "#MC", "#XF", "", "#CP", "", "", "", "",
    "", "", "#HV", "#VC", "#SX", "",
};

int vmcb_decode_event(uint64_t ev, char *buf, size_t n)
{
    if (!(ev & VMCB_EVENT_V))
        return snprintf(buf, n, "none");
    unsigned vector = (unsigned)(ev & VMCB_EVENT_VECTOR_MASK);
    unsigned type = (unsigned)((ev & VMCB_EVENT_TYPE_MASK) >> VMCB_EVENT_TYPE_SHIFT);
    int len;
    switch (type) {
    case 0: len = snprintf(buf, n, "INTR vector %#x", vector); break;
    case 2: len = snprintf(buf, n, "NMI"); break;
    case 3:
        len = snprintf(buf, n, "exception %u (%s)", vector,
                       vector < 32 && excp_names[vector][0] ? excp_names[vector] : "?");
        break;
    case 4: len = snprintf(buf, n, "software interrupt %#x", vector); break;
    default: len = snprintf(buf, n, "reserved type %u vector %#x", type, vector); break;
    }
    if ((ev & VMCB_EVENT_EV) && len >= 0 && (size_t)len < n)
        len += snprintf(buf + len, n - (size_t)len, " error code %#x",
                        (unsigned)(ev >> VMCB_EVENT_ERRORCODE_SHIFT));
    return len;
}

int vmcb_decode_int_ctl(uint32_t v, uint8_t vector, char *buf, size_t n)
{
    static const struct { uint32_t bit; const char *name; } flags[] = {
        { VMCB_INT_CTL_V_IRQ, "V_IRQ" },
        { VMCB_INT_CTL_VGIF, "V_GIF" },
        { VMCB_INT_CTL_V_NMI, "V_NMI" },
        { VMCB_INT_CTL_V_NMI_MASK, "V_NMI_MASK" },
        { VMCB_INT_CTL_V_IGN_TPR, "V_IGN_TPR" },
        { VMCB_INT_CTL_V_INTR_MASKING, "V_INTR_MASKING" },
        { VMCB_INT_CTL_VGIF_ENABLE, "VGIF_ENABLE" },
        { VMCB_INT_CTL_V_NMI_ENABLE, "V_NMI_ENABLE" },
        { VMCB_INT_CTL_X2AVIC_ENABLE, "X2AVIC_ENABLE" },
        { VMCB_INT_CTL_AVIC_ENABLE, "AVIC_ENABLE" },
    };
    int len = snprintf(buf, n, "V_TPR=%#x V_INTR_PRIO=%u V_INTR_VECTOR=%#x",
                       v & VMCB_INT_CTL_V_TPR_MASK,
                       (v & VMCB_INT_CTL_V_INTR_PRIO_MASK) >> VMCB_INT_CTL_V_INTR_PRIO_SHIFT,
                       vector);
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if ((v & flags[i].bit) && len >= 0 && (size_t)len < n)
            len += snprintf(buf + len, n - (size_t)len, " %s", flags[i].name);
    return len;
}

/* Each intercept bit is named after the exit it causes: the vectors of
 * the intercept words map onto the exit codes (APM Appendix C: CR reads
 * 0h + n, writes 10h + n, DR 20h/30h + n, exceptions 40h + n, the vector
 * at 00Ch 60h + n, 010h 80h + n, 014h A0h + n). */
int vmcb_intercept_names(const struct vmcb_control *c, char *buf, size_t n)
{
    const struct { uint32_t word; uint64_t code0; unsigned bits; } words[] = {
        { c->intercept_cr, 0x00, 32 }, { c->intercept_dr, 0x20, 32 },
        { c->intercept_exceptions, 0x40, 32 }, { c->intercept_misc1, 0x60, 32 },
        { c->intercept_misc2, 0x80, 32 }, { c->intercept_misc3, 0xA0, 32 },
    };
    int len = 0;
    buf[0] = 0;
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        for (unsigned b = 0; b < words[w].bits; b++) {
            if (!(words[w].word & (1u << b)) || len < 0 || (size_t)len >= n)
                continue;
            const char *name = svm_exit_name(words[w].code0 + b);
            len += name ? snprintf(buf + len, n - (size_t)len, "%s%s", len ? " " : "", name)
                        : snprintf(buf + len, n - (size_t)len, "%s?%#lx", len ? " " : "",
                                   (unsigned long)(words[w].code0 + b));
        }
    }
    return len;
}
