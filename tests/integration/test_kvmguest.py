"""Three levels of Linux and KVM on our hypervisor (L0):
L1 is Debian's kernel, booted by our loader as next stage (test_linux.py);
in it, Debian's QEMU (its microvm-only build, `-accel kvm -cpu host`)
boots the same kernel as L2, whose /init (tests/l1/linux/l2init) loads
kvm_amd (L1's KVM offers SVM: nested=1) and runs kvmrun's tiny VM as L3.
Every VMRUN of L1's KVM is emulated by our hypervisor; every VMRUN of L2's
KVM is emulated by L1's KVM, on top of ours.

The L1 initramfs is test_linux.py's, plus tools/linux-qemu.sh's cpio
(QEMU, its libraries and firmware, and what it boots), which the kernel's
EFI stub loads as a second initrd= and appends; L1's /init does the L2
part when the command line says "kvmguest"."""
import os
import re
import subprocess
import time

import pytest

from conftest import ROOT, assert_in_order, boot, make_image
from test_linux import CMDLINE, LINUX

QEMU_IMG = os.path.join(LINUX, "qemu.img")
# The EFI stub concatenates every initrd= file, in order.
KVMGUEST_CMDLINE = CMDLINE.replace(
    "initrd=\\EFI\\linux\\initrd.img",
    "initrd=\\EFI\\linux\\initrd.img initrd=\\EFI\\linux\\qemu.img") + " kvmguest"
CONFIG = ("next_stage = \\EFI\\linux\\vmlinuz.efi\n"
          f"cmdline = {KVMGUEST_CMDLINE}\n")
TIMEOUT = 900


def assert_l2_healthy(console):
    """No kernel (L1's or L2's) complained: a stall (a soft lockup or an
    RCU stall: L2 hanging for 20 s or more, even if it then went on), an
    oops, a panic."""
    for bad in ("Kernel panic", "soft lockup", "detected stalls", "BUG:", "Oops"):
        assert bad not in console, f"{bad!r} on the console"


def boot_kvmguest(tmp, cpu, smp=None, words=""):
    for script in ("linux-l1.sh", "linux-qemu.sh"):
        subprocess.run([os.path.join(ROOT, "tools", script), LINUX], check=True)
    files = [(os.path.join(LINUX, "vmlinuz.efi"), "\\EFI\\linux\\vmlinuz.efi"),
             (os.path.join(LINUX, "initrd.img"), "\\EFI\\linux\\initrd.img"),
             (QEMU_IMG, "\\EFI\\linux\\qemu.img")]
    img = make_image(tmp, CONFIG.replace("kvmguest", f"kvmguest {words}".rstrip()),
                     extra_files=files)
    start = time.monotonic()
    # A CPU the hypervisor halted on a fatal error (its dump is printed)
    # ends the boot at once rather than at TIMEOUT: nothing can pass then.
    b = boot(tmp, img, cpu=cpu, smp=smp, mem="1G", timeout=TIMEOUT, extra=["-no-reboot"],
             until=r"\[hv\] error: CPU halted")
    print(f"kvmguest boot ({cpu}, smp {smp}, {words!r}): {time.monotonic() - start:.1f} s, "
          f"QEMU status {b.status}")
    return b


# As test_linux.py: EPYC, and max with what real Zen CPUs also have.
@pytest.fixture(scope="module", params=["EPYC", "max"])
def kvmguest_boot(request, tmp_path_factory):
    return boot_kvmguest(tmp_path_factory.mktemp("kvmguest"), request.param)


def test_qemu_kvm_in_l1_boots_linux_as_l2(kvmguest_boot):
    """L2 is a Linux under L1's KVM (its CPUID signature is KVM's, not ours),
    runs its /init to the end, powers off, and QEMU in L1 exits with 0; L1
    checked that and says PASS; then L1 powers off too."""
    b = kvmguest_boot
    assert_in_order(
        b.console,
        r"\[hv\] starting next stage \\EFI\\linux\\vmlinuz.efi",
        r"(?m)^L1LINUX: booted$",
        r'(?m)^hvcheck: leaf 0x40000000 max=0x[0-9a-f]{8} signature="NestedSVM-HV"$',
        r"(?m)^L1LINUX: /dev/kvm present$",
        r"(?m)^L1LINUX: starting L2 under QEMU\+KVM \(1 vCPU\)$",
        r"(?m)^L2LINUX: booted\r?$",
        r'(?m)^hvcheck: hypervisor bit=1\r?$',
        r'(?m)^hvcheck: leaf 0x40000000 max=0x[0-9a-f]{8} signature="KVMKVMKVM   "\r?$',
        r"(?m)^L2LINUX: done\r?$",
        r"reboot: Power down",          # L2's
        r"(?m)^L1LINUX: QEMU exit status 0$",
        r"(?m)^L1LINUX: kvmguest L2 PASS$",
        r"(?m)^L1LINUX: done$",
        r"reboot: Power down",          # L1's
    )
    assert_l2_healthy(b.console)
    assert "[hv] error:" not in b.console, "the hypervisor reported an error"
    assert b.status == 0, f"QEMU status {b.status} (124: timeout)"


def test_kvm_in_l2_runs_kvmrun_as_l3(kvmguest_boot):
    """L1's KVM (nested=1) offers SVM to L2; L2's kvm_amd loads and runs
    kvmrun's VM (a CPUID, 100 OUTs, HLT) as L3."""
    b = kvmguest_boot
    assert_in_order(
        b.console,
        r"(?m)^L2LINUX: booted\r?$",
        r"(?m)^L2LINUX: cpuinfo svm flag=yes\r?$",
        r"(?m)^L2LINUX: /dev/kvm present\r?$",
        r"(?m)^kvmrun: L2 ran: 100 OUTs to port 0x10, then HLT at 0x100d\r?$",
        r"(?m)^L2LINUX: kvmrun passed\r?$",
        r"(?m)^L1LINUX: kvmguest L3 PASS$",
    )
    assert "L2LINUX: insmod" not in b.console, "a KVM module did not load in L2"
    # Our statistics after L2 (tools/hvstat in L1): L2's KVM ran L3 with
    # VMRUN, which L2 executed on our hypervisor's VMCB02 and which we
    # reflected to L1's KVM (the L2>L1 column), like L2's VMLOAD/VMSAVE.
    table = b.console[b.console.index("L1LINUX: hvstat -1 after L2"):]
    for exit_name in ("VMRUN", "VMLOAD", "VMSAVE"):
        m = re.search(rf"(?m)^0x8[0-9a-f]\s+{exit_name}\s+(\d+)\s+\S+%\s+\d+\s+(\d+)\s+(\d+)$",
                      table)
        assert m, f"no {exit_name} row in:\n{table[:3000]}"
        assert int(m.group(2)) >= 1, f"no {exit_name} of L2 reflected to L1: {m.group(0)}"


# What QEMU 10.0's multi-threaded TCG does when it loses one of cpu0's SVM
# state changes (docs/design.md, "QEMU's multi-threaded TCG"): a lost
# nested-paging clear at a #VMEXIT, which the hypervisor reports ...
TCG_LOST_NPT_CLEAR = "the CPU wrote the hypervisor's own state into the VMCB"
# ... and, seen only while that race was live, an L2 triple fault (a lost
# nested-paging set at VMRUN runs L2 on its own page tables alone).
L2_SHUTDOWN = re.compile(r"\[hv\] cpu0: L2 shut down \(")


def xfail_if_tcg_lost_state(console):
    """Expected failure only with the marks of QEMU's race on cpu0; any
    other failure of a test with several CPUs fails it."""
    if TCG_LOST_NPT_CLEAR in console:
        pytest.xfail("QEMU's multi-threaded TCG lost cpu0's nested-paging clear at a #VMEXIT "
                     "(the hypervisor's error line; docs/design.md)")
    if L2_SHUTDOWN.search(console):
        pytest.xfail("L2 shut down on cpu0, as seen only while QEMU's multi-threaded TCG race "
                     "was live (docs/design.md); the line says where L2 was")


@pytest.mark.long  # 1.5 to 3 minutes each under TCG (make test-long)
@pytest.mark.parametrize("cpu", ["EPYC", "max"])
def test_two_vcpus_at_each_level(tmp_path, cpu):
    """L1 with 2 CPUs, L2 with 2 vCPUs (QEMU's threads on both of L1's
    CPUs, so two nested VMRUNs of L1's KVM in flight at once on our
    hypervisor): the L3 VM on each of L2's vCPUs and on both at once, then
    L2 writes and reads back 3 x 16 MiB of fresh memory on one vCPU (page
    faults through L2's page tables, KVM's NPT and our shadow of it) while
    the L3 VM keeps running on the other.

    Expected to fail only with the marks of QEMU's multi-threaded TCG race
    (docs/design.md, "QEMU's multi-threaded TCG"), which until 2026-11-27
    made about 1 run in 5 fail here as two "known bugs":
    - a VMCB coming back from one VMRUN with the hypervisor's own state in
      its save area and exit code NPF (a nested page fault on the walk of
      the host's page table): another vCPU's x87 state load undid cpu0's
      clear of its nested-paging flag at that #VMEXIT, so the CPU took a
      "#VMEXIT" from the hypervisor's first instruction. The hypervisor
      now stops with an error line that says so (then: xfail);
    - L2 triple-faulting on cpu0 during the memory churn (then: xfail),
      consistent with the same race losing the flag's set at a VMRUN.
    A QEMU 10.0.2 built here with only that clear made atomic passed this
    test 20 times in 20; the same build without the fix failed 9 runs of
    10 when the host had more runnable threads than cores (8 with the
    error line, 1 with the L2 shutdown). QEMU's single-threaded TCG, which
    has no such race, cannot run it either: L2 with 2 vCPUs hangs in its
    boot there, bare on QEMU's own nested SVM as well."""
    b = boot_kvmguest(tmp_path, cpu, smp=2, words="kvmguest_smp=2")
    xfail_if_tcg_lost_state(b.console)
    assert_in_order(
        b.console,
        r"(?m)^L1LINUX: starting L2 under QEMU\+KVM \(2 vCPU\)$",
        r"(?m)^L2LINUX: booted\r?$",
        r"(?m)^L2LINUX: kvmrun passed\r?$",
        r"(?m)^L2LINUX: kvmrun on cpu0 passed\r?$",
        r"(?m)^L2LINUX: kvmrun on cpu1 passed\r?$",
        r"(?m)^L2LINUX: kvmrun on cpu0 and cpu1 at once passed\r?$",
        r"(?m)^L2LINUX: memory churn beside L3 passed \(L2's uptime [0-9.]+ s to [0-9.]+ s\)\r?$",
        r"(?m)^L2LINUX: kvmrun forever passed\r?$",
        r"(?m)^L2LINUX: done\r?$",
        r"(?m)^L1LINUX: kvmguest L2 PASS$",
        r"(?m)^L1LINUX: kvmguest L3 PASS$",
        r"(?m)^L1LINUX: done$",
    )
    assert_l2_healthy(b.console)
    assert "[hv] error:" not in b.console, "the hypervisor reported an error"
    assert b.status == 0, f"QEMU status {b.status} (124: timeout)"


@pytest.mark.long
def test_l2_beside_a_second_kvm_guest(tmp_path):
    """L1 with 2 CPUs; kvmrun's VM loops on L1's cpu1 ("kvmrun forever")
    while QEMU's L2 boots, so L1's KVM switches between two guests there:
    two VMCB12s, vASIDs and NPT12s alternate on one of our vCPUs.

    History. On 2026-11-26, before the INT3 redelivery and RDTSCP fixes
    (hv/nested/cut_off_event.h, hv/nested/nested_rdtscp.c), six runs of six
    went wrong at L2's jump-label patching: lost #BP, L2 shutdowns,
    panics, soft lockups. After them, the failures left were the marks of
    QEMU's multi-threaded TCG race on cpu0 (docs/design.md, "QEMU's
    multi-threaded TCG"): L1's cpu0 running one VMRUN on the hypervisor's
    own state, which the hypervisor now reports and stops on. There were also
    soft lockups of 22 to 127 s in L2, seen only while the host ran more
    QEMU threads than it has cores (two or more of these tests side by
    side).

    On 2026-11-27, one run at a time, Debian's QEMU passed 2 runs of 3;
    the third ended on the race's error line. A QEMU 10.0.2 built here
    with that race and the injected-interrupt bug fixed passed 5 runs of
    5 with at most one other QEMU beside it; a sixth run, beside three other
    QEMUs, had L2's soft lockups (as did Debian's QEMU there). So this is an
    expected failure only with the race's marks."""
    # A hung L2 is stopped after 240 s (L1 then prints FAIL and the stats).
    b = boot_kvmguest(tmp_path, "EPYC", smp=2, words="kvmguest_beside kvmguest_timeout=240")
    xfail_if_tcg_lost_state(b.console)
    assert_in_order(
        b.console,
        r"(?m)^L1LINUX: kvmrun forever on cpu1 beside L2$",
        r"(?m)^L1LINUX: starting L2 under QEMU\+KVM \(1 vCPU\)$",
        r"(?m)^L2LINUX: kvmrun passed\r?$",
        r"(?m)^L2LINUX: done\r?$",
        r"(?m)^L1LINUX: kvmguest L2 PASS$",
        r"(?m)^L1LINUX: kvmguest L3 PASS$",
        r"(?m)^L1LINUX: kvmrun forever beside L2 passed$",
        r"(?m)^L1LINUX: done$",
    )
    assert_l2_healthy(b.console)
    assert "[hv] error:" not in b.console, "the hypervisor reported an error"
    assert b.status == 0, f"QEMU status {b.status} (124: timeout)"
