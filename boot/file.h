/* Files on the partition the loader was started from. */
#pragma once
#include <efi.h>
#include <efilib.h>

/* Reads a whole file into pool memory (FreePool it). EFI_NOT_FOUND if absent. */
EFI_STATUS file_read(EFI_HANDLE device, const CHAR16 *path, void **data, UINTN *size);
/* The directory of the loader's own file, e.g. L"\\EFI\\BOOT\\" (FreePool it). */
CHAR16 *file_own_dir(EFI_LOADED_IMAGE *self);
/* ASCII to UCS-2 into a fresh pool buffer (FreePool it). */
CHAR16 *file_widen(const char *s);
