"""Several CPUs: every CPU the firmware reports runs under the hypervisor.

- The default image (the L1 test program) with -smp 4: each AP is launched
  through the firmware's MP services and the firmware goes on working.
- Debian's kernel as L1 with -smp 2 and -smp 4 ("smptest" on its command
  line, see tests/l1/linux/init): on every CPU, CPUID 0x40000000 is ours and
  a read of the hypervisor's region through /dev/mem gives the decoy, not
  the core's header; each AP goes offline and online again (Linux's
  INIT-SIPI-SIPI, emulated by the hypervisor); KVM runs its VM pinned to
  each CPU and on two CPUs at once (nested SVM on several vCPUs).
Without the hypervisor's SMP support, CPU 1 shows QEMU's "TCGTCGTCGTCG" and
reads "VSHVCORE" (the core's header magic) there."""
import re

import pytest

from conftest import assert_all_passed, assert_in_order, boot, make_image, DEFAULT_CONFIG
from test_linux import CMDLINE, linux_files  # noqa: F401 (fixture)

CORE_MAGIC = 0x45524F4356485356  # "VSHVCORE", hv/core/boot_info.h
DECOY = 0xFFFFFFFFFFFFFFFF
TIMEOUT = 420  # 4 vCPUs on TCG with 2 host cores: slower than the 1-CPU test


def test_l1_program_with_4_cpus(tmp_path):
    img = make_image(tmp_path, DEFAULT_CONFIG)
    b = boot(tmp_path, img, cpu="EPYC", smp=4, timeout=180)
    assert b.status == 0, b.console[-3000:]
    assert "[hv] SVM usable on all 4 CPU(s)" in b.console
    for cpu in (1, 2, 3):
        assert re.search(rf"\[hv\] cpu{cpu}: launching the firmware's AP as L1 ", b.console), \
            f"cpu{cpu} not launched:\n{b.console[-3000:]}"
    assert "could not be virtualized" not in b.console
    assert_in_order(b.console, r"loader resumed as L1", r"\[l1test\] powering off")


SMP_CHECKS = """smp_three_or_more_cpus smp_bsp_signature smp_mp_services_run_each_ap
smp_nested_svm_on_each_ap smp_mp_services_run_all_aps smp_nested_svm_on_all_aps_at_once
apic_rmw_write_gp init_to_boot_cpu_ignored init_sipi_to_nobody_dropped
sipi_to_running_ap_ignored x2apic_mode_entered x2apic_init_sipi_sipi_starts_ap""".split()


def test_l1_program_smp_checks(tmp_path):
    """The L1 test program's "smp" mode (tests/l1/smp_checks.c) with 3 CPUs
    and x2APIC: nested SVM on each AP and on all at once (MP services from
    inside L1), bad INIT/SIPI requests, and an AP restarted by INIT-SIPI-SIPI
    through the x2APIC ICR, which the hypervisor emulates."""
    img = make_image(tmp_path, "cmdline = smp\n")
    b = boot(tmp_path, img, cpu="EPYC,+x2apic", smp=3, timeout=240)
    assert b.status == 0, b.console[-3000:]
    assert_all_passed(b, SMP_CHECKS)
    assert_in_order(b.console,
                    r"\[hv\] warning: L1 write to the APIC page at 0xfee00080 .*: #GP",
                    r"\[hv\] warning: INIT to the boot CPU ignored",
                    r"\[hv\] warning: INIT to APIC ID 0x55: no such CPU, dropped",
                    r"PASS x2apic_mode_entered",
                    r"\[hv\] cpu2: SIPI: starting at 0x[0-9a-f]+000 \(real mode\)",
                    r"PASS x2apic_init_sipi_sipi_starts_ap")


def region_base(console):
    m = re.search(r"\[hv\] reserved \d+ MiB at 0x([0-9A-Fa-f]+)", console)
    assert m, "no region line"
    return int(m.group(1), 16)


def smpcheck_lines(console):
    return re.findall(r"(?m)^smpcheck: cpu(\d+) signature=\"([^\"]*)\"(.*)$", console)


# -cpu max too: KVM in L1 with 5-level paging and vGIF, on several CPUs.
@pytest.fixture(scope="module", params=[(2, "EPYC"), (4, "EPYC"), (2, "max")],
                ids=["2-EPYC", "4-EPYC", "2-max"])
def smp_boot(request, tmp_path_factory, linux_files):  # noqa: F811
    ncpus, cpu = request.param
    tmp = tmp_path_factory.mktemp(f"smp{ncpus}-{cpu}")
    config = ("next_stage = \\EFI\\linux\\vmlinuz.efi\n"
              f"cmdline = {CMDLINE} smptest\n")
    img = make_image(tmp, config, extra_files=linux_files)
    b = boot(tmp, img, cpu=cpu, mem="1G", smp=ncpus, timeout=TIMEOUT, extra=["-no-reboot"])
    return ncpus, b


def test_linux_runs_on_every_cpu(smp_boot):
    ncpus, b = smp_boot
    assert "Kernel panic" not in b.console
    assert b.status == 0, f"QEMU status {b.status} (124: timeout)\n{b.console[-4000:]}"
    assert_in_order(b.console, r"(?m)^L1LINUX: booted$", r"(?m)^L1LINUX: done$",
                    r"reboot: Power down")
    assert f"smpcheck: {ncpus} CPU(s) checked" in b.console  # Linux has them all online


def test_every_cpu_has_our_signature_and_sees_the_decoy(smp_boot):
    ncpus, b = smp_boot
    base = region_base(b.console)
    lines = smpcheck_lines(b.console)
    # Twice: at boot, and after every AP went offline and online again.
    assert len(lines) == 2 * ncpus, "\n".join(map(str, lines))
    for cpu, sig, mem in lines:
        assert sig == "NestedSVM-HV", f"cpu{cpu}: {sig}"
        reads = dict((int(a, 16), v) for a, v in re.findall(r"mem 0x([0-9a-f]+)=(\S+)", mem))
        assert base in reads, f"cpu{cpu}: region {base:#x} not read: {mem}"
        assert reads[base] == f"0x{DECOY:016x}", f"cpu{cpu} read {reads[base]} at {base:#x}"
        assert f"0x{CORE_MAGIC:016x}" not in mem


def test_aps_go_offline_and_online(smp_boot):
    ncpus, b = smp_boot
    for cpu in range(1, ncpus):
        assert re.search(rf"(?m)^L1LINUX: cpu{cpu} offline and online again$", b.console), \
            f"cpu{cpu}:\n" + "\n".join(l for l in b.console.splitlines() if "L1LINUX" in l)


def test_kvm_runs_vms_on_every_cpu_and_two_at_once(smp_boot):
    ncpus, b = smp_boot
    for cpu in range(ncpus):
        assert re.search(rf"(?m)^L1LINUX: kvmrun on cpu{cpu} passed$", b.console), \
            "\n".join(l for l in b.console.splitlines() if "L1LINUX" in l or "kvmrun" in l)
    assert re.search(r"(?m)^L1LINUX: kvmrun on cpu0 and cpu1 at once passed$", b.console)
