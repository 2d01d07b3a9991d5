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


def boot(tmp_path, image, *, boot="usb", cpu=None, mem=None, timeout=90, until=None,
         extra=()):
    log = str(tmp_path / "serial.log")
    argv = ["--image", image, "--boot", boot, "--serial-file", log,
            "--timeout", str(timeout), "--accel", "tcg"]
    if cpu:
        argv += ["--cpu", cpu]
    if mem:
        argv += ["--mem", mem]
    if until:
        argv += ["--until", until]
    argv += ["--", *extra]
    status = qemu.run(qemu.parse_args(argv))
    with open(log, errors="replace") as f:
        text = ANSI.sub("", f.read()).replace("\r", "")
    return Boot(status, text)


DEFAULT_CONFIG = open(os.path.join(ROOT, "boot", "hv.cfg")).read()


@pytest.fixture(scope="session", autouse=True)
def built():
    for f in ("hv.efi", "l1test.efi", "usb.img"):
        assert os.path.exists(os.path.join(BUILD, f)), f"run make first: {f} missing"
