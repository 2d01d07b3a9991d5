/*
 * HV.CFG parser: the boot configuration that sits beside BOOTX64.EFI.
 *
 * Pure C with no libc dependency, so the same file builds for host unit
 * tests, the GNU-EFI loader (-ffreestanding -fpic) and the hypervisor core.
 * Only <stdint.h>, <stddef.h> and <stdbool.h> may be used here.
 *
 * Format: lines of "key = value"; '#' starts a comment (whole line, or
 * after whitespace inside a value, except for cmdline which is verbatim);
 * CRLF, a missing final newline and a leading UTF-8 BOM are accepted.
 * Keys are case-sensitive; value words (info, yes, halt, none, ...) are not.
 */
#ifndef HV_BOOT_CONFIG_H
#define HV_BOOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum fault_action { FAULT_HALT = 0, FAULT_RESET = 1 };

#define CONFIG_PATH_MAX 128     /* next_stage buffer, incl. NUL */
#define CONFIG_CMDLINE_MAX 512  /* cmdline buffer, incl. NUL */
#define CONFIG_LINE_MAX 255     /* longest accepted line, excl. line ending */
#define CONFIG_DIAG_MAX 192     /* diagnostic message buffer, incl. NUL */

/* Defaults, also used by config_defaults(). */
#define CONFIG_DEFAULT_SERIAL_PORT 0x3F8
#define CONFIG_DEFAULT_SERIAL_BAUD 115200
#define CONFIG_DEFAULT_LOG_LEVEL LOG_INFO
#define CONFIG_DEFAULT_MEMORY_MB 64
#define CONFIG_DEFAULT_NEXT_STAGE "\\EFI\\BOOT\\L1TEST.EFI"
#define CONFIG_DEFAULT_CONSOLE_ESCAPE 'a' /* Ctrl-A */

/* Accepted ranges. */
#define CONFIG_SERIAL_PORT_MIN 1
#define CONFIG_SERIAL_PORT_MAX 0xFFF8
#define CONFIG_MEMORY_MB_MIN 8
#define CONFIG_MEMORY_MB_MAX 1024

struct hv_config {
    uint16_t serial_port;              /* 16550 I/O base */
    uint32_t serial_baud;              /* divides 115200 exactly */
    enum log_level log_level;
    uint32_t memory_mb;                /* hypervisor memory, MiB */
    char next_stage[CONFIG_PATH_MAX];  /* "\..." path; "" = none */
    char cmdline[CONFIG_CMDLINE_MAX];  /* next stage's LoadOptions (8-bit) */
    enum fault_action on_fault;
    bool debug_crash;                  /* tests: deliberate exception */
    bool print_stats;                  /* exit statistics at reset/power-off */
    bool hypervisor;                   /* false: boot on without starting it */
    bool iommu;                        /* false: leave the IOMMUs to L1 (DMA unprotected) */
    bool debug_shell;                  /* false: the hypervisor never reads the UART */
    char console_escape;               /* 'a'..'z': Ctrl-<letter> x3 switches the console */
};

/*
 * One diagnostic: line number (1-based) and a NUL-terminated message that
 * already starts with "line N: ". The message lives in the parser's stack
 * frame: copy it if it must outlive the call.
 */
typedef void (*config_diag_fn)(void *ctx, unsigned line, const char *msg);

/* Fills every field of *cfg with its default. */
void config_defaults(struct hv_config *cfg);

/*
 * Parses len bytes (not NUL-terminated, may contain NULs) on top of *cfg:
 * only keys present in the text are changed. Bad lines are reported and
 * skipped; the rest of the text still applies. diag may be NULL.
 * Returns the number of diagnostics (errors + warnings).
 */
unsigned config_parse(struct hv_config *cfg, const char *text, size_t len,
                      config_diag_fn diag, void *ctx);

/* "error", "warn", "info", "debug"; "?" for anything else. */
const char *log_level_name(enum log_level l);

/* "halt", "reset"; "?" for anything else. */
const char *fault_action_name(enum fault_action a);

#endif /* HV_BOOT_CONFIG_H */
