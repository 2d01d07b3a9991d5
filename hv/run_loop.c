#include "hv/run_loop.h"
#include "hv/exit_dispatch.h"
#include "hv/fpu.h"
#include "hv/l1_gif.h"
#include "hv/nested.h"
#include "hv/stats.h"
#include "hv/tlb.h"

void run_loop(struct vcpu *v)
{
    for (;;) {
        tlb_apply_requests(v);
        fpu_guest_restore();
        stats_exit_done();
        svm_run(&v->regs, v->vmcb_pa, v->guest_cpu_pa, v->host_state_pa, l1_gif_host_if(v));
        stats_exit_begin(&v->vmcb->control, v->vmcb->save.rip);
        exit_dispatch(v);
    }
}
