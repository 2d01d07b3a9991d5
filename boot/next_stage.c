#include "boot/next_stage.h"
#include "boot/console.h"
#include "boot/file.h"

EFI_STATUS next_stage_start(EFI_HANDLE self, EFI_LOADED_IMAGE *self_image,
                            const struct hv_config *cfg)
{
    if (!cfg->next_stage[0]) {
        /* Not EFI_SUCCESS: after a boot option returns success, the boot
         * manager may show its menu instead of trying the next option
         * (UEFI spec, 3.1.1); an error makes it go on with the BootOrder. */
        lprintf(LOG_INFO, "no next stage configured: returning to the firmware");
        return EFI_NOT_FOUND;
    }
    CHAR16 *path = file_widen(cfg->next_stage);
    CHAR16 *args = file_widen(cfg->cmdline);
    EFI_DEVICE_PATH *dp = path ? FileDevicePath(self_image->DeviceHandle, path) : NULL;
    EFI_STATUS st = EFI_OUT_OF_RESOURCES;
    EFI_HANDLE child = NULL;
    if (dp && args)
        st = uefi_call_wrapper(BS->LoadImage, 6, FALSE, self, dp, NULL, 0, &child);
    if (EFI_ERROR(st)) {
        lprintf(LOG_ERROR, "cannot load next stage %a: %r", cfg->next_stage, st);
        goto out;
    }
    EFI_LOADED_IMAGE *li = NULL;
    st = uefi_call_wrapper(BS->HandleProtocol, 3, child, &LoadedImageProtocol, (void **)&li);
    if (!EFI_ERROR(st)) {
        /* UEFI LoadOptions: the command line as a NUL-terminated UCS-2 string. */
        li->LoadOptions = args;
        li->LoadOptionsSize = (UINT32)(StrLen(args) + 1) * sizeof(CHAR16);
    }
    lprintf(LOG_INFO, "starting next stage %a (cmdline \"%a\")", cfg->next_stage, cfg->cmdline);
    st = uefi_call_wrapper(BS->StartImage, 3, child, NULL, NULL);
    lprintf(LOG_INFO, "next stage returned: %r", st);
out:
    if (dp)
        FreePool(dp);
    if (path)
        FreePool(path);
    /* args stays allocated: the image may keep pointing at its options. */
    return st;
}
