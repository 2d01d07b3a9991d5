#!/usr/bin/env bash
# xen-l1.sh OUTDIR LINUXDIR
# Prepares the Xen next stage of tests/integration/test_xen.py:
#   OUTDIR/xen.efi     Debian 12's xen-4.17-amd64.efi (xen-hypervisor-4.17-amd64)
#   OUTDIR/dom0.img    gzip'd newc cpio, dom0's initramfs: busybox-static,
#                      /init (tests/l1/xen/dom0-init), Debian's Xen toolstack
#                      (xl, xenstored, xenconsoled, xen-init-dom0 and their
#                      shared libraries), the kernel's xen modules, and the
#                      PVH domU: LINUXDIR/vmlinuz.efi plus its own busybox
#                      initramfs (tests/l1/xen/domu-init), tests/l1/xen/domu.cfg
#   OUTDIR/packages.txt  the Debian packages used
#   OUTDIR/pkg/        what dom0.img takes from them (tools, libraries, modules)
# LINUXDIR is tools/linux-l1.sh's output (Debian's kernel, also dom0's).
# xen.cfg (Xen's EFI config, which names the kernel and command lines) is
# written by the test. Packages come from Debian's archive with apt-get
# download; the C libraries the tools need beyond Xen's own (libc, zlib,
# ...) are the host's (Debian 12, the same archive). Cached: outputs are only
# rebuilt when missing or older than their inputs. Prints nothing unless
# something fails.
set -euo pipefail
. "$(dirname "$0")/is-stale.sh"
[ $# -eq 2 ] || { echo "usage: $0 OUTDIR LINUXDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
linux=$(cd "$2" && pwd)
src=$(cd "$(dirname "$0")/../tests/l1/xen" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# The hypervisor, the tools dom0 runs and the libraries they load.
PACKAGES="xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils libxencall1 libxenevtchn1
  libxenforeignmemory1 libxengnttab1 libxenmisc4.17 libxenstore4 libxentoollog1 libxentoolcore1
  libxenhypfs1 libxendevicemodel1 libyajl2"
TOOLS="xl xenstored xenconsoled xen-init-dom0"
# Modules in Debian's kernel (CONFIG_XEN_DEV_EVTCHN=m etc.); none depends on
# another module.
MODULES="xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs"

download() {   # $1: directory; output only on failure
    (cd "$1" && apt-get download -q $PACKAGES $(cat "$linux/kernel.txt")) >"$tmp/apt.log" 2>&1
}

# (a) Packages, extracted in a temporary directory; what dom0 needs is kept
# under OUTDIR/pkg/ (bin: the tools, lib: Xen's libraries, modules; not the
# whole tree: the Makefile includes every *.d under build/, and Debian's
# packages have directories named so). The kernel package only for its xen
# modules.
if [ ! -s "$out/xen.efi" ] || [ ! -d "$out/pkg" ] || [ "$linux/kernel.txt" -nt "$out/xen.efi" ]; then
    mkdir -p "$tmp/debs" "$tmp/pkgroot"
    if ! download "$tmp/debs"; then
        $SUDO apt-get update -q >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; exit 1; }
        download "$tmp/debs" || { cat "$tmp/apt.log" >&2; exit 1; }
    fi
    p="$tmp/pkgroot"
    for d in "$tmp"/debs/*.deb; do
        case $(basename "$d") in
        linux-image-*)
            patterns=()
            for m in $MODULES; do patterns+=("./lib/modules/*/kernel/drivers/xen/$m.ko" \
                                            "./lib/modules/*/kernel/drivers/xen/*/$m.ko"); done
            # Each module matches one of its two patterns: tar fails on the other.
            dpkg-deb --fsys-tarfile "$d" | tar -x -C "$p" --wildcards \
                --no-wildcards-match-slash "${patterns[@]}" 2>/dev/null || true;;
        *) dpkg-deb -x "$d" "$p";;
        esac
        dpkg-deb --showformat='${Package} ${Version}\n' -W "$d" >>"$tmp/packages.txt"
    done
    rm -rf "$out/pkg" && mkdir -p "$out/pkg.tmp/bin" "$out/pkg.tmp/lib" "$out/pkg.tmp/modules"
    for m in $MODULES; do
        f=$(find "$p/lib/modules" -name "$m.ko")
        [ -n "$f" ] || { echo "$0: $m.ko not in $(cat "$linux/kernel.txt")" >&2; exit 1; }
        cp "$f" "$out/pkg.tmp/modules/"
    done
    for t in $TOOLS; do cp "$p/usr/lib/xen-4.17/bin/$t" "$out/pkg.tmp/bin/"; done
    cp -a "$p"/usr/lib/x86_64-linux-gnu/*.so.* "$out/pkg.tmp/lib/"   # with their soname links
    mv "$out/pkg.tmp" "$out/pkg"
    mv "$tmp/packages.txt" "$out/packages.txt"
    cp "$p"/boot/xen-4.17-amd64.efi "$out/xen.efi.tmp"
    mv "$out/xen.efi.tmp" "$out/xen.efi"
fi

# (b) dom0's initramfs, with the domU's inside.
root=$(cd "$src/../../.." && pwd)
inputs=("$src/dom0-init" "$src/domu-init" "$src/domu.cfg" /bin/busybox "$0" "$out/xen.efi"
        "$linux/vmlinuz.efi")
if is_stale "$out/dom0.img" "${inputs[@]}"; then
    # The domU's: busybox and /init.
    u="$tmp/domu"
    mkdir -p "$u/bin" "$u/dev" "$u/proc" "$u/sys"
    cp /bin/busybox "$u/bin/busybox"
    for applet in sh mount cat grep poweroff sleep; do ln -s busybox "$u/bin/$applet"; done
    install -m 755 "$src/domu-init" "$u/init"
    # dom0's.
    r="$tmp/root"
    mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$r/run" "$r/var" "$r/tmp" "$r/lib/modules" \
             "$r/boot" "$r/etc/xen" "$r/usr/lib/xen-4.17/bin" "$r/usr/lib/x86_64-linux-gnu" \
             "$r/lib/x86_64-linux-gnu" "$r/lib64"
    (cd "$u" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$r/boot/domu-initrd.img"
    cp "$linux/vmlinuz.efi" "$r/boot/vmlinuz"
    install -m 644 "$src/domu.cfg" "$r/etc/xen/domu.cfg"
    cp /bin/busybox "$r/bin/busybox"
    for applet in sh mount mkdir insmod cat grep sed timeout poweroff sleep echo ls ps; do
        ln -s busybox "$r/bin/$applet"
    done
    install -m 755 "$src/dom0-init" "$r/init"
    cp "$out"/pkg/modules/*.ko "$r/lib/modules/"
    xbin="$out/pkg/bin"
    xlib="$out/pkg/lib"
    for t in $TOOLS; do cp "$xbin/$t" "$r/usr/lib/xen-4.17/bin/"; done
    # Xen's libraries (with their soname links) from the packages; the rest
    # from the host as ldd resolves them, and the dynamic loader.
    cp -a "$xlib"/*.so.* "$r/usr/lib/x86_64-linux-gnu/"
    for t in $TOOLS; do
        LD_LIBRARY_PATH="$xlib" ldd "$xbin/$t" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
    done | sort -u | while read -r lib; do
        case $lib in
        "$xlib"/*) ;;
        *) cp -L "$lib" "$r/lib/x86_64-linux-gnu/";;
        esac
    done
    if LD_LIBRARY_PATH="$xlib" ldd "$xbin/xl" | grep -q 'not found'; then
        echo "$0: xl's libraries missing:" >&2
        LD_LIBRARY_PATH="$xlib" ldd "$xbin/xl" | grep 'not found' >&2
        exit 1
    fi
    cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
    # glibc dlopen()s libgcc_s for pthread_cancel (xl aborts at exit without it).
    cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$r/lib/x86_64-linux-gnu/"
    : >"$r/etc/xen/xl.conf"   # xl's global config: all defaults
    (cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
        gzip -9n >"$out/dom0.img.tmp"
    mv "$out/dom0.img.tmp" "$out/dom0.img"
fi
