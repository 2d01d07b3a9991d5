#include "boot/file.h"

EFI_STATUS file_read(EFI_HANDLE device, const CHAR16 *path, void **data, UINTN *size)
{
    EFI_FILE_HANDLE root = LibOpenRoot(device);
    if (!root)
        return EFI_NOT_FOUND;
    EFI_FILE_HANDLE fh;
    EFI_STATUS st = uefi_call_wrapper(root->Open, 5, root, &fh, (CHAR16 *)path,
                                      EFI_FILE_MODE_READ, 0);
    uefi_call_wrapper(root->Close, 1, root);
    if (EFI_ERROR(st))
        return st;
    EFI_FILE_INFO *info = LibFileInfo(fh);
    if (!info) {
        uefi_call_wrapper(fh->Close, 1, fh);
        return EFI_DEVICE_ERROR;
    }
    UINTN n = info->FileSize;
    FreePool(info);
    void *buf = AllocatePool(n ? n : 1);
    if (!buf) {
        uefi_call_wrapper(fh->Close, 1, fh);
        return EFI_OUT_OF_RESOURCES;
    }
    st = uefi_call_wrapper(fh->Read, 3, fh, &n, buf);
    uefi_call_wrapper(fh->Close, 1, fh);
    if (EFI_ERROR(st)) {
        FreePool(buf);
        return st;
    }
    *data = buf;
    *size = n;
    return EFI_SUCCESS;
}

CHAR16 *file_own_dir(EFI_LOADED_IMAGE *self)
{
    CHAR16 *path = DevicePathToStr(self->FilePath);
    if (!path)
        return NULL;
    UINTN cut = 0;
    for (UINTN i = 0; path[i]; i++)
        if (path[i] == L'\\' || path[i] == L'/')
            cut = i + 1;
    path[cut] = 0;
    if (cut == 0) { /* no directory part: use the root */
        FreePool(path);
        return StrDuplicate(L"\\");
    }
    return path;
}

CHAR16 *file_widen(const char *s)
{
    UINTN n = strlena((const CHAR8 *)s);
    CHAR16 *w = AllocatePool((n + 1) * sizeof(CHAR16));
    if (!w)
        return NULL;
    for (UINTN i = 0; i <= n; i++)
        w[i] = (unsigned char)s[i];
    return w;
}
