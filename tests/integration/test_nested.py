"""Nested SVM: the L1 test program acts as a guest hypervisor and runs L2
scenarios on the hypervisor's emulated VMRUN (tests/l1/nested_checks.c)."""
import re

import pytest

from conftest import assert_all_passed, boot, make_image

SCENARIOS = """
nested_svm_advertised nested_cpuid_reflected nested_vmmcall_reflected
nested_cpuid_unintercepted_runs_in_l2 nested_hlt_reflected
nested_io_reflected_with_exitinfo nested_msr_reflected
nested_msr_unintercepted_runs_in_l2 nested_invalid_efer_svme
nested_invalid_cr0_nw_without_cd nested_invalid_cr0_high nested_invalid_dr7_high
nested_invalid_long_mode_without_pae nested_invalid_no_vmrun_intercept
nested_invalid_asid_zero nested_invalid_avic_refused nested_invalid_sev_refused
nested_invalid_event_type nested_valid_after_invalid nested_np_identity_read
nested_np_hole_reflects_npf nested_npt12_to_hv_memory_gets_decoy
nested_msrpm_in_hv_memory_invalid nested_iopm_in_hv_memory_invalid
nested_vmcb12_in_hv_memory_gp nested_vmload_hv_memory_gp nested_vmcb12_unaligned_gp
nested_vmsave_values nested_vmload_values nested_vmload_restores nested_gif_holds_interrupts
nested_tsc_offset nested_event_injection nested_exitintinfo_after_exit_during_delivery
nested_l2_vmload_gets_ud nested_vmcb_clean_bits nested_map_write_under_clean_bits nested_two_l2_asids nested_timer_irq_intercepted_by_l1
nested_timer_irq_delivered_to_l2 nested_round_trips_no_leak
""".split()


# EPYC: no vGIF, L1's GIF is emulated. max: TCG's vGIF, which the
# hypervisor uses for L1's GIF (hv/l1_gif.c): the same scenarios both ways.
GIF_LINE = {"EPYC": r"\[hv\] L1's GIF: emulated", "max": r"\[hv\] L1's GIF: the CPU's vGIF"}


@pytest.fixture(scope="module", params=["EPYC", "max"])
def nested_run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nested")
    b = boot(tmp, make_image(tmp, "cmdline = nested\n"), cpu=request.param, timeout=300)
    b.cpu = request.param
    return b


def test_all_nested_scenarios_pass(nested_run):
    assert re.search(GIF_LINE[nested_run.cpu], nested_run.console)
    assert assert_all_passed(nested_run, SCENARIOS) == len(SCENARIOS)
    assert nested_run.status == 0


def test_l2_access_to_hypervisor_memory_is_logged(nested_run):
    assert re.search(r"\[hv\] warning: L1 read hypervisor memory at GPA 0x[0-9a-f]+",
                     nested_run.console)
