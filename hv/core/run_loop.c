#include "hv/core/run_loop.h"
#include "hv/smp/ap_start.h"
#include "hv/console/console.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/core/fpu.h"
#include "hv/core/exception.h"
#include "hv/core/log.h"
#include "arch/x86/cpu.h"
#include "hv/nested/l1_gif.h"
#include "hv/nested/nested.h"
#include "hv/console/stats.h"
#include "hv/tlb/tlb.h"

/* The VMCB just left holds the hypervisor's own state: the CPU took a
 * #VMEXIT from the host itself, so the guest's state is gone and nothing
 * can resume it. Seen only on QEMU's multi-threaded TCG, which can lose
 * cpu0's nested-paging change at a #VMEXIT (docs/design.md, "QEMU's
 * multi-threaded TCG"); say so instead of letting the guest run on that
 * image into a triple fault. */
static void __attribute__((noinline)) check_host_state_in_vmcb(struct vcpu *v)
{
    const struct vmcb_save *s = &v->vmcb.va->save;
    if (!vmcb_save_is_host_image(s, (uint64_t)svm_run_resume, read_cr3()))
        return; /* a guest RIP that happens to match */
    pr_err("cpu%u: the CPU wrote the hypervisor's own state into the VMCB at %#lx at this "
           "#VMEXIT (RIP after svm_run's VMRUN, the host's CR3 %#lx, exit code %#lx): the "
           "guest's state is lost. QEMU 10.0's multi-threaded TCG does this now and then "
           "(docs/design.md, \"QEMU's multi-threaded TCG\"); real SVM hardware does not",
           v->id, v->vmcb.pa, s->cr3, v->vmcb.va->control.exitcode);
    vcpu_dump(v, "host state in a VMCB");
    hv_fatal_stop();
}

void run_loop(struct vcpu *v)
{
    for (;;) {
        vcpu_service_requests(v); /* what other CPUs left: INIT, SIPI, flushes */
        tlb_apply_requests(v);
        fpu_guest_restore(v);
        stats_exit_done(&v->stats);
        svm_run(&v->regs, v->vmcb.pa, v->guest_cpu.pa, v->host_state_pa, l1_gif_host_if(v));
        tlb_vmrun_done(v);
        if (__builtin_expect(v->vmcb.va->save.rip == (uint64_t)svm_run_resume, 0))
            check_host_state_in_vmcb(v);
        stats_exit_begin(&v->stats, &v->vmcb.va->control, v->vmcb.va->save.rip);
        exit_dispatch(v);
        /* The boot CPU looks at the UART every CONSOLE_POLL_EVERY exits
         * (hv/console/console.h); a decrement and a branch on the hot path. */
        if (__builtin_expect(--v->console_countdown == 0, 0))
            console_poll(v);
    }
}
