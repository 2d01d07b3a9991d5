#include "boot/console.h"
#include "arch/x86/uart16550.h"

#define LINE_MAX 1024 /* AsciiVSPrint fills at most half: it formats in UCS-2 */
#define KEPT_MAX 4096

static struct uart16550 uart;
static enum log_level console_level = LOG_INFO;
static char kept[KEPT_MAX];
static UINT32 kept_len;

static const char *const level_tag[] = {
    [LOG_ERROR] = "error: ",
    [LOG_WARN] = "warning: ",
    [LOG_INFO] = "",
    [LOG_DEBUG] = "debug: ",
};

void console_init(const struct hv_config *cfg)
{
    uart_init(&uart, cfg->serial_port, cfg->serial_baud);
    console_level = cfg->log_level;
}

static void keep(const char *s, UINTN n)
{
    for (UINTN i = 0; i < n && kept_len < KEPT_MAX; i++)
        kept[kept_len++] = s[i];
}

static UINTN append(char *dst, UINTN at, UINTN size, const char *s)
{
    while (*s && at + 1 < size)
        dst[at++] = *s++;
    dst[at] = 0;
    return at;
}

void lprintf(enum log_level level, const char *fmt, ...)
{
    char line[LINE_MAX];
    UINTN n = append(line, 0, sizeof line, "[hv] ");
    n = append(line, n, sizeof line, level_tag[level]);
    va_list ap;
    va_start(ap, fmt);
    AsciiVSPrint((CHAR8 *)line + n, sizeof line - n - 1, (const CHAR8 *)fmt, ap);
    va_end(ap);
    n = strlena((CHAR8 *)line);
    line[n++] = '\n';
    keep(line, n);
    if (level <= console_level)
        uart_write(&uart, line, n);
}

UINT32 console_copy_log(char *dst, UINT32 size)
{
    UINT32 n = kept_len < size ? kept_len : size;
    for (UINT32 i = 0; i < n; i++)
        dst[i] = kept[i];
    return n;
}
