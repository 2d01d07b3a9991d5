"""The debug shell on the serial console: a test types into QEMU's serial
port through a unix socket (tools/qemu.py --serial-socket) and reads what
comes back on the same socket (not from QEMU's log file of it, which
sometimes has a byte twice). The L1 test program's `echo` mode reads the
same port and says every line it got, so the tests see both sides: what
reached L1 and what reached the shell."""
import os
import subprocess
import re
import socket
import tempfile
import threading
import time

import pytest

from conftest import ANSI, ROOT, make_image, qemu

ESC = b"\x01"  # Ctrl-A, console_escape's default


class Machine:
    def __init__(self, tmp, config, cpu=None, smp=None, mem=None, timeout=600, extra_files=()):
        image = make_image(tmp, config, extra_files=extra_files)
        self.log = str(tmp / "serial.log")
        sock_path = str(tmp / "serial.sock")
        argv = ["--image", image, "--serial-file", self.log, "--serial-socket", sock_path,
                "--accel", "tcg", "--timeout", str(timeout)]
        if cpu:
            argv += ["--cpu", cpu]
        if smp:
            argv += ["--smp", str(smp)]
        if mem:
            argv += ["--mem", mem]
        self.nvram = tempfile.TemporaryDirectory(prefix="hvqemu-")
        self.proc = qemu.start(qemu.parse_args(argv), self.nvram.name)
        self.pos = 0
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(sock_path)
                break
            except OSError:
                self.sock.close()
                assert time.monotonic() < deadline, "QEMU's serial socket never appeared"
                assert self.proc.poll() is None, "QEMU ended before its socket appeared"
                time.sleep(0.1)
        # What QEMU sends on the socket is read all the time (or QEMU's
        # UART would stop once the socket's buffer is full).
        self.lock = threading.Lock()
        self.received = bytearray()
        self.drainer = threading.Thread(target=self._drain, daemon=True)
        self.drainer.start()

    def _drain(self):
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                with self.lock:
                    self.received.extend(data)
        except OSError:
            pass

    def text(self):
        with self.lock:
            data = bytes(self.received)
        return ANSI.sub("", data.decode(errors="replace")).replace("\r", "")

    def expect(self, pattern, timeout=120):
        """Waits for pattern after what earlier expects matched; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            m = rx.search(text, self.pos)
            if m:
                self.pos = m.end()
                return m
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"{pattern!r} not seen; console after offset {self.pos}:\n"
                            f"{text[self.pos:][-4000:]}")
            time.sleep(0.1)

    def type(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def command(self, line, until):
        """Types a shell command; returns the output up to the next prompt."""
        start = self.pos
        self.type(line + "\r")
        self.expect(until)
        self.expect(r"hv> ")
        return self.text()[start:self.pos]

    def close(self):
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.nvram.cleanup()


@pytest.fixture
def machine_factory(tmp_path):
    machines = []

    def make(config, **kw):
        m = Machine(tmp_path, config, **kw)
        machines.append(m)
        return m
    yield make
    for m in machines:
        m.close()


def test_shell_after_nested_scenarios(machine_factory):
    """One boot: the nested scenarios run (so there are VMRUN exits and
    reflected L2 exits), then L1 echoes what it reads; the test types to
    L1, enters the shell, runs every command, and leaves by poweroff."""
    m = machine_factory("cmdline = nested echo\n", smp=2)
    m.expect(r"\[hv\] ACPI: PM1a control port 0x[0-9a-f]+, \\_S5 sleep type 0")
    m.expect(r"\[hv\] debug shell: type Ctrl-A three times")
    m.expect(r"\[l1test\] \d+ passed, 0 failed", timeout=600)  # slow on a loaded machine
    # L1 writing the escape itself switches nothing.
    m.expect(r"\[l1test\] escape in output: \x01\x01\x01")
    m.expect(r"\[l1test\] echo: reading the serial port")

    # Ordinary typing reaches L1; one or two Ctrl-A reach it too, in order.
    m.type("hello\r")
    m.expect(r'\[l1test\] read: "hello"')
    m.type(ESC + b"x\r")
    m.expect(r'\[l1test\] read: "\^Ax"')
    m.type(ESC + ESC + b"y\r")
    m.expect(r'\[l1test\] read: "\^A\^Ay"')
    assert "hypervisor shell" not in m.text()

    # Three in a row: the shell.
    m.type(ESC * 3)
    m.expect(r"\[hv\] console: hypervisor shell")
    m.expect(r"hv> ")

    out = m.command("help", r"continue ")
    for name in ("help", "cpus", "stats", "mem", "log", "dmesg", "vcpu", "trace", "reboot",
                 "poweroff", "continue"):
        assert re.search(rf"^  {name} ", out, re.M), f"help does not list {name}:\n{out}"

    out = m.command("stats", r"total ")
    vmrun = re.search(r"^  0x80\s+VMRUN\s+(\d+)\s+(\d+)", out, re.M)
    assert vmrun and int(vmrun.group(1)) > 0, out
    # count, new, new/s, L2>L1, L2:L0, cycles: the scenarios' L2 CPUIDs
    # were reflected (L1 intercepts them).
    cpuid = re.search(r"^  0x72\s+CPUID\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", out, re.M)
    assert cpuid and int(cpuid.group(1)) > 0 and int(cpuid.group(4)) > 0, out
    assert int(cpuid.group(4)) + int(cpuid.group(5)) < int(cpuid.group(1)), out  # L1's own too
    tlb = re.search(r"TLB flushes by reason:((?: +\S+)+)\n  cpu0 +((?: +\d+)+)\n", out)
    assert tlb, out
    reasons = dict(zip(tlb.group(1).split(), map(int, tlb.group(2).split())))
    assert reasons["init"] >= 1 and reasons["vasid"] >= 1, reasons
    cpu0 = re.search(r"^  cpu0\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    assert cpu0 and int(cpu0.group(4)) > 0, f"no reflected L2 exits on cpu0:\n{out}"
    # A second `stats` counts VMRUNs since the first: L1 only echoes now.
    out = m.command("stats", r"total ")
    vmrun2 = re.search(r"^  0x80\s+VMRUN\s+(\d+)\s+(\d+)", out, re.M)
    assert vmrun2 and vmrun2.group(1) == vmrun.group(1) and vmrun2.group(2) == "0", out

    out = m.command("cpus", r"\n1 ")
    assert re.search(r"^0\s+\d+\s+L1\s+0x[0-9a-f]+\s+0\s+64-bit\s+\S+\s+\d+", out, re.M), out
    assert re.search(r"^1\s+\d+\s+L1\s+", out, re.M), out

    out = m.command("mem", r"heap \(newlib\)")
    assert re.search(r"page pool: \d+ KiB, \d+ KiB used", out), out
    assert re.search(r"cpu0: NPT02 [1-9]\d* table pages", out), out

    m.command("log", r"log level on the console: info")
    m.command("log debug", r"log level on the console: debug")
    m.command("log loud", r"usage: log \[error\|warn\|info\|debug\]")
    m.command("log info", r"log level on the console: info")

    out = m.command("dmesg 3", r"--- log ring: \d+ bytes kept")
    ring = out.split("written since start ---\n", 1)[1].rsplit("hv> ", 1)[0]
    assert len(ring.splitlines()) == 3 and ring.startswith("[hv] "), out
    out = m.command("vcpu 0", r"VMCB12 \(last copy\): state save area")
    intercepts = re.search(r"VMCB01 at 0x[0-9a-f]+: control area\n(?:.*\n)*?  intercepts: (.*)",
                           out).group(1).split()
    for name in ("CPUID", "VMRUN", "VMMCALL", "SHUTDOWN", "NMI", "IOIO", "MSR", "EXCP_DB"):
        assert name in intercepts, f"VMCB01 intercepts lack {name}: {intercepts}"
    assert re.search(r"^  070h exitcode\s+0x[0-9a-f]+$", out, re.M), out
    assert re.search(r"^  178h rip\s+0x[0-9a-f]+$", out, re.M), out
    assert re.search(r"^  0cbh cpl\s+0$", out, re.M), out
    assert re.search(r"EVENTINJ: (none|.+)\n", out) and "int_ctl: V_TPR=" in out, out
    assert re.search(r"VMCB02 at 0x[0-9a-f]+: control area", out), out
    m.command("vcpu 7", r"error: no vCPU '7' \(0 to 1\)")

    out = m.command("trace 5 cpu 0", r"cpu0: last 5 exits of \d+")
    rows = re.findall(r"^  #(\d+)\s+(L1|L2.*?|L1 -> L2 VMRUN)\s+(\S+)\s+RIP", out, re.M)
    assert len(rows) == 5 and [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows), out
    assert "cpu1:" not in out
    out = m.command("trace code 0x72", r"cpu1: last 16 matching exits")
    assert re.findall(r"^  #\d+\s+\S+\s+(\S+)\s+RIP", out, re.M) and \
        set(re.findall(r"^  #\d+\s+L1\s+(\S+)\s+RIP", out, re.M)) <= {"CPUID"}, out
    m.command("trace off", r"trace off")
    first = m.command("trace 3 cpu 0", r"as of `trace off`")
    second = m.command("trace 3 cpu 0", r"as of `trace off`")
    assert first.split("\n", 1)[1] == second.split("\n", 1)[1], (first, second)
    m.command("trace on", r"trace on")
    m.command("trace sideways", r"usage: trace")

    m.command("frobnicate now", r"error: unknown command 'frobnicate'")
    m.command("x" * 100, r"error: line longer than 80 characters, ignored")
    m.command("stats bogus", r"usage: stats \[cpu C\] \[reset\]")
    m.command("stats cpu 9", r"usage: stats \[cpu C\] \[reset\] \(CPUs 0 to 1\)")

    # Nothing typed at the shell reached L1; L1 gets the line back.
    m.type("continue\r")
    m.expect(r"\[hv\] console: back to L1")
    m.type("after\r")
    m.expect(r'\[l1test\] read: "after"')
    reads = re.findall(r'\[l1test\] read: "([^"]*)"', m.text())
    assert reads == ["hello", "^Ax", "^A^Ay", "after"], reads

    # The escape toggles both ways.
    m.type(ESC * 3)
    m.expect(r"\[hv\] console: hypervisor shell")
    m.expect(r"hv> ")
    m.type(ESC * 3)
    m.expect(r"\[hv\] console: back to L1")
    m.type("again\r")
    m.expect(r'\[l1test\] read: "again"')

    m.type(ESC * 3)
    m.expect(r"hv> ")
    m.type("poweroff\r")
    m.expect(r"powering off \(ACPI PM1a at 0x[0-9a-f]+, SLP_TYP 0\)")  # QEMU's \_S5: 0
    assert m.proc.wait(timeout=60) == 0


def test_countdown_poll_when_l1_never_reads(machine_factory):
    """L1 does nothing but CPUID: only the boot CPU's exit countdown looks
    at the UART. reboot resets the machine (the hypervisor starts again)."""
    m = machine_factory("cmdline = wait\n")
    m.expect(r"\[l1test\] waiting \(CPUID loop\)")
    m.type(ESC * 3)
    m.expect(r"\[hv\] console: hypervisor shell")
    m.expect(r"hv> ")
    m.type("reboot\r")
    m.expect(r"resetting the machine")
    m.expect(r"\[hv\] core \S+ running")
    m.expect(r"\[l1test\] waiting \(CPUID loop\)")


def test_debug_shell_no_reads_nothing(machine_factory):
    """debug_shell = no: the escape is ordinary input, all of it L1's."""
    m = machine_factory("cmdline = echo\ndebug_shell = no\n")
    m.expect(r"\[l1test\] echo: reading the serial port")
    m.type(ESC * 3 + b"abc\r")
    m.expect(r'\[l1test\] read: "\^A\^A\^Aabc"')
    assert "debug shell" not in m.text()
    assert "hypervisor shell" not in m.text()


def test_string_io_gives_the_port_up(machine_factory):
    """L1's REP OUTSB to the data register is not emulated: the shell gives
    the port up (L1's output still arrives, the machine keeps running) and
    the escape is L1's input from then on."""
    m = machine_factory("cmdline = outs echo\n")
    m.expect(r"\[hv\] warning: L1 uses string I/O on the serial port 0x3f8: "
             r"the debug shell gives the port up")
    m.expect(r"\[l1test\] written with rep outsb")
    m.expect(r"\[l1test\] echo: reading the serial port")
    m.type(ESC * 3 + b"z\r")
    m.expect(r'\[l1test\] read: "\^A\^A\^Az"')
    assert "hypervisor shell" not in m.text()


def test_linux_interrupt_driven_serial(machine_factory):
    """Debian's kernel as L1 on 2 CPUs reads ttyS0 with its interrupt-driven
    8250 driver (the case that needs the intercepted RBR/LSR) while KVM in
    it runs a VM on cpu1: typed lines reach Linux, the escape reaches the
    shell, which shows the CPUs, the live statistics with the VM's exits
    reflected to KVM, the decoded VMCB02 and the VMRUN/#VMEXIT pairs of
    the trace; nothing typed there reaches Linux, Linux's console works
    again after `continue`, and the VM ran all along."""
    from test_linux import CMDLINE, LINUX
    subprocess.run([os.path.join(ROOT, "tools", "linux-l1.sh"), LINUX], check=True)
    files = [(os.path.join(LINUX, "vmlinuz.efi"), "\\EFI\\linux\\vmlinuz.efi"),
             (os.path.join(LINUX, "initrd.img"), "\\EFI\\linux\\initrd.img")]
    config = ("next_stage = \\EFI\\linux\\vmlinuz.efi\n"
              f"cmdline = {CMDLINE} hvstat consoletest\n")
    m = machine_factory(config, smp=2, mem="1G", extra_files=files)
    # tools/hvstat from Linux userspace (HV_CALL_STATS_TABLE, open to CPL 3
    # while debug_shell = yes): a row per exit code, a line per CPU.
    m.expect(r"L1LINUX: hvstat -1", timeout=240)
    start = m.pos
    end = m.expect(r"L1LINUX: hvstat status 0").start()
    out = m.text()[start:end]
    assert re.search(r"^0x72\s+CPUID\s+[1-9]\d*\s+\d+\.\d%", out, re.M), out
    # kvmrun's VM ran before: its OUTs were L2 exits reflected to KVM.
    ioio = re.search(r"^0x7b\s+IOIO\s+([1-9]\d*)\s+[\d.]+%\s+(\d+)\s+(\d+)\s+(\d+)$", out, re.M)
    assert ioio and int(ioio.group(3)) >= 100, out
    cpus = re.findall(r"^cpu(\d)\s+exits ([1-9]\d*), L2 exits reflected to L1 (\d+)$", out, re.M)
    assert [c[0] for c in cpus] == ["0", "1"], out
    # /init ran KVM's VM (kvmrun) before: its exits were reflected to KVM.
    assert sum(int(c[2]) for c in cpus) > 0, out
    m.expect(r"L1LINUX: reading the console", timeout=240)
    m.expect(r"kvmrun: L2 is running", timeout=120)
    m.type("hello linux\r")
    m.expect(r"L1LINUX: read: hello linux")
    m.type(ESC * 3)
    m.expect(r"\[hv\] console: hypervisor shell")
    m.expect(r"hv> ")
    out = m.command("cpus", r"\n1 ")
    assert re.search(r"^0\s+\d+\s+L1\s+0x[0-9a-f]+\s+\d\s+64-bit", out, re.M), out
    # cpu1 runs KVM's VM: L1 or L2 at this moment, exiting all the time.
    assert re.search(r"^1\s+\d+\s+L[12]\s+0x[0-9a-f]+\s+\d\s+\S+\s+\S+\s+[1-9]\d*\s+\d+$",
                     out, re.M), out
    m.command("stats reset", r"the rates now count from here")
    time.sleep(2)
    out = m.command("stats cpu 1", r"TLB flushes by reason:(?:.*\n)+?  cpu1 .*\n")
    # The VM's OUTs go on while the shell is open: reflected to KVM.
    ioio = re.search(r"^  0x7b\s+IOIO\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$",
                     out, re.M)
    assert ioio and int(ioio.group(2)) > 0 and int(ioio.group(4)) > 0, out
    vmrun = re.search(r"^  0x80\s+VMRUN\s+(\d+)\s+([1-9]\d*)\s", out, re.M)
    assert vmrun, f"KVM's VMRUNs on cpu1 did not go on:\n{out}"
    assert "cpu0" not in out, out
    out = m.command("vcpu 1", r"VMCB12 \(last copy\): state save area(?:.*\n)+?  268h g_pat .*\n")
    intercepts12 = re.search(r"VMCB12 \(last copy\) at 0x[0-9a-f]+: control area\n(?:.*\n)*?"
                             r"  intercepts: (.*)", out).group(1).split()
    assert "IOIO" in intercepts12 and "VMRUN" in intercepts12, intercepts12
    assert re.search(r"VMCB02 at 0x[0-9a-f]+: control area", out), out
    # The pair: KVM's VMRUN, then the VM's next exit (an OUT, or the
    # interrupt that cut it off) reflected to KVM as its #VMEXIT.
    out = m.command("trace 64 cpu 1", r"cpu1: last 64 exits of \d+(?:.*\n){64}")
    assert re.search(r"^  #\d+\s+L1 -> L2 VMRUN\s+VMRUN\s+RIP 0xffffffff[0-9a-f]+ .*\n"
                     r"  #\d+\s+L2 -> L1 #VMEXIT\s+[A-Z]+\s+RIP 0x100[0-9a-f]\s", out, re.M), out
    m.command("secret", r"error: unknown command 'secret'")
    m.type("continue\r")
    m.expect(r"\[hv\] console: back to L1")
    m.type("world\r")
    m.expect(r"L1LINUX: read: world")
    assert "L1LINUX: read: secret" not in m.text()
    assert "L1LINUX: read: cpus" not in m.text()
    m.type("quit\r")
    m.expect(r"kvmrun: L2 ran \d+ OUTs to port 0x10 until stopped")
    m.expect(r"L1LINUX: kvmrun forever passed")
    m.expect(r"L1LINUX: done")
    assert m.proc.wait(timeout=120) == 0


def test_make_debug_breaks_in_nested_vmrun(tmp_path):
    """tools/debug.py (make debug): QEMU's gdb stub and gdb on
    build/core.elf; a breakpoint set by symbol before the core is even
    loaded stops in the core when L1 (cmdline = nested) executes VMRUN."""
    image = make_image(tmp_path, "cmdline = nested\n")
    out = subprocess.run(
        [os.path.join(ROOT, "tools", "debug.py"), "--image", image,
         "--serial-file", str(tmp_path / "serial.log"), "--",
         "-batch", "-ex", "break nested_vmrun", "-ex", "continue", "-ex", "bt 2",
         "-ex", "print v->nested.vmruns"],
        capture_output=True, text=True, timeout=300).stdout
    assert re.search(r"Breakpoint 1, nested_vmrun \(v=0xffffffff8[0-9a-f]+\) at hv/nested/nested\.c", out), out
    assert re.search(r"#1 .* in (dispatch|exit_dispatch) ", out), out
    assert re.search(r"^\$1 = 0$", out, re.M), out  # stopped at the first VMRUN


def test_hvstat_refused_to_userspace_without_debug_shell(machine_factory):
    """debug_shell = no: HV_CALL_STATS_TABLE is CPL 0 only, like every call."""
    from test_linux import CMDLINE, LINUX
    subprocess.run([os.path.join(ROOT, "tools", "linux-l1.sh"), LINUX], check=True)
    files = [(os.path.join(LINUX, "vmlinuz.efi"), "\\EFI\\linux\\vmlinuz.efi"),
             (os.path.join(LINUX, "initrd.img"), "\\EFI\\linux\\initrd.img")]
    config = ("next_stage = \\EFI\\linux\\vmlinuz.efi\n"
              f"cmdline = {CMDLINE} hvstat\ndebug_shell = no\n")
    m = machine_factory(config, mem="1G", extra_files=files)
    m.expect(r"hvstat: the hypervisor refused \(-4\): userspace may ask only with "
             r"debug_shell = yes", timeout=240)
    m.expect(r"L1LINUX: hvstat status 1")
    m.expect(r"L1LINUX: done")


@pytest.mark.long  # a few minutes under TCG (make test-long)
def test_typing_reaches_l1_after_each_shell_visit(machine_factory):
    """Twenty round trips L1 -> shell (`stats`) -> L1: the line typed to L1
    right after each `continue` reaches it, whole and alone. It caught a
    lost line once in 5 to 15 round trips: the L1 test program's say()
    turned interrupts back on (GNU-EFI's printing restores the firmware's
    TPL), and the firmware's console driver, polling the UART from its
    timer, read the bytes between the echo loop's LSR and RBR reads."""
    m = machine_factory("cmdline = echo\n", smp=2)
    m.expect(r"\[l1test\] echo: reading the serial port", timeout=300)
    for i in range(20):
        m.type(f"before-{i}\r")
        m.expect(rf'\[l1test\] read: "before-{i}"', timeout=60)
        m.type(ESC * 3)
        m.expect(r"hv> ", timeout=60)
        m.command("stats", r"total ")
        m.type("continue\r")
        m.expect(r"\[hv\] console: back to L1", timeout=60)
        m.type(f"after-{i}\r")
        m.expect(rf'\[l1test\] read: "after-{i}"', timeout=60)
