#!/usr/bin/env bash
# linux-qemu.sh OUTDIR
# Prepares the extra initramfs of tests/integration/test_kvmguest.py, which
# the EFI stub appends to the L1 initramfs of tools/linux-l1.sh (run that
# first: this one reads OUTDIR/vmlinuz.efi and OUTDIR/initrd.img):
#   OUTDIR/qemu.img     gzip'd newc cpio: Debian's microvm-only QEMU
#                       (/usr/bin/qemu-system-x86_64-microvm of package
#                       qemu-system-x86: the same QEMU with only KVM and
#                       the microvm machine, 8 MB and 10 libraries instead
#                       of 28 MB and 50), its shared libraries, qboot.rom
#                       and linuxboot_dma.bin (qemu-system-data), and what
#                       it boots as L2:
#                       /l2/vmlinuz (the same kernel) and /l2/initrd.img
#                       (the L1 initramfs, booted with rdinit=/l2init)
#   OUTDIR/qemu-root/   the unpacked QEMU and libraries (cache)
# Everything comes from Debian's archive (apt-get download, dpkg-deb -x);
# the library closure is found with ldd and checked by reading every
# NEEDED entry. Kept out of initrd.img: 17 MB more for every Linux test.
# Cached: qemu-root/ is only rebuilt when missing or older than this
# script, qemu.img when older than any input. Prints nothing unless
# something fails.
set -euo pipefail
. "$(dirname "$0")/is-stale.sh"
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
[ -s "$out/vmlinuz.efi" ] && [ -s "$out/initrd.img" ] ||
    { echo "$0: run tools/linux-l1.sh $out first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

QEMU=usr/bin/qemu-system-x86_64-microvm
# qboot: microvm's small firmware, which boots -kernel itself; QEMU still
# loads linuxboot_dma.bin as an option ROM for -kernel (and says so when
# the file is missing).
FIRMWARE="usr/share/qemu/qboot.rom usr/share/qemu/linuxboot_dma.bin"
LIBDIR=lib/x86_64-linux-gnu

# apt-get download PKG... into $tmp/debs; apt-get update once if the lists
# know none of them (fresh machine).
download() {
    mkdir -p "$tmp/debs"
    if ! (cd "$tmp/debs" && apt-get download -q "$@") >"$tmp/apt.log" 2>&1; then
        $SUDO apt-get update -q >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; exit 1; }
        (cd "$tmp/debs" && apt-get download -q "$@") >"$tmp/apt.log" 2>&1 ||
            { echo "$0: apt-get download $*:" >&2; cat "$tmp/apt.log" >&2; exit 1; }
    fi
}

# Every NEEDED entry of every ELF file under $1 names a file in $1/$LIBDIR.
check_closure() {
    local f so missing=0
    while read -r f; do
        for so in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [ -e "$1/$LIBDIR/$so" ] || { echo "$0: $f needs $so, not in $1/$LIBDIR" >&2; missing=1; }
        done
    done < <(find "$1" -type f)
    [ -e "$1/lib64/ld-linux-x86-64.so.2" ] || { echo "$0: no dynamic loader" >&2; missing=1; }
    return $missing
}

# (a) QEMU, its firmware and its libraries.
qr="$out/qemu-root"
if [ ! -x "$qr/$QEMU" ] || [ "$0" -nt "$qr/$QEMU" ]; then
    download qemu-system-x86 qemu-system-data
    mkdir -p "$tmp/x"
    for d in "$tmp"/debs/*.deb; do dpkg-deb -x "$d" "$tmp/x"; done
    rm -f "$tmp"/debs/*.deb
    # The libraries ldd finds for the downloaded binary (on this machine:
    # install-deps.sh installs the same QEMU), and the packages that ship
    # them, downloaded too: the initramfs holds the archive's files, not
    # this machine's.
    ldd "$tmp/x/$QEMU" >"$tmp/ldd.txt" || { cat "$tmp/ldd.txt" >&2; exit 1; }
    if grep -q "not found" "$tmp/ldd.txt"; then cat "$tmp/ldd.txt" >&2; exit 1; fi
    libs=$(awk '$2 == "=>" && $3 ~ /^\// {print $1} $1 ~ /^\/.*ld-linux/ {print $1}' "$tmp/ldd.txt")
    pkgs=$(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' "$tmp/ldd.txt" |
        while read -r p; do
            dpkg -S "$p" 2>/dev/null || dpkg -S "$(realpath "$p")" 2>/dev/null ||
                { echo "$0: no package ships $p" >&2; exit 1; }
        done | cut -d: -f1 | sort -u)
    download $pkgs
    mkdir -p "$tmp/libs"
    for d in "$tmp"/debs/*.deb; do dpkg-deb -x "$d" "$tmp/libs"; done
    r="$tmp/qemu-root"
    mkdir -p "$r/usr/bin" "$r/$LIBDIR" "$r/lib64" "$r/usr/share/qemu"
    cp "$tmp/x/$QEMU" "$r/$QEMU"
    for f in $FIRMWARE; do mkdir -p "$(dirname "$r/$f")" && cp "$tmp/x/$f" "$r/$f"; done
    for so in $libs; do
        name=$(basename "$so")
        # Debian 12 is usrmerged: a library may be under lib/ or usr/lib/.
        f=$(find "$tmp/libs/lib" "$tmp/libs/usr/lib" -name "$name" 2>/dev/null | head -n1)
        [ -n "$f" ] || { echo "$0: $name not in the downloaded packages ($pkgs)" >&2; exit 1; }
        cp -L "$f" "$r/$LIBDIR/$name"
    done
    # The ELF interpreter's path, as in Debian.
    ln -s "../$LIBDIR/ld-linux-x86-64.so.2" "$r/lib64/ld-linux-x86-64.so.2"
    check_closure "$r"
    rm -rf "$qr" && mv "$r" "$qr"
fi

# (b) The cpio, rebuilt when an input changed.
if is_stale "$out/qemu.img" "$qr/$QEMU" "$out/vmlinuz.efi" "$out/initrd.img" "$0"; then
    r="$tmp/root"
    cp -a "$qr" "$r"
    mkdir -p "$r/l2"
    cp "$out/vmlinuz.efi" "$r/l2/vmlinuz"
    cp "$out/initrd.img" "$r/l2/initrd.img"
    # gzip -6: the kernel unpacks it under TCG; vmlinuz and initrd.img are
    # compressed already.
    (cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
        gzip -6n >"$out/qemu.img.tmp"
    mv "$out/qemu.img.tmp" "$out/qemu.img"
fi
