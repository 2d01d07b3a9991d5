#!/usr/bin/env python3
"""Boot a disk image in QEMU with OVMF: the one launcher `make run` and the
integration tests share.

Defaults: q35, TCG with `-cpu EPYC` (SVM emulated), or KVM with `-cpu host`
when /dev/kvm is usable on an AMD host; an AMD IOMMU (the hypervisor takes it
over to protect itself from DMA; `--iommu off` leaves it out); the image
attached as a USB stick; serial on stdio (or a file, or a unix socket to
type into plus a log file); isa-debug-exit at port 0xf4 (a
program writing N there makes QEMU exit with status 2N+1). Exit status:
QEMU's, or 124 on timeout.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"
TIMEOUT_STATUS = 124


def kvm_usable():
    """KVM only helps on an AMD host whose kvm_amd offers nested SVM; elsewhere
    (Intel, or an AMD VM without SVM, where /dev/kvm may exist but cannot run
    -cpu host) TCG emulates SVM."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read(16384)
        with open("/sys/module/kvm_amd/parameters/nested") as f:
            nested = f.read().strip() in ("1", "Y")
    except OSError:
        return False
    return "AuthenticAMD" in info and re.search(r"^flags.*\bsvm\b", info, re.M) and nested


def build_command(args, vars_path, serial):
    accel = args.accel
    if accel == "auto":
        accel = "kvm" if kvm_usable() else "tcg"
    cpu = args.cpu or ("host" if accel == "kvm" else "EPYC")
    cmd = [
        "qemu-system-x86_64", "-machine", "q35", "-accel", accel, "-cpu", cpu,
        "-m", args.mem, "-smp", str(args.smp),
        "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
        "-drive", f"if=pflash,format=raw,unit=1,file={vars_path}",
        "-nic", "none", "-display", "none", *serial,
    ]
    if args.iommu == "on":
        # Before the PCI devices, so that their DMA goes through it;
        # intremap=off: Debian's kernel panics in IOAPIC setup with it on.
        cmd += ["-device", "amd-iommu,intremap=off,pt=off"]
    cmd += ["-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
    if args.boot == "usb":
        cmd += ["-device", "qemu-xhci",
                "-drive", f"if=none,id=stick,format=raw,file={args.image}",
                "-device", "usb-storage,drive=stick,bootindex=0"]
    else:
        cmd += ["-drive", f"if=none,id=disk,format=raw,file={args.image}",
                "-device", "virtio-blk-pci,drive=disk,bootindex=0"]
    if args.snapshot:
        cmd += ["-snapshot"]
    return cmd + args.extra


def start(args, tmp):
    """Starts QEMU with a fresh NVRAM in the directory tmp; returns the
    process (for callers that interact with the machine while it runs)."""
    vars_path = os.path.join(tmp, "OVMF_VARS.fd")
    shutil.copyfile(OVMF_VARS, vars_path)  # a fresh NVRAM each run
    log = args.serial_file
    if args.serial_socket:
        # A unix socket a test connects to and types into; QEMU waits for
        # that connection before it starts the machine, so the socket sees
        # all output. The log file (--serial-file) gets a copy, but QEMU
        # 10.0 writes a byte there twice now and then when the socket's
        # buffer was full: read the socket where every byte matters.
        serial = ["-chardev", f"socket,id=ser0,path={args.serial_socket},server=on,"
                  f"wait=on,logfile={log}", "-serial", "chardev:ser0"]
    else:
        serial = ["-serial", "stdio" if log is None else f"file:{log}"]
    cmd = build_command(args, vars_path, serial)
    if args.verbose:
        print(" ".join(cmd), file=sys.stderr)
    stdin = None if log is None else subprocess.DEVNULL
    return subprocess.Popen(cmd, stdin=stdin)


def run(args):
    """Runs QEMU; returns its status (124 on timeout)."""
    with tempfile.TemporaryDirectory(prefix="hvqemu-") as tmp:
        log = args.serial_file
        proc = start(args, tmp)
        until = re.compile(args.until) if args.until else None
        deadline = time.monotonic() + args.timeout
        while True:
            try:
                return proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
            if until and log and os.path.exists(log):
                with open(log, errors="replace") as f:
                    if until.search(f.read()):
                        proc.kill()
                        proc.wait()
                        return 0
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return TIMEOUT_STATUS


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default="build/usb.img")
    p.add_argument("--boot", choices=["usb", "disk"], default="usb",
                   help="attach the image as a USB stick (default) or a disk")
    p.add_argument("--accel", choices=["auto", "tcg", "kvm"], default="auto")
    p.add_argument("--cpu", help="CPU model (default EPYC on TCG, host on KVM)")
    p.add_argument("--mem", default="512M")
    p.add_argument("--smp", type=int, default=1)
    p.add_argument("--iommu", choices=["on", "off"], default="on",
                   help="an AMD IOMMU on the machine (default on)")
    p.add_argument("--serial-file", help="write the serial console here instead of stdio")
    p.add_argument("--serial-socket", metavar="PATH",
                   help="with --serial-file: the serial port is a unix socket (server) "
                        "at PATH, for typing into it (QEMU waits for the first connection, "
                        "e.g. socat - UNIX-CONNECT:PATH); the file logs what QEMU sends")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds (exit 124)")
    p.add_argument("--until", help="with --serial-file: stop QEMU once the console matches this regex")
    p.add_argument("--snapshot", action="store_true", help="do not write to the image")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="extra QEMU arguments after --")
    args = p.parse_args(argv)
    if args.serial_socket and not args.serial_file:
        p.error("--serial-socket needs --serial-file (the log)")
    if args.extra and args.extra[0] == "--":
        args.extra = args.extra[1:]
    return args


if __name__ == "__main__":
    sys.exit(run(parse_args()))
