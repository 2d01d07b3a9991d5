"""A real OS as the next stage: a Debian 12 kernel, started by our loader
through its EFI stub with the config's cmdline, boots a tiny busybox
initramfs whose /init (tests/l1/linux/init) reports on the serial console
which hypervisor it runs on, loads kvm_amd and runs a tiny VM through
/dev/kvm (KVM as the guest hypervisor, its VM as L2), then powers off. tools/linux-l1.sh prepares
build/linux/ once (kernel from Debian's archive, initramfs)."""
import os
import re
import subprocess
import time

import pytest

from conftest import BUILD, ROOT, assert_in_order, boot, make_image

LINUX = os.path.join(BUILD, "linux")
# nokaslr: the same addresses every boot (debugging); mitigations=off: less
# work for TCG. panic=-1 with QEMU's -no-reboot: a kernel panic ends QEMU at
# once instead of rebooting into the hypervisor again until the timeout.
CMDLINE = ("initrd=\\EFI\\linux\\initrd.img console=ttyS0 earlyprintk=serial,ttyS0 "
           "quiet panic=-1 rdinit=/init nokaslr mitigations=off")
CONFIG = ("next_stage = \\EFI\\linux\\vmlinuz.efi\n"
          f"cmdline = {CMDLINE}\n")
TIMEOUT = 240  # about 10 s today under TCG; leave room for slow CI and the guest mode


@pytest.fixture(scope="session")
def linux_files():
    subprocess.run([os.path.join(ROOT, "tools", "linux-l1.sh"), LINUX], check=True)
    return [(os.path.join(LINUX, "vmlinuz.efi"), "\\EFI\\linux\\vmlinuz.efi"),
            (os.path.join(LINUX, "initrd.img"), "\\EFI\\linux\\initrd.img")]


# EPYC, and max with what real Zen CPUs also have (LA57 made KVM's L2 hang
# once: its 5-level NPT12 was walked as 4 levels, issue 12).
@pytest.fixture(scope="module", params=["EPYC", "max"])
def linux_boot(request, tmp_path_factory, linux_files):
    tmp = tmp_path_factory.mktemp("linux")
    img = make_image(tmp, CONFIG, extra_files=linux_files)
    start = time.monotonic()
    b = boot(tmp, img, cpu=request.param, mem="1G", timeout=TIMEOUT, extra=["-no-reboot"])
    print(f"linux boot: {time.monotonic() - start:.1f} s, QEMU status {b.status}")
    return b


def test_linux_boots_on_the_hypervisor_and_powers_off(linux_boot):
    b = linux_boot
    assert_in_order(
        b.console,
        r"\[hv\] core \S+ running at ",
        r"\[hv\] starting next stage \\EFI\\linux\\vmlinuz.efi",
        r"(?m)^L1LINUX: booted$",
        r"(?m)^hvcheck: hypervisor bit=1$",
        r"(?m)^hvcheck: leaf 0x40000000 max=0x[0-9a-f]{8} signature=",
        r"(?m)^L1LINUX: cpuinfo hypervisor flag=yes$",
        r"(?m)^L1LINUX: done$",
        r"reboot: Power down",  # Linux powered off (not a panic, not a reboot)
    )
    assert "Kernel panic" not in b.console
    assert b.status == 0, f"QEMU status {b.status} (124: timeout)"


def test_ac_and_db_reach_l1_userspace(linux_boot):
    """#AC and #DB, which the hypervisor always intercepts so that their
    delivery cannot loop inside the CPU, still reach L1 as on a CPU: an
    alignment check at CPL 3 is SIGBUS, ICEBP a SIGTRAP after it. QEMU's
    TCG checks no alignment, so it raises no #AC at all (measured bare,
    `hypervisor = no`, too): there the load completes ("not raised"), which
    shows at least that nothing else went wrong; a CPU that checks gives
    "ok", and a wrong signal or none "FAILED"."""
    assert re.search(r"(?m)^excheck: #AC -> SIGBUS (ok|not raised)$", linux_boot.console)
    assert re.search(r"(?m)^excheck: ICEBP -> SIGTRAP ok$", linux_boot.console)


def test_linux_sees_our_cpuid_signature(linux_boot):
    """Leaf 0x40000000 answered by our hypervisor, not by QEMU ("TCGTCGTCGTCG")
    or the hardware: Linux really runs as our guest."""
    assert re.search(r'(?m)^hvcheck: leaf 0x40000000 max=0x[0-9a-f]{8} signature="NestedSVM-HV"$',
                     linux_boot.console), \
        "\n".join(l for l in linux_boot.console.splitlines() if l.startswith("hvcheck:"))


def test_kvm_in_l1_runs_an_l2(linux_boot):
    """Debian's kvm_amd sees SVM (ours), loads, and runs kvmrun's VM: a CPUID
    KVM handles in its kernel, 100 OUTs it hands to kvmrun, then HLT. Every
    VMRUN of KVM is emulated by our hypervisor, every exit of the VM
    reflected to KVM."""
    assert_in_order(
        linux_boot.console,
        r"(?m)^L1LINUX: cpuinfo svm flag=yes$",
        r"(?m)^L1LINUX: /dev/kvm present$",
        r"(?m)^kvmrun: L2 ran: 100 OUTs to port 0x10, then HLT at 0x100d$",
        r"(?m)^L1LINUX: kvmrun passed$",
    )
    assert "insmod" not in linux_boot.console, "a KVM module did not load"
