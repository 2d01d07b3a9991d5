#!/usr/bin/env python3
"""make bench: what an L1 exit costs, and the hypervisor's memory footprint.

Three boots of the L1 test program in its "bench" mode (tests/l1/bench.c:
after ExitBootServices, interrupts off, 20,000 CPUIDs timed with RDTSC):
  1. under the hypervisor: RDTSC is the host's TSC -> cycles per round trip
  2. the same with QEMU's -icount shift=0: RDTSC counts guest instructions
     (the hypervisor's own included) -> instructions per round trip
  3. -icount shift=0 with SVM off (-cpu EPYC,-svm): the hypervisor does not
     start, CPUID is TCG's -> the baseline
L0's instructions per exit = (2) - (3). Figures under TCG, not hardware.
"""
import os
import re
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import boot, make_image  # noqa: E402

PER_TRIP = re.compile(r"\[l1test\] bench: per CPUID round trip: (\d+) ticks")
CALIBRATION = re.compile(r"\[l1test\] bench: calibration: (\d+) instructions took (\d+) ticks")


def run(tmp, label, cpu, icount):
    from pathlib import Path
    d = Path(tmp) / label
    d.mkdir()
    extra = ["-icount", "shift=0"] if icount else []
    b = boot(d, make_image(d, "cmdline = bench\n"), cpu=cpu, timeout=300, extra=extra)
    m, c = PER_TRIP.search(b.console), CALIBRATION.search(b.console)
    if not m or not c:
        sys.exit(f"bench: no figure from the {label} run:\n{b.console[-2000:]}")
    if icount:
        # With -icount shift=0 a tick should be one instruction: check it.
        ratio = int(c.group(2)) / int(c.group(1))
        if not 0.95 < ratio < 1.05:
            sys.exit(f"bench: under -icount, {ratio:.3f} ticks per instruction, not 1")
    return int(m.group(1)), b.console


def main():
    with tempfile.TemporaryDirectory(prefix="hvbench-") as tmp:
        cycles, log = run(tmp, "hv-cycles", "EPYC", False)
        with_hv, _ = run(tmp, "hv-icount", "EPYC", True)
        bare, _ = run(tmp, "bare-icount", "EPYC,-svm", True)
    l0 = with_hv - bare
    print("L1 exit round trip (L1 CPUID, handled by L0), QEMU TCG -cpu EPYC:")
    print(f"  cycles (host TSC)                     {cycles:>10}")
    print(f"  instructions, with the hypervisor      {with_hv:>10}  (-icount shift=0)")
    print(f"  instructions, bare TCG (no hypervisor) {bare:>10}")
    print(f"  L0 instructions per exit               {l0:>10}")
    for pat in (r"\[hv\] memory: .*", r"\[hv\] NPT01: .*", r"\[hv\] memory in use after launch: .*"):
        m = re.search(pat, log)
        if m:
            print("  " + m.group(0))


if __name__ == "__main__":
    main()
