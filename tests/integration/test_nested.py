"""Nested SVM: the L1 test program acts as a guest hypervisor and runs L2
scenarios (tests/l1/nested_checks.c, tests/l1/conformance_checks.c,
tests/l1/security_checks.c) on the hypervisor's emulated VMRUN, and the
same scenarios bare on QEMU's TCG (config `hypervisor = no`), under two CPU
models: what passes under the hypervisor must pass on the CPU itself, or
the scenario says why TCG differs and skips there (never passes). The
security scenarios that need a second CPU (another CPU flips VMCB12 while
this one VMRUNs) skip on one and run in the "security" mode on two."""
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
nested_l1_clgi_exits_only_without_vgif
nested_tsc_offset nested_event_injection nested_exitintinfo_after_exit_during_delivery
nested_l2_triple_fault_shutdown_reflected
nested_vmcb_clean_bits nested_map_write_under_clean_bits nested_two_l2_asids
nested_two_l2s_alternate_without_flush
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
nested_l2_icebp_not_db_intercept nested_l2_icebp_tf_not_db_intercept
nested_l2_int3_cut_off_returns_after_it nested_l2_int_n_cut_off_returns_after_it
nested_l1_injected_bp_cut_off_delivered_once nested_l1_injected_soft_int3_cut_off_delivered_once
nested_l1_injected_int_n_cut_off_delivered_once
nested_rdtscp_intercepted nested_rdtscp_intercepted_alone
nested_rdtscp_runs_under_rdtsc_intercept nested_rdtsc_runs_under_rdtscp_intercept
""".split()

# tests/l1/security_checks.c (issue 9): one scenario per known bug class
# of nested SVM, and denial-of-service loops.
SECURITY = """
sec_int_ctl_x2avic_refused sec_int_ctl_vnmi_refused sec_int_ctl_reserved_bits_ignored
sec_virt_ext_vmload_not_virtualized sec_virt_ext_lbr_virt_refused sec_vmcb12_past_ram_gp
sec_vmcb12_at_lapic_gp sec_vmload_past_ram_gp sec_vmload_at_lapic_gp sec_vmsave_hv_memory_gp
sec_vmsave_past_ram_gp sec_vmsave_at_ioapic_gp sec_l2_vmsave_hv_memory_gp
sec_l2_vmsave_at_lapic_gp sec_hsave_at_lapic_unused sec_hsave_past_ram_unused
sec_msrpm_at_lapic_intercepts_all sec_iopm_at_ioapic_intercepts_all sec_ncr3_in_hv_memory_npf
sec_ncr3_past_ram_npf sec_ncr3_at_lapic_npf sec_npt12_table_in_hv_memory_npf
sec_npt12_leaf_past_ram_reads_as_l1 sec_npt12_leaf_lapic_reads_as_l1
sec_npt12_leaf_ioapic_reads_as_l1 sec_l2_wrmsr_efer_intercepted sec_l2_wrmsr_vm_cr_intercepted
sec_l2_wrmsr_hsave_intercepted sec_l2_wrmsr_vm_cr_keeps_l1 sec_l2_wrmsr_hsave_keeps_l1
sec_l2_wrmsr_hsave_hv_memory_gp sec_l2_invlpga_unintercepted sec_l2_skinit_unintercepted_ud
sec_l2_vmmcall_unintercepted_ud sec_dos_cpuid_storm_responsive sec_dos_cpuid_storm_counted
sec_dos_bad_vmcb12_storm sec_dos_bad_vmcb12_storm_counted sec_dos_msr_write_storm
sec_dos_msr_write_storm_counted sec_dos_npf_storm sec_dos_npf_storm_pool_bounded
""".split()
# VMCB12 flipped by a second CPU during VMRUN emulation (double fetch).
FLIPS = ["sec_vmcb12_flip_vmrun_intercept", "sec_vmcb12_flip_asid_zero",
         "sec_vmcb12_flip_avic_enable", "sec_vmcb12_flip_np_bad_ncr3"]
# Bare, each of these says why TCG cannot show it (the hypervisor's region,
# its refusals of what TCG ignores, its statistics; a CPU would use those
# addresses). Names must match the SKIP lines exactly.
SECURITY_BARE_SKIPS = {
    "sec_vmcb12_flip_avic_enable", "sec_vmcb12_flip_np_bad_ncr3",
    "sec_int_ctl_x2avic_refused", "sec_int_ctl_vnmi_refused", "sec_virt_ext_lbr_virt_refused",
    "sec_vmcb12_past_ram_gp", "sec_vmcb12_at_lapic_gp", "sec_vmload_past_ram_gp",
    "sec_vmload_at_lapic_gp", "sec_vmsave_hv_memory_gp", "sec_vmsave_past_ram_gp",
    "sec_vmsave_at_ioapic_gp", "sec_l2_vmsave_hv_memory_gp", "sec_l2_vmsave_at_lapic_gp",
    "sec_hsave_at_lapic_unused", "sec_hsave_past_ram_unused",
    "sec_msrpm_at_lapic_intercepts_all", "sec_iopm_at_ioapic_intercepts_all",
    "sec_ncr3_in_hv_memory_npf", "sec_npt12_table_in_hv_memory_npf",
    "sec_l2_wrmsr_hsave_keeps_l1", "sec_l2_wrmsr_hsave_hv_memory_gp",
    "sec_dos_cpuid_storm_counted", "sec_dos_bad_vmcb12_storm_counted",
    "sec_dos_msr_write_storm_counted", "sec_dos_npf_storm_pool_bounded",
}

# What the CPU model adds: PKU (OSPKE follows CR4.PKE) and vGIF (offered
# to L1 where the CPU has it) come with -cpu max, not with EPYC.
MAX_ONLY = ["nested_cpuid_ospke_follows_cr4", "nested_vgif_offered", "nested_l2_vgif_clgi_stgi"]

# TCG checks L2's RDTSCP against the RDTSC intercept and exits with 6Eh
# (hv/nested/nested_rdtscp.c): bare, each of these sees exactly that and says so.
RDTSCP_BARE_SKIPS = {
    "nested_rdtscp_intercepted":
        "TCG exits L2's RDTSCP as RDTSC (6Eh) when RDTSC is intercepted",
    "nested_rdtscp_intercepted_alone":
        "TCG checks L2's RDTSCP against the RDTSC intercept only: no exit",
    "nested_rdtscp_runs_under_rdtsc_intercept":
        "TCG exits L2's RDTSCP as RDTSC (6Eh) when RDTSC is intercepted",
}

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
    "nested_l1_db_through_l0", "nested_two_l2s_alternate_without_flush",
    "nested_l1_clgi_exits_only_without_vgif",
} | set(RDTSCP_BARE_SKIPS)
BARE_ONLY = ["nested_round_trips"]  # without the hypervisor's counters
HV_ONLY = ["nested_round_trips_no_leak"]

# EPYC: no vGIF, L1's GIF is emulated. max: TCG's vGIF, which the
# hypervisor uses for L1's GIF (hv/nested/l1_gif.c): the same scenarios both ways.
GIF_LINE = {"EPYC": r"\[hv\] L1's GIF: emulated", "max": r"\[hv\] L1's GIF: the CPU's vGIF"}


def expected(cpu, bare):
    """The scenarios that must pass in "nested" mode (one CPU)."""
    names = SCENARIOS + SECURITY + (MAX_ONLY if cpu == "max" else [])
    if bare:
        names = [n for n in names if n not in BARE_SKIPS and n not in HV_ONLY
                 and n not in SECURITY_BARE_SKIPS] + BARE_ONLY
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
    want_skips = set(FLIPS) | (set() if nested_run.cpu == "max" else set(MAX_ONLY[:2]))
    assert skipped(nested_run.console) == want_skips
    assert re.search(r"\[l1test\] SKIP sec_vmcb12_flip_asid_zero: needs a second CPU",
                     nested_run.console)
    assert nested_run.status == 0


def test_same_scenarios_pass_bare_on_tcg(bare_run):
    """The comparison that keeps the scenarios honest: on TCG's own SVM
    (no hypervisor) every scenario passes, except the listed skips."""
    assert "[hv] core" not in bare_run.console  # really bare
    names = expected(bare_run.cpu, bare=True)
    assert assert_all_passed(bare_run, names) == len(names)
    want_skips = set(BARE_SKIPS) | SECURITY_BARE_SKIPS | set(FLIPS) | (
        {"nested_cpuid_ospke_follows_cr4", "nested_vgif_offered"}
        if bare_run.cpu == "EPYC" else set())
    assert skipped(bare_run.console) == want_skips
    for name, why in RDTSCP_BARE_SKIPS.items():
        assert f"[l1test] SKIP {name}: {why}\n" in bare_run.console, name
    assert bare_run.status == 0


def test_l2_shutdown_is_logged_and_goes_to_l1(nested_run):
    # nested_l2_triple_fault_shutdown_reflected: L1 got the SHUTDOWN exit;
    # L0 said where L2 was, as information, not as its own error.
    assert re.search(r"\[hv\] cpu\d+: L2 shut down \(RIP 0x[0-9a-f]+ RSP 0x[0-9a-f]+ CR0 0x[0-9a-f]+ "
                     r"CR3 0x[0-9a-f]+ CR4 0x[0-9a-f]+ EFER 0x[0-9a-f]+, EXITINTINFO 0x[0-9a-f]+\); "
                     r"the SHUTDOWN #VMEXIT goes to L1", nested_run.console)


def test_l2_access_to_hypervisor_memory_is_logged(nested_run):
    assert re.search(r"\[hv\] warning: L1 read hypervisor memory at GPA 0x[0-9a-f]+",
                     nested_run.console)


def test_guarded_msr_write_storm_does_not_flood_console(nested_run):
    """sec_dos_msr_write_storm writes TOP_MEM 20,000 times: L0 drops each
    write, and says so, but not 20,000 times (hv/core/log.h: the first 10, then
    one in 1,000)."""
    lines = re.findall(r"\[hv\] warning: L1 write to MSR 0xc001001a .* ignored", nested_run.console)
    assert 1 <= len(lines) <= 10 + 20000 // 1000 + 5, len(lines)


def test_npt02_budget_logged(nested_run):
    assert re.search(r"\[hv\] NPT02: at most \d+ table pages per vCPU", nested_run.console)


@pytest.mark.parametrize("bare", [False, True], ids=["hv", "bare"])
def test_security_scenarios_on_two_cpus(tmp_path, bare):
    """The "security" mode on two CPUs, -cpu EPYC: the second CPU flips
    VMCB12 fields (VMRUN intercept, ASID, AVIC, NP with a bad nCR3) while
    the first VMRUNs; each VMRUN fails its checks or runs L2 with the good
    value, never with the bad one. Bare on TCG, those TCG checks too."""
    config = "cmdline = security\n" + ("hypervisor = no\n" if bare else "")
    b = boot(tmp_path, make_image(tmp_path, config), cpu="EPYC", smp=2, timeout=300)
    names = SECURITY + FLIPS
    want_skips = SECURITY_BARE_SKIPS if bare else set()
    names = [n for n in names if n not in want_skips]
    assert assert_all_passed(b, names) == len(names)
    assert skipped(b.console) == want_skips
    for name in FLIPS:
        if name not in want_skips:
            m = re.search(rf"\[l1test\]   {name}: (\d+) VMRUNs: (\d+) invalid, (\d+) ran with "
                          r"the good value, 0 otherwise", b.console)
            assert m and int(m.group(2)) > 0 and int(m.group(3)) > 0, name
    assert b.status == 0
