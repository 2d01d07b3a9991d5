"""Xen as L1: Debian 12's Xen 4.17 (xen-4.17-amd64.efi) is the hypervisor's
next stage, with Debian's kernel as its PV dom0. A PV dom0 never makes Xen
use SVM, so dom0's /init (tests/l1/xen/dom0-init) starts Debian's toolstack
(xenstored, xenconsoled, xl) and creates a PVH domU (Debian's kernel again,
with a busybox initramfs, tests/l1/xen/domu-init): an HVM guest of Xen, so
Xen runs it with VMRUN, as L2 on our nested SVM, with Xen's HAP (nested
paging) on top of our NPT. tools/xen-l1.sh prepares build/xen/ (cached);
the kernel is tools/linux-l1.sh's.

QEMU's TCG (10.0) gives every MOV from CRn of a guest whose CR0 reads are
intercepted as a CR0-read exit; Xen then emulated the domU's MOV from CR2
with a stale CR2 and its kernel died at its first page fault, silently.
Our hypervisor gives L1 the exit a CPU gives (hv/nested/nested_cr_read.c), and the
domU's kernel boots (test_domu_kernel_boots_as_l2). It stopped at its
int3 self-test (kernel BUG at arch/x86/kernel/alternative.c:1143) until
hv/exit/exit_dispatch.c left an INT3 whose delivery an exit cut off to its
instruction (hv/nested/cut_off_event.h). It then stopped when it ran RDTSCP
(0f 01 f9 66 90, likely rdtsc_ordered() after alternatives patching):
QEMU's TCG checks RDTSCP against the RDTSC intercept and reports it as an
RDTSC exit (its RDTSCP calls helper_rdtsc()), and Xen, finding 0f 01 f9
where it expects RDTSC, logged "SVM Insn len emulation failed" and the
domU went no further. L0 now gives L1 the RDTSCP exit a CPU gives
(hv/nested/nested_rdtscp.c), and the domU reports and powers off
(test_pvh_domu_reports)."""
import os
import re
import subprocess
import time

import pytest

from conftest import BUILD, ROOT, assert_in_order, boot, make_image

XEN = os.path.join(BUILD, "xen")
LINUX = os.path.join(BUILD, "linux")
# Xen's EFI loader reads xen.cfg beside xen.efi; kernel= and ramdisk= are
# relative to it. Xen: serial console on COM1, all its messages (guests'
# too), dom0 small (the machine has 2 GiB). dom0: its console is Xen's
# (hvc0); panic=-1 with QEMU's -no-reboot ends QEMU on a panic of dom0, as
# does Xen's own reboot after a panic.
XEN_CFG = """[global]
default=xen

[xen]
options=console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=768M,max:768M dom0_max_vcpus=1
kernel=vmlinuz console=hvc0 earlyprintk=xen quiet panic=-1 rdinit=/init nokaslr mitigations=off
ramdisk=dom0.img
"""
# print_stats: the exit counts at power-off show Xen's VMRUNs (ours to emulate).
CONFIG = "next_stage = \\EFI\\xen\\xen.efi\nprint_stats = yes\n"
TIMEOUT = 600  # about 30 s today under TCG


@pytest.fixture(scope="module")
def xen_files(tmp_path_factory):
    subprocess.run([os.path.join(ROOT, "tools", "linux-l1.sh"), LINUX], check=True)
    subprocess.run([os.path.join(ROOT, "tools", "xen-l1.sh"), XEN, LINUX], check=True)
    cfg = tmp_path_factory.mktemp("xencfg") / "xen.cfg"
    cfg.write_text(XEN_CFG)
    return [(os.path.join(XEN, "xen.efi"), "\\EFI\\xen\\xen.efi"),
            (str(cfg), "\\EFI\\xen\\xen.cfg"),
            (os.path.join(LINUX, "vmlinuz.efi"), "\\EFI\\xen\\vmlinuz"),
            (os.path.join(XEN, "dom0.img"), "\\EFI\\xen\\dom0.img")]


def run_xen(tmp_path_factory, files, config, cpu):
    tmp = tmp_path_factory.mktemp("xen")
    img = make_image(tmp, config, extra_files=files)
    start = time.monotonic()
    b = boot(tmp, img, cpu=cpu, mem="2G", timeout=TIMEOUT, extra=["-no-reboot"])
    print(f"xen boot ({cpu}): {time.monotonic() - start:.1f} s, QEMU status {b.status}")
    b.cpu = cpu
    return b


# EPYC: L1's GIF emulated (each STGI and CLGI exits). max: the CPU's vGIF,
# with which Xen's CLGI/STGI around each VMRUN run without exits
# (hv/nested/l1_gif.h) while Xen takes interrupts with its GIF clear.
@pytest.fixture(scope="module", params=["EPYC", "max"])
def xen_boot(request, tmp_path_factory, xen_files):
    return run_xen(tmp_path_factory, xen_files, CONFIG, request.param)


def exits(console, name):
    m = re.search(r"\[hv\]\s+0x[0-9a-f]+\s+" + name + r"\s+(\d+)", console)
    return int(m.group(1)) if m else 0


def test_xen_gif_exits(xen_boot):
    """Xen wraps every VMRUN in CLGI/STGI. Emulated, each CLGI exits; with
    the CPU's vGIF only those after an interrupt reached Xen do (then the
    hypervisor intercepts interrupts until one finds Xen's GIF set), a
    small fraction of its VMRUNs."""
    c = xen_boot.console
    vmruns, clgis = exits(c, "VMRUN"), exits(c, "CLGI")
    assert vmruns >= 1000, f"{vmruns} VMRUNs"
    if xen_boot.cpu == "max":
        assert "[hv] L1's GIF: the CPU's vGIF" in c
        assert clgis * 10 < vmruns, f"{clgis} CLGI exits for {vmruns} VMRUNs"
    else:
        assert clgis >= vmruns, f"{clgis} CLGI exits for {vmruns} VMRUNs"


def test_xen_boots_as_l1_with_svm_and_hap(xen_boot):
    """Xen starts from our loader, finds SVM (ours: the CPUID bit, EFER.SVME,
    VM_HSAVE_PA) with nested paging, and boots Debian's kernel as its PV dom0
    up to its /init, whose toolstack then sees HVM and HAP (xl info)."""
    c = xen_boot.console
    assert_in_order(
        c,
        r"\[hv\] starting next stage \\EFI\\xen\\xen.efi",
        r"\(XEN\) Xen version 4\.17",
        r"\(XEN\) HVM: SVM enabled",
        r"\(XEN\) HVM: Hardware Assisted Paging \(HAP\) detected",
        r"(?m)^XENDOM0: booted",
        r"(?m)^XENDOM0: xl info: virt_caps\s*:.*\bhvm hap\b",
    )
    assert "Panic on CPU" not in c


def test_xen_runs_a_pvh_domu_on_our_nested_svm(xen_boot):
    """xl creates the PVH domU and Xen runs it: its VMRUNs (emulated by us)
    start L2 and its exits come back to Xen, until the domain shuts down;
    no Xen complaint about a VMCB ("invalid VMCB state" would be our
    VMEXIT_INVALID), no error of ours, and the machine powers off."""
    c = xen_boot.console
    assert_in_order(
        c,
        r"(?m)^XENDOM0: xl create$",
        r"(?m)^Domain 1 has shut down, reason code \d+",
        r"(?m)^XENDOM0: (PASS|FAIL) PVH domU",
        r"\[hv\] L1 powers off",
    )
    m = re.search(r"\[hv\]\s+0x80\s+VMRUN\s+(\d+)", c)
    assert m and int(m.group(1)) >= 10, "Xen's VMRUNs did not reach us"
    assert "invalid VMCB" not in c and "VMEXIT_INVALID" not in c
    assert "[hv] error" not in c
    assert xen_boot.status == 0, f"QEMU status {xen_boot.status} (124: timeout)"


def test_domu_kernel_boots_as_l2(xen_boot):
    """The domU's kernel, L2 under Xen's SVM and HAP on ours, gets through
    its early boot: its early console (port E9h, which Xen prints as
    "(d1)") and then its hvc0 console (xenconsoled's log, read back by
    dom0) show it. Under TCG this needs our fix of TCG's CR-read exit
    codes, whose first use the hypervisor logs (a CPU never needs it)."""
    c = xen_boot.console
    assert_in_order(
        c,
        r"\[hv\] L2's MOV from CR\d+ exited as a CR0 read",
        r"\(d1\) \[\s*[\d.]+\] Linux version 6\.1",
        r"\(d1\) \[\s*[\d.]+\] Hypervisor detected: Xen HVM",
        r"(?m)^XENDOM0: domU console: \[\s*[\d.]+\] printk: console \[hvc0\] enabled",
    )


def test_pvh_domu_reports(xen_boot):
    """What should happen (and should on hardware): the domU's kernel boots
    as L2, reports on its console (dom0 reads it back from xenconsoled's
    log) and powers off; dom0 prints PASS."""
    c = xen_boot.console
    assert_in_order(
        c,
        r"(?m)^XENDOM0: domU console: XENDOMU: booted",
        r"(?m)^XENDOM0: domU console: XENDOMU: hypervisor type=xen",
        r"(?m)^XENDOM0: domU console: XENDOMU: guest type=PVH",
        r"(?m)^XENDOM0: domU console: XENDOMU: done",
        r"(?m)^XENDOM0: PASS PVH domU",
    )
