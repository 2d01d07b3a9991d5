#!/usr/bin/env bash
# mkimage.sh OUT.img BOOTX64.EFI HV.CFG NEXT.EFI [EXTRA_FILE:\\PATH ...]
# Builds a GPT disk image with one EFI System Partition holding
#   \EFI\BOOT\BOOTX64.EFI   the hypervisor's loader
#   \EFI\BOOT\HV.CFG        its config
#   \EFI\BOOT\L1TEST.EFI    the default next stage
# The same image boots as a USB stick and as a plain disk. HV.CFG "-" leaves
# the config out (the hypervisor then uses its defaults). Extra files go in
# as SRC:\\DEST\\PATH.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 OUT.img BOOTX64.EFI HV.CFG NEXT.EFI [SRC:DEST ...]" >&2; exit 2; }
out=$1 loader=$2 cfg=$3 next=$4
shift 4

size_mb=64
start_sector=2048                      # 1 MiB alignment
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
esp="$tmp/esp.img"
esp_sectors=$(( size_mb * 2048 - start_sector - 34 ))
truncate -s $(( esp_sectors * 512 )) "$esp"
mkfs.vfat -F 32 -n HVBOOT "$esp" >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT
mcopy -i "$esp" "$loader" ::/EFI/BOOT/BOOTX64.EFI
[ "$cfg" = "-" ] || mcopy -i "$esp" "$cfg" ::/EFI/BOOT/HV.CFG
mcopy -i "$esp" "$next" ::/EFI/BOOT/L1TEST.EFI
for extra in "$@"; do
    src=${extra%%:*} dest=${extra#*:}
    dest=${dest//\\//}
    mmd -i "$esp" "::$(dirname "$dest")" 2>/dev/null || true
    mcopy -o -i "$esp" "$src" "::$dest"
done

rm -f "$out.tmp" >/dev/null
truncate -s $(( size_mb * 1024 * 1024 )) "$out.tmp" >/dev/null
sgdisk -o -n 1:${start_sector}:+${esp_sectors} -t 1:ef00 -c 1:"EFI System" "$out.tmp" >/dev/null
dd if="$esp" of="$out.tmp" bs=512 seek=$start_sector conv=notrunc status=none
mv "$out.tmp" "$out"
