#!/usr/bin/env python3
"""make debug: boot an image in QEMU with its gdb stub, stopped before the
first instruction, and start gdb on the hypervisor core's symbols.

build/core.elf is linked at the address it runs at (0xffffffff80000000,
linker.ld), so gdb needs no offset: `break nested_vmrun`, `continue`, and
gdb stops in the core the next time L1 executes VMRUN. Under TCG, QEMU's
stub keeps software breakpoints by virtual address itself (it does not
patch memory), so they can be set before the loader has even copied the
core into place. The serial console goes to a file (--serial-file,
default build/debug-serial.log): gdb has the terminal.

Everything after `--` goes to gdb, e.g. for a script:
  tools/debug.py --image img -- -batch -ex 'break nested_vmrun' -ex continue -ex bt
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import qemu  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default=os.path.join(ROOT, "build", "usb.img"))
    p.add_argument("--elf", default=os.path.join(ROOT, "build", "core.elf"))
    p.add_argument("--serial-file", default=os.path.join(ROOT, "build", "debug-serial.log"))
    p.add_argument("--smp", type=int, default=1)
    p.add_argument("--cpu", help="QEMU CPU model (default EPYC)")
    p.add_argument("gdb_args", nargs=argparse.REMAINDER, help="after --: gdb's arguments")
    args = p.parse_args(argv)
    gdb_args = args.gdb_args[1:] if args.gdb_args[:1] == ["--"] else args.gdb_args
    port = free_port()
    qargv = ["--image", args.image, "--accel", "tcg", "--smp", str(args.smp),
             "--serial-file", args.serial_file, "--timeout", "86400", "--snapshot"]
    if args.cpu:
        qargv += ["--cpu", args.cpu]
    # -S: wait for gdb's continue; the stub on localhost only.
    qargv += ["--", "-gdb", f"tcp:127.0.0.1:{port}", "-S"]
    with tempfile.TemporaryDirectory(prefix="hvdebug-") as tmp:
        proc = qemu.start(qemu.parse_args(qargv), tmp)
        print(f"QEMU's gdb stub at localhost:{port}; serial console in {args.serial_file}",
              file=sys.stderr)
        try:
            cmd = ["gdb", "-q", "-ex", f"file {args.elf}",
                   "-ex", f"target remote 127.0.0.1:{port}", *gdb_args]
            return subprocess.call(cmd)
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
