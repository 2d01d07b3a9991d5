#include "boot/mp.h"
#include "arch/x86/cpu.h"

/* GNU-EFI has no header for it: the protocol's layout as the PI spec
 * (Vol. 2, 13.4) defines it. */
static EFI_GUID mp_guid = { 0x3fdda605, 0xa76e, 0x4f46,
                            { 0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08 } };
#define PROCESSOR_AS_BSP_BIT 0x1
#define PROCESSOR_ENABLED_BIT 0x2

struct processor_info {
    UINT64 processor_id;
    UINT32 status_flag;
    UINT32 package, core, thread;
    UINT32 extended[6]; /* PI 1.7's extended location, if ever written */
};

/* Called by the firmware: the UEFI (Microsoft x64) calling convention. */
typedef void (__attribute__((ms_abi)) *ap_procedure)(void *arg);
struct mp_services {
    EFI_STATUS (EFIAPI *get_number_of_processors)(struct mp_services *, UINTN *total,
                                                  UINTN *enabled);
    EFI_STATUS (EFIAPI *get_processor_info)(struct mp_services *, UINTN number,
                                            struct processor_info *info);
    EFI_STATUS (EFIAPI *startup_all_aps)(struct mp_services *, ap_procedure, BOOLEAN single,
                                         EFI_EVENT wait, UINTN timeout_us, void *arg,
                                         UINTN **failed);
    EFI_STATUS (EFIAPI *startup_this_ap)(struct mp_services *, ap_procedure, UINTN number,
                                         EFI_EVENT wait, UINTN timeout_us, void *arg,
                                         BOOLEAN *finished);
    void *switch_bsp, *enable_disable_ap, *who_am_i;
};

static struct mp_services *mp_protocol(void)
{
    struct mp_services *mp = NULL;
    if (EFI_ERROR(LibLocateProtocol(&mp_guid, (void **)&mp)))
        return NULL;
    return mp;
}

UINT32 mp_list_cpus(struct mp_cpu *cpus, UINT32 max)
{
    struct mp_services *mp = mp_protocol();
    UINTN total = 1, enabled = 1;
    if (!mp || EFI_ERROR(uefi_call_wrapper(mp->get_number_of_processors, 3, mp, &total, &enabled))) {
        cpus[0] = (struct mp_cpu){ 0, cpuid(1, 0).ebx >> 24, TRUE };
        return 1;
    }
    UINT32 n = 1; /* slot 0 is the boot CPU's */
    for (UINTN i = 0; i < total; i++) {
        struct processor_info pi;
        ZeroMem(&pi, sizeof pi);
        if (EFI_ERROR(uefi_call_wrapper(mp->get_processor_info, 3, mp, i, &pi)))
            continue;
        struct mp_cpu c = { i, (UINT32)pi.processor_id,
                            (pi.status_flag & PROCESSOR_ENABLED_BIT) != 0 };
        if (pi.status_flag & PROCESSOR_AS_BSP_BIT)
            cpus[0] = c;
        else if (n < max)
            cpus[n++] = c;
        else
            n++;
    }
    return n;
}

/* The firmware calls the AP procedure with the UEFI calling convention;
 * the loader's own functions use the System V one. */
static void __attribute__((ms_abi)) ap_trampoline(void *p)
{
    struct mp_call *call = p;
    call->fn(call->arg);
}

EFI_STATUS mp_run_on(UINTN number, mp_ap_fn fn, void *arg, UINTN timeout_us)
{
    struct mp_services *mp = mp_protocol();
    if (!mp)
        return EFI_UNSUPPORTED;
    struct mp_call call = { fn, arg };
    return uefi_call_wrapper(mp->startup_this_ap, 7, mp, ap_trampoline, number, NULL,
                             timeout_us, &call, NULL);
}

/* Non-blocking (PI Vol. 2 13.4.6: a WaitEvent puts StartupThisAP in
 * non-blocking mode): fn runs on the AP while the caller goes on; event is
 * signalled once it has returned. *call must live until then. */
EFI_STATUS mp_start_on(UINTN number, struct mp_call *call, EFI_EVENT event)
{
    struct mp_services *mp = mp_protocol();
    if (!mp)
        return EFI_UNSUPPORTED;
    return uefi_call_wrapper(mp->startup_this_ap, 7, mp, ap_trampoline, number, event, 0, call,
                             NULL);
}

EFI_STATUS mp_run_on_all(mp_ap_fn fn, void *arg, UINTN timeout_us)
{
    struct mp_services *mp = mp_protocol();
    if (!mp)
        return EFI_UNSUPPORTED;
    struct mp_call call = { fn, arg };
    return uefi_call_wrapper(mp->startup_all_aps, 7, mp, ap_trampoline, FALSE, NULL,
                             timeout_us, &call, NULL);
}
