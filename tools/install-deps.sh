#!/usr/bin/env bash
# Installs everything the build and the tests need, from Debian's archive only.
# Idempotent: does nothing when every tool is already present.
# QEMU comes from bookworm-backports (QEMU 10): bookworm's 7.2 has more SVM bugs.
set -euo pipefail

need_qemu_major=10
pkgs=(build-essential gnu-efi nasm newlib-source mtools dosfstools gdisk
      ovmf libcmocka-dev python3-pytest xz-utils cpio busybox-static
      binutils clang-14 libfuzzer-14-dev gdb)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null 2>&1; then
    v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
    [ "${v:-0}" -ge "$need_qemu_major" ] && qemu_ok=1
fi
if [ ${#missing[@]} -eq 0 ] && [ $qemu_ok -eq 1 ]; then
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

# Debian's backports suite, for QEMU 10.
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" |
        $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
fi
$SUDO apt-get update -q
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ $qemu_ok -eq 0 ]; then
    $SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports \
        qemu-system-x86 qemu-utils
fi
