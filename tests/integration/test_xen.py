"""Xen as L1: Debian 12's Xen 4.17 (xen-4.17-amd64.efi) is the hypervisor's
next stage, with Debian's kernel as its PV dom0. A PV dom0 never makes Xen
use SVM, so dom0's /init (tests/l1/xen/dom0-init) starts Debian's toolstack
and creates a PVH domU (Debian's kernel again, with a busybox initramfs):
an HVM guest of Xen, so it runs as L2 on our nested SVM, with Xen's HAP
(nested paging) on top of our NPT. tools/xen-l1.sh prepares build/xen/
(cached); the kernel is tools/linux-l1.sh's."""
import os
import re
import subprocess
import time

import pytest

from conftest import BUILD, ROOT, assert_in_order, boot, make_image

XEN = os.path.join(BUILD, "xen")
LINUX = os.path.join(BUILD, "linux")
# Xen's EFI loader reads xen.cfg beside xen.efi; kernel= and ramdisk= are
# relative to it. Xen: serial console on COM1, all its messages, dom0 small
# (the machine has 2 GiB). dom0: its console is Xen's (hvc0), panic=-1
# with QEMU's -no-reboot ends QEMU on a panic of dom0 or Xen.
XEN_CFG = """[global]
default=xen

[xen]
options=console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=768M,max:768M dom0_max_vcpus=1
kernel=vmlinuz console=hvc0 earlyprintk=xen quiet panic=-1 rdinit=/init nokaslr mitigations=off
ramdisk=dom0.img
"""
CONFIG = "next_stage = \\EFI\\xen\\xen.efi\n"
TIMEOUT = 900


@pytest.fixture(scope="module")
def xen_boot(tmp_path_factory):
    subprocess.run([os.path.join(ROOT, "tools", "linux-l1.sh"), LINUX], check=True)
    subprocess.run([os.path.join(ROOT, "tools", "xen-l1.sh"), XEN, LINUX], check=True)
    tmp = tmp_path_factory.mktemp("xen")
    cfg = tmp / "xen.cfg"
    cfg.write_text(XEN_CFG)
    files = [(os.path.join(XEN, "xen.efi"), "\\EFI\\xen\\xen.efi"),
             (str(cfg), "\\EFI\\xen\\xen.cfg"),
             (os.path.join(LINUX, "vmlinuz.efi"), "\\EFI\\xen\\vmlinuz"),
             (os.path.join(XEN, "dom0.img"), "\\EFI\\xen\\dom0.img")]
    img = make_image(tmp, CONFIG, extra_files=files)
    start = time.monotonic()
    b = boot(tmp, img, mem="2G", timeout=TIMEOUT, extra=["-no-reboot"])
    print(f"xen boot: {time.monotonic() - start:.1f} s, QEMU status {b.status}")
    return b


def test_xen_boots_as_l1_with_svm_and_hap(xen_boot):
    """Xen starts from our loader, finds SVM (ours: the CPUID bit, EFER.SVME,
    VM_HSAVE_PA) with nested paging, and boots Debian's kernel as its PV dom0
    up to its /init."""
    c = xen_boot.console
    assert_in_order(
        c,
        r"\[hv\] starting next stage \\EFI\\xen\\xen.efi",
        r"\(XEN\) Xen version 4\.17",
        r"\(XEN\) HVM: SVM enabled",
        r"\(XEN\) HVM: Hardware Assisted Paging \(HAP\) detected",
        r"(?m)^XENDOM0: booted",
    )
    assert "Panic on CPU" not in c


def test_pvh_domu_runs_as_l2(xen_boot):
    """xl creates a PVH domU; its kernel boots as L2 under Xen's SVM and HAP,
    reports on its console (which dom0 reads back from xenconsoled's log)
    and powers off; dom0 then powers the machine off."""
    c = xen_boot.console
    assert_in_order(
        c,
        r"(?m)^XENDOM0: xl info: virt_caps\s*:.*\bhvm\b",
        r"(?m)^XENDOM0: xl create$",
        r"(?m)^XENDOM0: domU console: XENDOMU: booted",
        r"(?m)^XENDOM0: domU console: XENDOMU: hypervisor type=xen",
        r"(?m)^XENDOM0: domU console: XENDOMU: guest type=PVH",
        r"(?m)^XENDOM0: domU console: XENDOMU: done",
        r"(?m)^XENDOM0: PASS PVH domU",
    )
    assert "[hv] error" not in c
    assert xen_boot.status == 0, f"QEMU status {xen_boot.status} (124: timeout)"
