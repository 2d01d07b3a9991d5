#include "hv/core/exception.h"
#include "arch/x86/vectors.h"
#include "arch/x86/cpu.h"
#include "hv/core/fpu.h"
#include "hv/core/log.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/core/percpu.h"
#include "hv/core/symbols.h"
#include <stdio.h>

#define BACKTRACE_MAX 16

static enum fault_action fault_action = FAULT_HALT;
static uint64_t frame_lo, frame_hi; /* where saved frame pointers may live */
static int fatal_depth_boot; /* before the CPU has a vCPU */

void exception_init(enum fault_action action, uint64_t stack_lo, uint64_t stack_hi)
{
    fault_action = action;
    frame_lo = stack_lo;
    frame_hi = stack_hi;
}

const char *exception_name(unsigned vector)
{
    static const char *const names[32] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
        "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "reserved",
        "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "reserved", "reserved",
        "reserved", "reserved", "reserved", "reserved", "#HV", "#VC", "#SX", "reserved",
    };
    return vector < 32 ? names[vector] : "interrupt";
}

static void print_addr(const char *label, uint64_t addr)
{
    uint64_t off;
    const char *sym = symbol_lookup(addr, &off);
    if (sym)
        pr_err("%s%016lx <%s+0x%lx>", label, addr, sym, off);
    else
        pr_err("%s%016lx", label, addr);
}

static void dump_registers(const struct exc_frame *f)
{
    print_addr("RIP=", f->rip);
    pr_err("CS=%04lx SS=%04lx RFLAGS=%016lx RSP=%016lx", f->cs, f->ss, f->rflags, f->rsp);
    pr_err("RAX=%016lx RBX=%016lx RCX=%016lx", f->rax, f->rbx, f->rcx);
    pr_err("RDX=%016lx RSI=%016lx RDI=%016lx", f->rdx, f->rsi, f->rdi);
    pr_err("RBP=%016lx R8 =%016lx R9 =%016lx", f->rbp, f->r8, f->r9);
    pr_err("R10=%016lx R11=%016lx R12=%016lx", f->r10, f->r11, f->r12);
    pr_err("R13=%016lx R14=%016lx R15=%016lx", f->r13, f->r14, f->r15);
    pr_err("CR0=%016lx CR2=%016lx CR3=%016lx CR4=%016lx",
           read_cr0(), read_cr2(), read_cr3(), read_cr4());
}

/* Walks the frame-pointer chain (the core is built with frame pointers),
 * trusting only frames inside the core's own memory. */
static void dump_backtrace(const struct exc_frame *f)
{
    pr_err("backtrace:");
    print_addr("  #0  ", f->rip);
    uint64_t rbp = f->rbp;
    for (int i = 1; i < BACKTRACE_MAX; i++) {
        if (rbp < frame_lo || rbp + 16 > frame_hi || (rbp & 7))
            break;
        const uint64_t *frame = (const uint64_t *)rbp;
        char label[16];
        snprintf(label, sizeof label, "  #%-2d ", i);
        print_addr(label, frame[1]);
        if (frame[0] <= rbp)
            break; /* frames only grow upwards: stop on a loop */
        rbp = frame[0];
    }
}

void exception_dispatch(struct exc_frame *f)
{
    if (f->vector == VEC_NM && fpu_handle_nm())
        return;
    /* An NMI reaches the host only when an NMI exit lets it in (STGI,
     * hv/smp/ap_start.c): it has been handled already. */
    if (f->vector == VEC_NMI)
        return;
    struct vcpu *v = vcpu_current();
    /* A physical INIT held while GIF was clear, let in by that STGI as #SX
     * (VM_CR.R_INIT, hv/exit/exit_init.c): an INIT of this vCPU. */
    if (f->vector == VEC_SX && v) {
        exit_init_sx(v);
        return;
    }
    int *depth = v ? &v->fatal_depth : &fatal_depth_boot;
    if ((*depth)++) {
        log_emergency("\n" LOG_PREFIX "error: fault while reporting a fault; CPU halted\n");
        if (v) /* the others must not wait for it (hv/smp/vcpu_request.c) */
            __atomic_store_n(&v->launched, false, __ATOMIC_RELEASE);
        cpu_halt_forever();
    }
    pr_err("FATAL: host exception %s (vector %lu), error code 0x%lx",
           exception_name((unsigned)f->vector), f->vector, f->error);
    dump_registers(f);
    dump_backtrace(f);
    if (v && v->stats.total) /* what the guest did last may explain it */
        stats_print_last_exits(&v->stats);
    hv_fatal_stop();
}

/* Reset through the chipset's reset control register (0xCF9), then the
 * keyboard controller; if both fail, a triple fault resets any PC. */
static __attribute__((noreturn)) void machine_reset(void)
{
    outb(0xCF9, 0x02);
    outb(0xCF9, 0x06);
    outb(0x64, 0xFE);
    static const struct __attribute__((packed)) { uint16_t limit; uint64_t base; } no_idt = { 0, 0 };
    __asm__ volatile("lidt %0; int3" ::"m"(no_idt));
    cpu_halt_forever();
}

void hv_fatal_stop(void)
{
    /* Other CPUs must not wait for this one any more (hv/smp/vcpu_request.c). */
    struct vcpu *v = vcpu_current();
    if (v)
        __atomic_store_n(&v->launched, false, __ATOMIC_RELEASE);
    if (fault_action == FAULT_RESET) {
        pr_err("resetting the machine (on_fault=reset)");
        machine_reset();
    }
    pr_err("CPU halted (on_fault=halt)");
    cpu_halt_forever();
}
