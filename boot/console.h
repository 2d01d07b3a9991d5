/* The loader's log: same prefix and serial port as the core's, formatted
 * with GNU-EFI's AsciiVSPrint (%a = ASCII string, %d, %x, %lx = 64-bit hex,
 * %r = EFI_STATUS). Every line is also kept for the core's ring buffer. */
#pragma once
#include <efi.h>
#include <efilib.h>
#include "boot/config.h"

void console_init(const struct hv_config *cfg);
void lprintf(enum log_level level, const char *fmt, ...);
/* Copies the lines logged so far (at most size bytes) to dst. */
UINT32 console_copy_log(char *dst, UINT32 size);
