#!/usr/bin/env bash
# linux-l1.sh OUTDIR
# Prepares the Linux next stage of tests/integration/test_linux.py:
#   OUTDIR/vmlinuz.efi  a Debian 12 kernel (EFI stub), from Debian's archive
#                       (apt-get download; the package name goes in kernel.txt)
#   OUTDIR/modules/     the kernel's KVM modules (kvm_amd and what it needs)
#   OUTDIR/initrd.img   gzip'd newc cpio: busybox-static, /init, /l2init, hvcheck,
#                       kvmrun, kvmbench, smpcheck, dmaprobe and excheck (tests/l1/linux/), the
#                       KVM modules
# Cached: each output is only rebuilt when missing or older than its inputs.
# Prints nothing unless something fails.
set -euo pipefail
. "$(dirname "$0")/is-stale.sh"
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
src=$(cd "$(dirname "$0")/../tests/l1/linux" && pwd)
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Newest linux-image-6.1.0-N-amd64[-unsigned] apt knows (unsigned first on a tie).
kernels() {
    apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' |
        awk '{print $1}' | sort -rV
}

# Downloads the newest kernel package into $tmp; output only on failure.
download_kernel() {
    local pkg
    for pkg in $(kernels); do
        if (cd "$tmp" && apt-get download -q "$pkg") >"$tmp/apt.log" 2>&1; then
            echo "$pkg" >"$tmp/pkg"
            return 0
        fi
    done
    return 1
}

# (a) The kernel. apt-get update only when the package lists are empty or
# stale (no candidate downloads).
# In load order: kvm_amd needs kvm and ccp, kvm needs irqbypass.
MODULES="virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm-amd.ko"
have_modules() {
    local m
    for m in $MODULES; do [ -s "$out/modules/$(basename "$m")" ] || return 1; done
}
if [ ! -s "$out/vmlinuz.efi" ] || ! have_modules; then
    if ! download_kernel; then
        $SUDO apt-get update -q >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; exit 1; }
        download_kernel || {
            echo "$0: cannot download a linux-image-6.1.0-*-amd64 package" >&2
            cat "$tmp/apt.log" >&2 2>/dev/null || true
            exit 1
        }
    fi
    # Only /boot/vmlinuz-* and the KVM modules (all modules: ~400 MB).
    rm -rf "$out/modules.tmp" && mkdir -p "$tmp/deb" "$out/modules.tmp"
    patterns=("./boot/vmlinuz-*")
    for m in $MODULES; do patterns+=("./lib/modules/*/kernel/$m"); done
    dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp/deb" --wildcards "${patterns[@]}"
    for m in $MODULES; do cp "$tmp"/deb/lib/modules/*/kernel/"$m" "$out/modules.tmp/"; done
    rm -rf "$out/modules" && mv "$out/modules.tmp" "$out/modules"
    cp "$tmp"/deb/boot/vmlinuz-* "$out/vmlinuz.efi.tmp"
    mv "$out/vmlinuz.efi.tmp" "$out/vmlinuz.efi"
    mv "$tmp/pkg" "$out/kernel.txt"
    rm -rf "$tmp"/*.deb "$tmp/deb"
fi

# (b) The initramfs, rebuilt when an input changed.
root=$(cd "$src/../../.." && pwd)
inputs=("$root/tools/hvstat.c" "$root/hv/exit/hypercall_abi.h" "$root/hv/exit/hypercall_guest.h" "$src/init" "$src/l2init" "$src/hvcheck.c" "$src/kvmrun.c" "$src/kvmbench.c" "$src/tinyvm.c" "$src/tinyvm.h" "$src/smpcheck.c" "$src/dmaprobe.c" "$src/excheck.c" /bin/busybox "$0"
        "$out/vmlinuz.efi")
if is_stale "$out/initrd.img" "${inputs[@]}"; then
    r="$tmp/root"
    mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$r/lib/modules"
    cp /bin/busybox "$r/bin/busybox"
    for applet in sh mount grep poweroff sleep insmod taskset tee mkdir dd md5sum rm tail timeout; do   # what /init and /l2init use
        ln -s busybox "$r/bin/$applet"
    done
    gcc -static -O2 -s -Wall -Wextra -Werror -o "$r/bin/hvcheck" "$src/hvcheck.c"
    gcc -static -O2 -s -Wall -Wextra -Werror -o "$r/bin/kvmrun" "$src/kvmrun.c" "$src/tinyvm.c"
    gcc -static -O2 -s -Wall -Wextra -Werror -I"$root" -o "$r/bin/kvmbench" "$src/kvmbench.c" \
        "$src/tinyvm.c"
    gcc -static -O2 -s -Wall -Wextra -Werror -o "$r/bin/smpcheck" "$src/smpcheck.c"
    gcc -static -O2 -s -Wall -Wextra -Werror -o "$r/bin/dmaprobe" "$src/dmaprobe.c"
    gcc -static -O2 -s -Wall -Wextra -Werror -o "$r/bin/excheck" "$src/excheck.c"
    gcc -static -O2 -s -Wall -Wextra -Werror -Wno-unused-parameter -I"$root" -o "$r/bin/hvstat" \
        "$root/tools/hvstat.c" "$root/arch/x86/svm_exit_names.c"
    for m in $MODULES; do cp "$out/modules/$(basename "$m")" "$r/lib/modules/"; done
    install -m 755 "$src/init" "$r/init"
    # The L2 guest's /init when this initramfs is booted under QEMU in L1
    # (tools/linux-qemu.sh, test_kvmguest.py).
    install -m 755 "$src/l2init" "$r/l2init"
    # /dev/console comes from the kernel's built-in initramfs.
    (cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
        gzip -9n >"$out/initrd.img.tmp"
    mv "$out/initrd.img.tmp" "$out/initrd.img"
fi
