"""The firmware and the next stage run as L1 under the hypervisor: the L1
test program checks it from inside (tests/l1/), a next stage that
triple-faults gets its state dumped."""
import re

import pytest

from conftest import assert_all_passed, assert_in_order, boot, make_image

# Every check the L1 program runs (tests/l1/l1_checks.c, fpu_check.c); the
# test fails if one is missing, so a check cannot silently stop running.
L1_CHECKS = """
hypercall_meminfo cpuid_hypervisor_bit cpuid_hypervisor_leaf cpuid_abi_version
cpuid_svm_offered vmrun_raises_ud stgi_raises_ud efer_svme_set_reads_back
efer_svme_clear_reads_back efer_reserved_bit_gp efer_lme_change_gp
vm_hsave_pa_reads_back vm_hsave_pa_unaligned_gp vm_hsave_pa_hypervisor_gp
vm_hsave_pa_hypervisor_end_gp vm_hsave_pa_beyond_maxphys_gp
vm_hsave_pa_unchanged_after_gp vm_cr_virtual vm_cr_locked_svmdis_gp
vm_cr_hypervisor_alive hypercall_version hypercall_log hypercall_log_empty_einval
hypercall_log_too_long_einval hypercall_log_hv_memory_efault
hypercall_log_not_ram_efault hypercall_log_wrapping_efault hypercall_unknown_enosys
hypercall_stats_bad_code_einval hv_memory_read_gives_decoy
hv_memory_write_lands_on_decoy hv_memory_last_page hv_memory_accesses_counted
stats_count_cpuid stats_count_vmmcall stats_print nmi_second_waits_for_iret
fpu_exits_happened dma_protection_on iommu_registers_read_as_decoy
apic_base_onto_iommu_registers_gp
""".split()


@pytest.fixture(scope="module")
def checks_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("l1checks")
    return boot(tmp, make_image(tmp, "cmdline = checks\n"), timeout=120)


def test_all_l1_checks_pass(checks_run):
    passed = assert_all_passed(checks_run, L1_CHECKS)
    # FXSAVE state always; YMM when the CPU model has AVX (EPYC does).
    assert re.search(r"\[l1test\] PASS fpu_(ymm|xmm)0_15_intact", checks_run.console)
    assert passed == len(L1_CHECKS) + 1
    assert checks_run.status == 0


def test_hypervisor_side_of_the_checks(checks_run):
    text = checks_run.console
    assert "[hv] L1: hello from L1 via the log hypercall" in text
    assert re.search(r"\[hv\] warning: L1 read hypervisor memory at GPA 0x[0-9a-f]+ "
                     r"\(RIP 0x[0-9a-f]+\): given a decoy page", text)
    assert re.search(r"\[hv\] exit statistics: \d+ exits", text)
    assert re.search(r"\[hv\]   0x72   CPUID +\d+ +\d+ +\d+", text)


def test_l1_triple_fault_is_dumped_then_halts(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, "cmdline = triple-fault\n"),
             until=r"CPU halted \(on_fault=halt\)", timeout=60)
    assert_dump(b.console)
    assert "[hv] error: CPU halted (on_fault=halt)" in b.console


def test_l1_triple_fault_then_reset(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, "cmdline = triple-fault\non_fault = reset\n"),
             timeout=60, extra=["-no-reboot"])
    assert_dump(b.console)
    assert "[hv] error: resetting the machine (on_fault=reset)" in b.console
    assert b.status == 0


def assert_dump(text):
    assert "[l1test] triple-faulting on purpose" in text
    assert re.search(r"\[hv\] error: L1 shut down \(triple fault or shutdown condition\)", text)
    assert re.search(r"\[hv\] error: guest RIP=[0-9a-f]{16} RSP=[0-9a-f]{16} RFLAGS=", text)
    assert re.search(r"\[hv\] error: guest CR0=[0-9a-f]{16} CR2=", text)
    assert re.search(r"\[hv\] error: guest CS=[0-9a-f]{4} .* IDTR=0000000000000000/0000", text)
    assert re.search(r"\[hv\] error: last \d+ exits \(oldest first\):", text)
    assert re.search(r"\[hv\] error:   #\d+ +SHUTDOWN +code 0x7f", text)


def test_print_stats_at_power_off(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, "print_stats = yes\n"))
    assert_in_order(
        b.console,
        r"\[l1test\] powering off",
        r"\[hv\] L1 powers off or suspends the machine \(ACPI PM1a SLP_EN\)",
        r"\[hv\] exit statistics: \d+ exits",
        r"\[hv\]   0x72   CPUID +\d+ +\d+ +\d+",
    )
    assert b.status == 0


def test_no_stats_without_print_stats(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, "log_level = info\n"))
    assert "[hv] L1 powers off or suspends the machine" in b.console
    assert "exit statistics" not in b.console
