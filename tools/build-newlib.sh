#!/usr/bin/env bash
# Builds newlib (libc.a, libm.a) from Debian's newlib-source for the hypervisor
# core's freestanding x86-64 target and installs it under $1 (e.g. build/newlib).
# Flags: see BRIEF §3. newlib may use SSE; the core protects the guest's FPU
# state around it (hv/core/fpu.c), so only the core's own files are built without SSE.
set -euo pipefail
prefix=$(realpath -m "$1")
src_tar=/usr/src/newlib/newlib-3.3.0.tar.xz
[ -f "$prefix/x86_64-elf/lib/libc.a" ] && exit 0
work="$prefix.work"
rm -rf "$work"; mkdir -p "$work"
tar -C "$work" -xf "$src_tar"
srcdir=$(find "$work" -mindepth 2 -maxdepth 2 -name configure -printf "%h\n" | head -1)
mkdir -p "$work/build"
cd "$work/build"
cflags="-ffreestanding -mno-red-zone -fno-stack-protector -mcmodel=kernel -fno-pic -O2 -g"
"$srcdir/configure" --target=x86_64-elf --prefix="$prefix" \
    --disable-multilib --disable-newlib-supplied-syscalls \
    --enable-newlib-nano-formatted-io --disable-newlib-io-float \
    --disable-nls \
    CC_FOR_TARGET="gcc $cflags" AR_FOR_TARGET=ar AS_FOR_TARGET=as \
    LD_FOR_TARGET=ld RANLIB_FOR_TARGET=ranlib NM_FOR_TARGET=nm \
    OBJCOPY_FOR_TARGET=objcopy OBJDUMP_FOR_TARGET=objdump STRIP_FOR_TARGET=strip \
    CFLAGS_FOR_TARGET="$cflags" >configure.log 2>&1
make -j"$(nproc)" all >build.log 2>&1 || { tail -40 build.log; exit 1; }
make install >install.log 2>&1
rm -rf "$work"
