/* Starting what comes after the hypervisor: an EFI program (a test program,
 * a Linux kernel with its EFI stub, another boot loader) from the loader's
 * own partition, with the configured command line as its LoadOptions. */
#pragma once
#include <efi.h>
#include <efilib.h>
#include "boot/config.h"

/* Returns the next stage's exit status, or the error that kept it from
 * starting. With no next stage configured, EFI_NOT_FOUND at once, so
 * that the firmware's boot manager goes on with its next boot option. */
EFI_STATUS next_stage_start(EFI_HANDLE self, EFI_LOADED_IMAGE *self_image,
                            const struct hv_config *cfg);
