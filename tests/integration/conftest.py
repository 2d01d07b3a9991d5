"""Shared helpers: build a USB image with a given config, boot it in QEMU
through tools/qemu.py (the launcher `make run` uses) and return what the
serial console showed."""
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import qemu  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]")


@dataclass
class Boot:
    status: int
    console: str  # serial output, ANSI escapes removed

    def lines(self, prefix="[hv] "):
        return [l.strip() for l in self.console.splitlines() if l.startswith(prefix)]


def make_image(tmp_path, config, name="usb.img", extra_files=()):
    """config: the HV.CFG text, or None for an image without one.
    extra_files: (src, dest) pairs copied to the ESP, dest like \\EFI\\x\\y."""
    cfg = "-"
    if config is not None:
        cfg = str(tmp_path / "hv.cfg")
        with open(cfg, "w", newline="") as f:
            f.write(config)
    img = str(tmp_path / name)
    subprocess.run([os.path.join(ROOT, "tools", "mkimage.sh"), img,
                    os.path.join(BUILD, "hv.efi"), cfg,
                    os.path.join(BUILD, "l1test.efi"),
                    *(f"{src}:{dest}" for src, dest in extra_files)], check=True)
    return img


def boot(tmp_path, image, *, boot="usb", cpu=None, mem=None, smp=None, timeout=90, until=None,
         extra=(), iommu=True):
    log = str(tmp_path / "serial.log")
    argv = ["--image", image, "--boot", boot, "--serial-file", log,
            "--timeout", str(timeout), "--accel", "tcg"]
    if cpu:
        argv += ["--cpu", cpu]
    if mem:
        argv += ["--mem", mem]
    if smp:
        argv += ["--smp", str(smp)]
    if until:
        argv += ["--until", until]
    argv += ["--iommu", "on" if iommu else "off", "--", *extra]
    status = qemu.run(qemu.parse_args(argv))
    with open(log, errors="replace") as f:
        text = ANSI.sub("", f.read()).replace("\r", "")
    return Boot(status, text)


def assert_in_order(text, *patterns):
    """Each regex must match, in this order, in the console text."""
    pos = 0
    for p in patterns:
        m = re.compile(p).search(text, pos)
        assert m, f"{p!r} not found after offset {pos} in:\n{text[-3000:]}"
        pos = m.end()


def assert_all_passed(boot_result, names):
    """The L1 test program ran every named check and none failed."""
    text = boot_result.console
    failures = re.findall(r"\[l1test\] FAIL .*", text)
    assert not failures, "\n".join(failures)
    for name in names:
        assert f"[l1test] PASS {name}\n" in text, f"check {name} did not run"
    m = re.search(r"\[l1test\] (\d+) passed, (\d+) failed", text)
    assert m and int(m.group(2)) == 0, "no summary line, or failures"
    return int(m.group(1))


def pytest_configure(config):
    # `make integration` runs the tests without this mark, `make test-long`
    # those with it (over about 3 minutes each under TCG).
    config.addinivalue_line("markers", "long: a test of several minutes under TCG "
                            "(make test-long, not make test)")


DEFAULT_CONFIG = open(os.path.join(ROOT, "boot", "hv.cfg")).read()


@pytest.fixture(scope="session", autouse=True)
def built():
    for f in ("hv.efi", "l1test.efi", "usb.img"):
        assert os.path.exists(os.path.join(BUILD, f)), f"run make first: {f} missing"
