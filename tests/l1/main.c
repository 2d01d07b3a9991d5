/* The L1 test program: the default next stage. For now it reports that it
 * runs and what it was given, then powers the machine off; it grows into our
 * own small guest hypervisor that drives the nested paths from inside L1.
 *
 * Output goes straight to COM1 with the prefix "[l1test] ". Its command line
 * (LoadOptions) may hold:
 *   exit=N   end QEMU through isa-debug-exit (port 0xf4) with status N
 *            instead of an ACPI power-off (QEMU then exits with 2N+1). */
#include <efi.h>
#include <efilib.h>
#include "arch/x86/cpu.h"
#include "arch/x86/uart16550.h"

#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4

static struct uart16550 com1;

static void say(const char *fmt, ...)
{
    char line[256] = "[l1test] ";
    UINTN n = strlena((CHAR8 *)line);
    va_list ap;
    va_start(ap, fmt);
    AsciiVSPrint((CHAR8 *)line + n, sizeof line - n - 1, (const CHAR8 *)fmt, ap);
    va_end(ap);
    n = strlena((CHAR8 *)line);
    line[n++] = '\n';
    uart_write(&com1, line, n);
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

static int find_exit_code(const char *opts)
{
    for (const char *p = opts; *p; p++) {
        if ((p == opts || p[-1] == ' ') && p[0] == 'e' && p[1] == 'x' &&
            p[2] == 'i' && p[3] == 't' && p[4] == '=') {
            int v = 0;
            for (p += 5; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (*p - '0');
            return v;
        }
    }
    return -1;
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

    int code = find_exit_code(opts);
    if (code >= 0) {
        say("exiting through isa-debug-exit with status %d", code);
        outl(DEBUG_EXIT_PORT, (UINT32)code);
    }
    say("powering off");
    uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_SUCCESS, 0, NULL);
    return EFI_SUCCESS;
}
