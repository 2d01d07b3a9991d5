/* The firmware's multiprocessor services (UEFI PI spec Vol. 2, 13.4
 * EFI_MP_SERVICES_PROTOCOL): which CPUs there are, and running a function
 * on one application processor (AP) while the firmware still owns them. */
#pragma once
#include <efi.h>
#include <efilib.h>

struct mp_cpu {
    UINTN number;    /* the firmware's processor number */
    UINT32 apic_id;  /* its local APIC ID (ProcessorId) */
    BOOLEAN enabled; /* the firmware runs code on it */
};

/* Fills cpus[] with every CPU the firmware reports, the boot CPU first;
 * returns how many (1 without the protocol: the boot CPU alone). A count
 * above max is returned as is, with only max entries filled. */
UINT32 mp_list_cpus(struct mp_cpu *cpus, UINT32 max);
/* Runs fn(arg) on that AP and waits for it to return (at most timeout_us).
 * fn runs in the firmware's AP context: no UEFI calls there. */
typedef void (*mp_ap_fn)(void *arg);
EFI_STATUS mp_run_on(UINTN number, mp_ap_fn fn, void *arg, UINTN timeout_us);
/* Starts fn(arg) on that AP and returns at once; the firmware signals
 * event (from BS->CreateEvent) after fn has returned. */
struct mp_call {
    mp_ap_fn fn;
    void *arg;
};
EFI_STATUS mp_start_on(UINTN number, struct mp_call *call, EFI_EVENT event);
/* Runs fn(arg) on every enabled AP at the same time and waits for all. */
EFI_STATUS mp_run_on_all(mp_ap_fn fn, void *arg, UINTN timeout_us);
