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
@pytest.mark.xfail(strict=False, reason="known bug, not yet found: L2 hangs or panics when L1's "
                   "KVM also runs a second guest on one of L1's CPUs (see the docstring)")
def test_l2_beside_a_second_kvm_guest(tmp_path):
    """L1 with 2 CPUs; kvmrun's VM loops on L1's cpu1 ("kvmrun forever")
    while QEMU's L2 boots, so L1's KVM switches between two guests there:
    two VMCB12s, vASIDs and NPT12s alternate on one of our vCPUs.

    Not working (seen while doing issue 10, 2026-11-26): six runs out of
    six went wrong, always at the same point of L2's boot, its jump-label patching
    (activate_jump_labels -> text_poke_bp_batch), right after "PCI: Fatal:
    No config space access function found":
    - L2 with 2 vCPUs: L2 shut down, no message (a SHUTDOWN exit of L2,
      reflected to L1: a triple fault);
    - L2 with 2 vCPUs: vCPU 0 executed the INT3 that text_poke_bp had just
      written into account_process_tick (in the timer interrupt) and went
      on at the next byte without running its #BP handler: "BUG: unable
      to handle page fault for address: 00000000003d0900" at
      account_process_tick+0x12, then a panic;
    - L2 with 2 vCPUs, and L2 with 1 vCPU: "watchdog: BUG: soft lockup -
      CPU#N stuck for 22s!", for as long as it ran;
    - L2 with 1 vCPU, twice: a stall there ("soft lockup - CPU#0 stuck
      for 26s!", "rcu_preempt kthread starved for 5253 jiffies"), then it
      went on and passed (hence the checks for stalls below).
    (A seventh run, L2 with 2 vCPUs and its console not quiet, got past
    that point and was stopped by hand.) Our hypervisor logged no error
    and, in three runs with temporary logging, neither reflected nor re-delivered any EXITINTINFO event
    with vector 3 or of the software-interrupt type. The same L1, QEMU
    and L2 on QEMU's own nested SVM (`hypervisor = no`) pass (L2 with 2
    vCPUs), as do all the runs above without the second guest. So the bug
    is ours, in what changes when one vCPU's L1 alternates between two L2
    guests (full VMCB12 reloads, NPT02 resyncs on each vASID change, map
    merges moving their write protection); not found in the time this
    work had.

    After the INT3 redelivery and RDTSCP fixes (2026-11-26): 2 runs of 7
    passed; three had L2 stall there (soft lockups of 26 and 49 s, a 5 s
    RCU kthread starvation) and then pass; in two L1's cpu0 stopped on a
    SHUTDOWN. Both times L1 had just taken an INTR #VMEXIT from L2 and run
    VMSAVE and VMLOAD (both emulated by L0); at the next VMRUN of VMCB01,
    L1 ran on a host-state image: RIP the instruction after svm_run's
    VMRUN, RSP the host's stack, the host's CR3, GDTR and IDTR, RAX =
    VMCB01's own address; its page walk hit the hypervisor's region
    (refused: decoy page), then a triple fault. The dump showed the CPU's
    VM_HSAVE_PA still at its own host save area (the page right after
    VMCB01), so VMRUN did not save the host state into VMCB01 through a
    wrong VM_HSAVE_PA: VMCB01's save area itself was overwritten with that
    image. Not found yet.

    2026-11-27: in 12 more runs (two side by side), none shut down and
    4 had L2's 22 to 26 s soft lockup at L2's uptime 29 s, always the run
    started second; the shutdown is the first failure described in
    test_two_vcpus_at_each_level, which reproduces it more often."""
    # A hung L2 is stopped after 240 s (L1 then prints FAIL and the stats).
    b = boot_kvmguest(tmp_path, "EPYC", smp=2, words="kvmguest_beside kvmguest_timeout=240")
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
