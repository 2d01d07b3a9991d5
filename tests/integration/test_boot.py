"""The image boots in QEMU/OVMF: as a USB stick and as a disk, on CPUs with
and without SVM, with good, bad and missing configs."""
import os
import re

from conftest import BUILD, DEFAULT_CONFIG, assert_in_order, boot, make_image

# QEMU's exit status after an ACPI power-off (the demo's ResetSystem).
POWER_OFF = 0


def check_hypervisor_ran(b):
    assert_in_order(
        b.console,
        r"\[hv\] nested SVM hypervisor loader starting",
        r"\[hv\] core \S+ running at 0xffffffff80000000",
        r"\[hv\] SVM: revision 1, 16 ASIDs",
        r"\[hv\] SVM features present: NP\n",
        r"\[hv\] SVM features absent: LbrVirt SVML NRIPS ",
        r"\[hv\] memory: region ",
        r"\[hv\] NPT01: identity map of \d+ GiB guest-physical",
        r"\[hv\] core initialized",
        r"\[hv\] launching the loader as L1 \(VMCB01 at ",
        r'\[hv\] loader resumed as L1 \(CPUID 0x40000000: "NestedSVM-HV"\)',
        r"\[hv\] starting next stage \\EFI\\BOOT\\L1TEST.EFI",
        r"\[l1test\] next stage running",
        r'\[l1test\] CPUID 0x40000000: max leaf 0x40000001, signature "NestedSVM-HV"; hypervisor bit 1',
        r"\[l1test\] powering off",
    )


def test_usb_stick_boot(tmp_path):
    b = boot(tmp_path, os.path.join(BUILD, "usb.img"), boot="usb", extra=["-snapshot"])
    check_hypervisor_ran(b)
    assert "USB" in b.console  # OVMF booted it from the USB stick
    assert b.status == POWER_OFF


def test_disk_boot(tmp_path):
    b = boot(tmp_path, os.path.join(BUILD, "usb.img"), boot="disk", extra=["-snapshot"])
    check_hypervisor_ran(b)
    assert b.status == POWER_OFF


def test_cpu_without_svm_boots_on(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, DEFAULT_CONFIG), cpu="qemu64,-svm")
    assert_in_order(
        b.console,
        r"\[hv\] warning: SVM unavailable: .*SVM",
        r"\[hv\] warning: continuing the boot without the hypervisor",
        r"\[l1test\] next stage running",
    )
    assert "core 0.1 running" not in b.console
    assert b.status == POWER_OFF


def test_intel_cpu_boots_on(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, DEFAULT_CONFIG), cpu="qemu64,vendor=GenuineIntel")
    assert_in_order(
        b.console,
        r"\[hv\] warning: SVM unavailable: .*(AMD|vendor)",
        r"\[l1test\] next stage running",
    )
    assert b.status == POWER_OFF


def test_bad_config_lines_are_named_and_boot_continues(tmp_path):
    config = (
        "serial_baud = 12345\n"          # line 1: bad value
        "frobnicate = 1\n"               # line 2: unknown key
        "log_level info\n"               # line 3: no '='
        "cmdline = " + "x" * 300 + "\n"  # line 4: overlong
        "memory_mb = 32\n"               # line 5: fine
        "cmdline = exit=3 hello\n"       # line 6: applies despite the errors
    )
    b = boot(tmp_path, make_image(tmp_path, config))
    assert_in_order(
        b.console,
        r"\[hv\] warning: config: line 1: bad value '12345' for serial_baud",
        r"\[hv\] warning: config: line 2: unknown key 'frobnicate'",
        r"\[hv\] warning: config: line 3: missing '='",
        r"\[hv\] warning: config: line 4: line longer than 255 characters",
        r"\[hv\] reserved 32 MiB",
        r"\[hv\] core initialized",
        r'\[l1test\] next stage running; cmdline: "exit=3 hello"',
    )
    # isa-debug-exit: QEMU exits with (3 << 1) | 1, which proves the command
    # line reached the next stage as its LoadOptions.
    assert b.status == 7


def test_missing_config_uses_defaults(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, None))
    assert re.search(r"\[hv\] no config file \\EFI\\BOOT\\HV.CFG .*using defaults", b.console)
    check_hypervisor_ran(b)
    assert "reserved 64 MiB" in b.console
    assert b.status == POWER_OFF


def test_no_next_stage_returns_to_firmware(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, "next_stage = none\n"),
             until=r"UEFI Interactive Shell|Shell>", timeout=60)
    assert_in_order(
        b.console,
        r"\[hv\] core initialized",
        r"\[hv\] no next stage configured: returning to the firmware",
        r"BdsDxe: (loading|starting) Boot0002 \"EFI Internal Shell\"",
    )
    assert "[l1test]" not in b.console


def test_log_level_error_keeps_console_quiet(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, "log_level = error\n"))
    assert "[l1test] next stage running" in b.console
    assert b.lines() == [], b.lines()
    assert b.status == POWER_OFF
