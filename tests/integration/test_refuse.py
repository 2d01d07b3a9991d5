"""The hypervisor refuses to start where it could not protect itself, says
why in plain words, and the boot goes on without it: the next stage (the
L1 test program's demo) still runs and sees no hypervisor (QEMU's own
CPUID signature, not ours). Unusable SVM itself (no SVM, not AMD) is
test_boot.py's; here SVM works but something the hypervisor relies on is
missing (arch/x86/cpu_features.h, svm_missing_requirement)."""
from conftest import DEFAULT_CONFIG, assert_in_order, boot, make_image

NO_HV = r'\[l1test\] CPUID 0x40000000: max leaf 0x[0-9a-f]+, signature "TCGTCGTCGTCG"'


def assert_not_started(b):
    assert "[hv] core " not in b.console, b.console[-3000:]  # the core never ran
    assert "NestedSVM-HV" not in b.console
    assert b.status == 0


def test_no_nested_paging_refused(tmp_path):
    """-cpu EPYC,-npt: SVM without nested paging. Without NPT01 nothing
    would keep L1 out of the hypervisor's memory (it used to start anyway)."""
    b = boot(tmp_path, make_image(tmp_path, DEFAULT_CONFIG), cpu="EPYC,-npt")
    assert_in_order(
        b.console,
        r"\[hv\] nested SVM hypervisor loader starting",
        r"\[hv\] warning: not starting the hypervisor: the CPU has no nested paging "
        r"\(NP, CPUID 0x8000000A EDX bit 0\): without it the hypervisor cannot keep L1 out "
        r"of its memory\. \(CPU with APIC ID 0\)",
        r"\[hv\] warning: continuing the boot without the hypervisor",
        r"\[l1test\] next stage running",
        NO_HV,
        r"\[l1test\] powering off",
    )
    assert "SVM usable on all" not in b.console
    assert_not_started(b)


def test_no_nested_paging_on_an_ap_refused(tmp_path):
    """Two CPUs, neither with nested paging: the first CPU checked says so;
    no CPU runs the hypervisor."""
    b = boot(tmp_path, make_image(tmp_path, DEFAULT_CONFIG), cpu="EPYC,-npt", smp=2)
    assert_in_order(
        b.console,
        r"\[hv\] warning: not starting the hypervisor: the CPU has no nested paging .*"
        r"\(CPU with APIC ID \d+\)",
        r"\[hv\] warning: continuing the boot without the hypervisor",
        NO_HV,
    )
    assert_not_started(b)


def test_no_room_for_the_region(tmp_path):
    """memory_mb = 1024 (the most HV.CFG allows) on a 512 MiB machine: the
    firmware has no block that large to reserve. The least invasive way to
    force it: the existing config key, no test-only hook."""
    b = boot(tmp_path, make_image(tmp_path, "memory_mb = 1024\n"), mem="512M")
    assert_in_order(
        b.console,
        r"\[hv\] SVM usable on all 1 CPU\(s\)",
        r"\[hv\] error: no room for the hypervisor's memory: the firmware has no free block "
        r"of 1024 MiB \(memory_mb\) to reserve: Out of Resources",
        r"\[hv\] warning: continuing the boot without the hypervisor",
        r"\[l1test\] next stage running",
        NO_HV,
    )
    assert_not_started(b)
