/* The L1 test program: the default next stage. Run under the hypervisor, it
 * checks the hypervisor from inside L1 and reports each check by name; it
 * grows into our own small guest hypervisor that drives the nested paths.
 *
 * Output goes straight to COM1 with the prefix "[l1test] ". Its command line
 * (LoadOptions) selects what it does:
 *   (empty)        show what CPUID leaf 0x40000000 says, then power off
 *   checks         run the L1 checks; "[l1test] N passed, M failed"
 *   nested         run the nested-SVM scenarios (L1 as a guest hypervisor)
 *   triple-fault   make the CPU triple-fault (the hypervisor dumps L1)
 *   bench          the exit round-trip benchmark (tests/l1/bench.c)
 *   smp            checks on several CPUs (tests/l1/smp_checks.c)
 *   security       the security scenarios alone (tests/l1/security_checks.c)
 *   exit=N         at the end, leave QEMU through isa-debug-exit (port 0xf4)
 *                  with status N instead of an ACPI power-off (QEMU then
 *                  exits with 2N+1); "checks" uses exit=1 when a check fails */
#include "tests/l1/l1test.h"
#include "arch/x86/cpu.h"
#include "arch/x86/uart16550.h"

#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4

static struct uart16550 com1;
static int passed, failed, skipped;

static void vsay(const char *prefix, const char *fmt, va_list ap)
{
    /* GNU-EFI's AsciiVSPrint goes through boot services whose TPL restore
     * sets RFLAGS.IF: a caller that runs with interrupts off (the echo
     * loop) would get them back, and with them the firmware's timer
     * handlers (its console polls the UART and eats typed bytes; its boot
     * watchdog resets the machine). Saying something leaves IF as it was. */
    int intr_off = !(read_rflags() & RFLAGS_IF);
    char line[1024]; /* AsciiVSPrint fills at most half (it works in UCS-2) */
    UINTN n = 0;
    for (const char *p = "[l1test] "; *p; p++)
        line[n++] = *p;
    for (const char *p = prefix; *p; p++)
        line[n++] = *p;
    AsciiVSPrint((CHAR8 *)line + n, sizeof line - n - 1, (const CHAR8 *)fmt, ap);
    n = strlena((CHAR8 *)line);
    line[n++] = '\n';
    if (intr_off)
        __asm__ volatile("cli");
    uart_write(&com1, line, n);
}

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay("", fmt, ap);
    va_end(ap);
}

void check(int ok, const char *name, const char *fmt, ...)
{
    char prefix[96];
    UINTN n = 0;
    for (const char *p = ok ? "PASS " : "FAIL "; *p; p++)
        prefix[n++] = *p;
    for (const char *p = name; *p && n < sizeof prefix - 4; p++)
        prefix[n++] = *p;
    if (!ok && fmt[0]) {
        prefix[n++] = ':';
        prefix[n++] = ' ';
    }
    prefix[n] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsay(prefix, ok ? "" : fmt, ap);
    va_end(ap);
    if (ok)
        passed++;
    else
        failed++;
}

void skip(const char *name, const char *why)
{
    say("SKIP %a: %a", name, why);
    skipped++;
}

int hv_present(void)
{
    return (cpuid(1, 0).ecx >> 31) && cpuid(0x40000000u, 0).ebx == *(const uint32_t *)HV_SIGNATURE;
}

int checks_failed(void)
{
    return failed;
}

/* LoadOptions as ASCII (the loader passes UCS-2). */
static void options_ascii(EFI_LOADED_IMAGE *li, char *out, UINTN size)
{
    const CHAR16 *w = li ? li->LoadOptions : NULL;
    UINTN n = li ? li->LoadOptionsSize / sizeof(CHAR16) : 0, i = 0;
    for (; w && i < n && i + 1 < size && w[i]; i++)
        out[i] = w[i] < 128 ? (char)w[i] : '?';
    out[i] = 0;
}

/* The value of "word" or "word=N" in the options: 1 (or N) if present. */
static int option(const char *opts, const char *word)
{
    UINTN len = strlena((const CHAR8 *)word);
    for (const char *p = opts; *p; p++) {
        if ((p != opts && p[-1] != ' ') || strncmpa((const CHAR8 *)p, (const CHAR8 *)word, len))
            continue;
        if (p[len] == ' ' || p[len] == 0)
            return 1;
        if (p[len] != '=')
            continue;
        int v = 0;
        for (p += len + 1; *p >= '0' && *p <= '9'; p++)
            v = v * 10 + (*p - '0');
        return v;
    }
    return -1;
}

static void demo(void)
{
    struct cpuid_regs r = cpuid(0x40000000u, 0);
    char sig[13];
    CopyMem(sig, &r.ebx, 4);
    CopyMem(sig + 4, &r.ecx, 4);
    CopyMem(sig + 8, &r.edx, 4);
    for (int i = 0; i < 12; i++)
        if (sig[i] < 0x20 || sig[i] > 0x7E)
            sig[i] = '.';
    sig[12] = 0;
    say("CPUID 0x40000000: max leaf 0x%x, signature \"%a\"; hypervisor bit %d", r.eax, sig,
        (int)(cpuid(1, 0).ecx >> 31));
}

static void triple_fault(void)
{
    say("triple-faulting on purpose");
    static const struct __attribute__((packed)) { uint16_t limit; uint64_t base; } no_idt = { 0, 0 };
    __asm__ volatile("cli; lidt %0; int3" ::"m"(no_idt));
}

void run_bench(void);

/* The boot manager arms a 5-minute watchdog before it starts us (UEFI
 * spec, EFI_BOOT_SERVICES.SetWatchdogTimer); the modes that wait for a
 * person, or a test typing, as long as it takes disarm it. */
static void no_watchdog(void)
{
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
}

/* `echo`: L1 reads the serial port (polled, as firmware does) and says
 * each line it got, control bytes as ^X: the debug shell's tests type to
 * L1 and to the shell through the same port (tests/integration/
 * test_console.py). First it writes the console escape itself: output
 * must never switch the console. */
static void echo_forever(void)
{
    no_watchdog();
    static const char esc[] = "[l1test] escape in output: \x01\x01\x01\r\n";
    uart_write(&com1, esc, sizeof esc - 1);
    say("echo: reading the serial port");
    /* Interrupts off: the firmware's terminal driver polls the same UART
     * from its timer interrupt (ConIn) and would take bytes meant for this
     * loop, or one between its LSR and RBR reads (say() keeps them off). */
    __asm__ volatile("cli");
    char line[128];
    int n = 0;
    for (;;) {
        int c = uart_getc(&com1);
        if (c < 0) {
            __asm__ volatile("pause");
            continue;
        }
        if (c == '\r' || c == '\n') {
            if (!n)
                continue;
            line[n] = 0;
            say("read: \"%a\"", line);
            n = 0;
        } else if (n < (int)sizeof line - 3) {
            if (c < 0x20) {
                line[n++] = '^';
                line[n++] = (char)(c + '@');
            } else
                line[n++] = (char)c;
        }
    }
}

/* `wait`: L1 neither reads the port nor ends: it only exits (CPUID), so
 * the boot CPU's exit countdown is what polls the UART. */
static void wait_forever(void)
{
    no_watchdog();
    say("waiting (CPUID loop)");
    for (;;) {
        cpuid(0, 0);
        __asm__ volatile("pause");
    }
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    uart_init(&com1, COM1, 115200);
    EFI_LOADED_IMAGE *li = NULL;
    uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
    char opts[256];
    options_ascii(li, opts, sizeof opts);
    say("next stage running; cmdline: \"%a\"", opts);

    int code = option(opts, "exit");
    if (option(opts, "triple-fault") > 0)
        triple_fault();
    else if (option(opts, "bench") > 0)
        run_bench();
    else if (option(opts, "checks") > 0 || option(opts, "nested") > 0 ||
             option(opts, "smp") > 0 || option(opts, "security") > 0) {
        if (option(opts, "checks") > 0)
            run_l1_checks(systab);
        if (option(opts, "nested") > 0)
            run_nested_checks();
        if (option(opts, "smp") > 0)
            run_smp_checks();
        if (option(opts, "security") > 0)
            run_security_mode();
        say("%d passed, %d failed, %d skipped", passed, failed, skipped);
        if (failed && code < 0)
            code = 1;
    } else
        demo();

    if (option(opts, "outs") > 0) {
        /* String I/O to the UART's data register (the debug shell does
         * not emulate it: it must give the port up, not stop the machine). */
        static const char msg[] = "[l1test] written with rep outsb\r\n";
        const char *p = msg;
        UINTN n = sizeof msg - 1;
        __asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"(COM1) : "memory");
    }
    if (option(opts, "echo") > 0)
        echo_forever();
    if (option(opts, "wait") > 0)
        wait_forever();
    if (code >= 0) {
        say("exiting through isa-debug-exit with status %d", code);
        outl(DEBUG_EXIT_PORT, (UINT32)code);
    }
    say("powering off");
    uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_SUCCESS, 0, NULL);
    return EFI_SUCCESS;
}
