#include "hv/core/run_loop.h"
#include "hv/smp/ap_start.h"
#include "hv/console/console.h"
#include "hv/exit/exit_dispatch.h"
#include "hv/core/fpu.h"
#include "hv/nested/l1_gif.h"
#include "hv/nested/nested.h"
#include "hv/console/stats.h"
#include "hv/tlb/tlb.h"

void run_loop(struct vcpu *v)
{
    for (;;) {
        vcpu_service_requests(v); /* what other CPUs left: INIT, SIPI, flushes */
        tlb_apply_requests(v);
        fpu_guest_restore(v);
        stats_exit_done(&v->stats);
        svm_run(&v->regs, v->vmcb.pa, v->guest_cpu.pa, v->host_state_pa, l1_gif_host_if(v));
        tlb_vmrun_done(v);
        stats_exit_begin(&v->stats, &v->vmcb.va->control, v->vmcb.va->save.rip);
        exit_dispatch(v);
        /* The boot CPU looks at the UART every CONSOLE_POLL_EVERY exits
         * (hv/console/console.h); a decrement and a branch on the hot path. */
        if (__builtin_expect(--v->console_countdown == 0, 0))
            console_poll(v);
    }
}
