#!/usr/bin/env python3
"""Where an exit's instructions go: a per-function instruction count of one
round trip through the hypervisor, by single-stepping QEMU's gdb stub.

Boots the L1 test program in bench mode (TCG, -cpu EPYC), lets the chosen
hypervisor function be reached --skip times (so caches and the clean-bit
state are warm), then single-steps until that function is reached again and
prints how many instructions ran in each function of build/core.elf, and how
many in the guests (L1 and L2, addresses outside the core). The default start,
nested_l2_exit, profiles bench figure (b): an L2 CPUID reflected to L1 plus
L1's VMRUN back. Use --start exit_cpuid for figure (a).

A developer's tool (needs gdb); `make bench` gives the figures themselves.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import make_image  # noqa: E402

GDB_SCRIPT = r'''
import gdb, collections
start = gdb.parse_and_eval("(unsigned long)&{start}")
gdb.execute("break *%d" % int(start))
for _ in range({skip}):
    gdb.execute("continue", to_string=True)
gdb.execute("delete")
counts = collections.Counter()
order = []
n = 0
while True:
    gdb.execute("stepi", to_string=True)
    n += 1
    pc = int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF
    if pc == int(start) or n > {limit}:
        break
    if pc >= 0xffffffff80000000:
        name = gdb.execute("info symbol %d" % pc, to_string=True).split(" in section")[0]
        name = name.split(" + ")[0].strip()
    else:
        name = "(guest)"
    counts[name] += 1
    if not order or order[-1][0] != name:
        order.append([name, 0])
    order[-1][1] += 1
with open("{out}", "w") as f:
    f.write("total %d\n" % n)
    for name, c in counts.most_common():
        f.write("%6d  %s\n" % (c, name))
    f.write("\nin order:\n")
    for name, c in order:
        f.write("%6d  %s\n" % (c, name))
gdb.execute("kill")
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--start", default="nested_l2_exit", help="core function to profile from")
    p.add_argument("--skip", type=int, default=200, help="hits of --start before profiling")
    p.add_argument("--limit", type=int, default=20000, help="at most this many steps")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="hvprof-") as tmp:
        d = Path(tmp)
        image = make_image(d, "cmdline = bench\n")
        port = free_port()
        qemu = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "qemu.py"),
                                 "--image", image, "--accel", "tcg", "--cpu", "EPYC",
                                 "--serial-file", str(d / "serial.log"), "--timeout", "600",
                                 "--", "-gdb", f"tcp:127.0.0.1:{port}"])
        out = d / "profile.txt"
        script = d / "profile.py"
        script.write_text(GDB_SCRIPT.format(start=args.start, skip=args.skip,
                                            limit=args.limit, out=out))
        try:
            subprocess.run(["gdb", "-batch", "-nx", "-q", os.path.join(ROOT, "build", "core.elf"),
                            "-ex", "set pagination off",
                            "-ex", f"target remote 127.0.0.1:{port}",
                            "-ex", f"source {script}"],
                           check=False, stdout=subprocess.DEVNULL, timeout=600)
        finally:
            qemu.kill()
            qemu.wait()
        if not out.exists():
            sys.exit("exit-profile: gdb produced no profile (see the messages above)")
        print(out.read_text(), end="")


if __name__ == "__main__":
    main()
