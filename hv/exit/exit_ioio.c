/* IN/OUT to the ports L0 watches (the IOPM; hv/core/launch.c): the serial
 * console's data and line status registers (hv/console/console.c), the reset control
 * register 0xCF9 and ACPI's PM1a control port. L0 notes that L1 is about to
 * reset or power off the machine (and prints the exit statistics if
 * print_stats is set), then performs the access for L1 on the hardware.
 * Next RIP comes from EXITINFO2 (APM 15.10.2). */
#include "hv/exit/exit_dispatch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/svm.h"
#include "hv/console/console.h"
#include "hv/core/exception.h"
#include "hv/memory/iommu.h"
#include "hv/core/log.h"
#include "hv/console/stats.h"

#define PORT_RESET_CONTROL 0xCF9
#define RESET_CONTROL_RST_CPU 0x04
#define PM1_CNT_SLP_EN (1u << 13)

static uint16_t pm1a_cnt_port;
static int s5_slp_typ = -1;
static bool print_stats;

void ioio_init(uint16_t pm1a_port, int s5_sleep_type, bool print_stats_at_end)
{
    pm1a_cnt_port = pm1a_port;
    s5_slp_typ = s5_sleep_type;
    print_stats = print_stats_at_end;
}

uint16_t ioio_pm1a_port(void)
{
    return pm1a_cnt_port;
}

int ioio_s5_sleep_type(void)
{
    return s5_slp_typ;
}

static void machine_ends(const char *how)
{
    pr_info("L1 %s", how);
    iommu_report();
    if (print_stats)
        stats_print();
}

static void watch_out(uint16_t port, uint32_t val)
{
    if (port == PORT_RESET_CONTROL && (val & RESET_CONTROL_RST_CPU))
        machine_ends("resets the machine (port 0xCF9)");
    else if (pm1a_cnt_port && port == pm1a_cnt_port && (val & PM1_CNT_SLP_EN))
        machine_ends("powers off or suspends the machine (ACPI PM1a SLP_EN)");
}

void exit_ioio(struct vcpu *v)
{
    uint64_t info = v->vmcb.va->control.exitinfo1;
    uint16_t port = (uint16_t)(info >> SVM_IOIO_PORT_SHIFT);
    if ((info & (SVM_IOIO_STR | SVM_IOIO_REP)) && console_give_up(port))
        return; /* not intercepted any more: the instruction runs again, natively */
    if (info & (SVM_IOIO_STR | SVM_IOIO_REP)) {
        vcpu_dump(v, "string I/O on a watched port is not emulated");
        hv_fatal_stop();
    }
    uint64_t *rax = &v->vmcb.va->save.rax;
    if ((info & SVM_IOIO_SZ8) && console_ioio(v, port, info & SVM_IOIO_TYPE_IN, rax)) {
        vcpu_skip_insn(v);
        return;
    }
    if (info & SVM_IOIO_TYPE_IN) {
        if (info & SVM_IOIO_SZ8)
            *rax = (*rax & ~0xFFULL) | inb(port);
        else if (info & SVM_IOIO_SZ16)
            *rax = (*rax & ~0xFFFFULL) | inw(port);
        else
            *rax = inl(port); /* a 32-bit IN zero-extends into RAX */
    } else {
        uint32_t val = (uint32_t)*rax;
        watch_out(port, val);
        if (info & SVM_IOIO_SZ8)
            outb(port, (uint8_t)val);
        else if (info & SVM_IOIO_SZ16)
            outw(port, (uint16_t)val);
        else
            outl(port, val);
    }
    vcpu_skip_insn(v);
}
