"""Nested SVM: the L1 test program acts as a guest hypervisor and runs L2
scenarios (tests/l1/nested_checks.c, tests/l1/conformance_checks.c) on the
hypervisor's emulated VMRUN, and the same scenarios bare on QEMU's TCG
(config `hypervisor = no`), under two CPU models: what passes under the
hypervisor must pass on the CPU itself, or the scenario says why TCG
differs and skips there (never passes)."""
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
nested_msrpm_past_phys_limit_invalid nested_vmcb12_in_hv_memory_gp
nested_vmload_hv_memory_gp nested_vmcb12_unaligned_gp
nested_vmsave_values nested_vmload_values nested_vmload_restores nested_gif_holds_interrupts
nested_tsc_offset nested_event_injection nested_exitintinfo_after_exit_during_delivery
nested_vmcb_clean_bits nested_map_write_under_clean_bits nested_two_l2_asids
nested_timer_irq_intercepted_by_l1 nested_timer_irq_delivered_to_l2 nested_round_trips_no_leak
nested_l2_vmload_unintercepted nested_l2_vmsave_unintercepted
nested_l2_vmload_unintercepted_no_np nested_l2_vmload_hv_memory_gp
nested_l2_clgi_stgi_unintercepted nested_l2_stgi_pending_intr_intercepted
nested_l2_stgi_pending_intr_not_intercepted nested_l2_pending_intr_from_l1_delivered
nested_v_intr_masking_l1_if_gates nested_l2_self_nmi nested_vmrun_tf_trap
nested_l2_tf_first_insn nested_iopm_rewritten_by_l2_no_np nested_msrpm_rewritten_by_l2_no_np
nested_iopm_rewritten_by_l2 nested_msrpm_rewritten_by_l2 nested_iopm_rewritten_by_l1
nested_iopm_access_straddles_bytes nested_iopm_port_after_access_not_checked
nested_iopm_last_byte nested_msrpm_outside_ram_intercepts_all
nested_iopm_outside_ram_intercepts_all nested_msrpm_in_hv_memory_intercepts_all
nested_iopm_in_hv_memory_intercepts_all nested_cpuid_osxsave_follows_cr4
nested_cpuid_osxsave_follows_l1_cr4 nested_event_injection_each_vector_once
nested_event_injection_nmi nested_event_injection_intr nested_event_injection_soft_int
nested_exitintinfo_error_code nested_reinjected_event_delivered_once nested_virq_delivered
nested_virq_held_by_v_tpr nested_virq_v_ign_tpr nested_l2_rdmsr_vm_hsave_pa
nested_l2_rdmsr_vm_cr nested_l2_efer_write_keeps_l1_svme nested_rdtsc_intercepted
nested_l2_stgi_pending_nmi_intercepted nested_l2_stgi_pending_nmi_not_intercepted
nested_interrupt_shadow_delays_virq nested_virq_before_first_insn nested_no_vintr_exit_unasked
nested_exitintinfo_nmi nested_exitintinfo_intr nested_exitintinfo_exception
nested_l1_cpuid_tf_trap nested_l2_ud_intercepted_by_l1 nested_l2_cr8_while_gif_clear
nested_l1_icebp_db nested_l1_data_breakpoint nested_l1_db_through_l0
nested_l2_icebp_unintercepted nested_l2_icebp_intercepted nested_l2_db_intercepted
""".split()

# What the CPU model adds: PKU (OSPKE follows CR4.PKE) and vGIF (offered
# to L1 where the CPU has it) come with -cpu max, not with EPYC.
MAX_ONLY = ["nested_cpuid_ospke_follows_cr4", "nested_vgif_offered", "nested_l2_vgif_clgi_stgi"]

# Bare, the hypervisor's own scenarios skip (no hypervisor), and so do
# those where TCG departs from the APM (each says why in its SKIP line).
BARE_SKIPS = {
    "nested_npt12_to_hv_memory_gets_decoy", "nested_vmcb12_in_hv_memory_gp",
    "nested_vmload_hv_memory_gp",
    "nested_l2_vmload_hv_memory_gp", "nested_msrpm_in_hv_memory_intercepts_all",
    "nested_iopm_in_hv_memory_intercepts_all",
    "nested_invalid_avic_refused", "nested_invalid_sev_refused",
    "nested_l2_vmload_unintercepted_no_np",
    "nested_msrpm_outside_ram_intercepts_all", "nested_iopm_outside_ram_intercepts_all",
    "nested_l1_db_through_l0",
}
BARE_ONLY = ["nested_round_trips"]  # without the hypervisor's counters
HV_ONLY = ["nested_round_trips_no_leak"]

# EPYC: no vGIF, L1's GIF is emulated. max: TCG's vGIF, which the
# hypervisor uses for L1's GIF (hv/l1_gif.c): the same scenarios both ways.
GIF_LINE = {"EPYC": r"\[hv\] L1's GIF: emulated", "max": r"\[hv\] L1's GIF: the CPU's vGIF"}


def expected(cpu, bare):
    names = SCENARIOS + (MAX_ONLY if cpu == "max" else [])
    if bare:
        names = [n for n in names if n not in BARE_SKIPS and n not in HV_ONLY] + BARE_ONLY
    return names


def skipped(console):
    return set(re.findall(r"\[l1test\] SKIP (\S+):", console))


@pytest.fixture(scope="module", params=["EPYC", "max"])
def nested_run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nested")
    b = boot(tmp, make_image(tmp, "cmdline = nested\n"), cpu=request.param, timeout=300)
    b.cpu = request.param
    return b


@pytest.fixture(scope="module", params=["EPYC", "max"])
def bare_run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nested-bare")
    b = boot(tmp, make_image(tmp, "cmdline = nested\nhypervisor = no\n"), cpu=request.param,
             timeout=300)
    b.cpu = request.param
    return b


def test_all_nested_scenarios_pass(nested_run):
    assert re.search(GIF_LINE[nested_run.cpu], nested_run.console)
    names = expected(nested_run.cpu, bare=False)
    assert assert_all_passed(nested_run, names) == len(names)
    want_skips = set() if nested_run.cpu == "max" else set(MAX_ONLY[:2])
    assert skipped(nested_run.console) == want_skips
    assert nested_run.status == 0


def test_same_scenarios_pass_bare_on_tcg(bare_run):
    """The comparison that keeps the scenarios honest: on TCG's own SVM
    (no hypervisor) every scenario passes, except the listed skips."""
    assert "[hv] core" not in bare_run.console  # really bare
    names = expected(bare_run.cpu, bare=True)
    assert assert_all_passed(bare_run, names) == len(names)
    want_skips = set(BARE_SKIPS) | ({"nested_cpuid_ospke_follows_cr4", "nested_vgif_offered"}
                                    if bare_run.cpu == "EPYC" else set())
    assert skipped(bare_run.console) == want_skips
    assert bare_run.status == 0


def test_l2_access_to_hypervisor_memory_is_logged(nested_run):
    assert re.search(r"\[hv\] warning: L1 read hypervisor memory at GPA 0x[0-9a-f]+",
                     nested_run.console)
