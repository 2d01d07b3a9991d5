"""A fault in the core prints a crash dump, then halts or resets the machine
as the config says."""
import re

from conftest import boot, make_image


def check_dump(text):
    assert re.search(r"\[hv\] warning: debug_crash=yes: faulting on purpose at 0xffff800000000000", text)
    assert re.search(r"\[hv\] error: FATAL: host exception #PF \(vector 14\), error code 0x2\b", text)
    assert re.search(r"\[hv\] error: RIP=ffffffff8[0-9a-f]{7} <debug_crash\+0x[0-9a-f]+>", text)
    assert re.search(r"\[hv\] error: CR0=[0-9a-f]{16} CR2=ffff800000000000 ", text)
    for reg in ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8 ", "R15", "RSP", "RFLAGS"):
        assert re.search(rf"\[hv\] error: .*\b{reg}=[0-9a-f]{{16}}", text), reg
    # The backtrace goes through the core's entry point.
    assert re.search(r"\[hv\] error:   #1  ffffffff8[0-9a-f]{7} <core_entry\+0x[0-9a-f]+>", text)


def test_crash_dump_then_halt(tmp_path):
    b = boot(tmp_path, make_image(tmp_path, "debug_crash = yes\n"),
             until=r"CPU halted \(on_fault=halt\)", timeout=60)
    check_dump(b.console)
    assert "[hv] error: CPU halted (on_fault=halt)" in b.console
    assert "[l1test]" not in b.console


def test_crash_dump_then_reset(tmp_path):
    # -no-reboot turns the reset into QEMU's exit, so the test sees it.
    b = boot(tmp_path, make_image(tmp_path, "debug_crash = yes\non_fault = reset\n"),
             timeout=60, extra=["-no-reboot"])
    check_dump(b.console)
    assert "[hv] error: resetting the machine (on_fault=reset)" in b.console
    assert b.status == 0  # QEMU exited on the reset instead of timing out (124)
