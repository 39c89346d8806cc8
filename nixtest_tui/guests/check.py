"""Boot a network described by a driver configuration and run contract checks on it.

This is the bring-up check behind `nixtest-tui guests check`: it proves on this host that the
images boot, the backdoor answers, the VLANs carry traffic and the guest services run, using
the same start scripts a test would and the driver itself (its `QemuMachine` and backdoor
channel), so the check tests the channel users run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.logger import CompositeLogger
from nixtest_tui.driver.qemu import QemuMachine

Report = Callable[[str], None]


@dataclass(frozen=True)
class Check:
    machine: str
    command: str
    should_succeed: bool = True
    expect_output: str | None = None

    def describe(self) -> str:
        verb = "succeeds" if self.should_succeed else "fails"
        return f"{self.machine}: `{self.command}` {verb}"


@dataclass
class CheckResult:
    check: Check
    passed: bool
    detail: str


class _SerialEcho(CompositeLogger):
    """Nothing but the serial lines, for `guests check --verbose`."""

    def __init__(self, on_serial: Callable[[str, str], None] | None) -> None:
        super().__init__([])
        self._on_serial = on_serial

    def log_serial(self, message: str, machine: str) -> None:
        if self._on_serial is not None:
            self._on_serial(machine, message)


def run_checks(
    config_path: Path,
    checks: Sequence[Check],
    report: Report = print,
    on_serial: Callable[[str, str], None] | None = None,
    out_dir: Path | None = None,
) -> list[CheckResult]:
    """Boot every VM of the configuration, run `checks`, power everything off."""
    config = load_driver_configuration(config_path)
    out = out_dir or config_path.parent
    with Driver(config, out, _SerialEcho(on_serial)) as driver:
        started = time.monotonic()
        machines = {m.name: m for m in driver.machines if isinstance(m, QemuMachine)}
        for machine in machines.values():
            machine.start()
        for name, machine in machines.items():
            machine.connect()
            report(f"{name}: backdoor connected after {time.monotonic() - started:.2f} s")
        results = [_run_one(machines[check.machine], check) for check in checks]
        for result in results:
            report(f"{'PASS' if result.passed else 'FAIL'}  {result.check.describe()}"
                   + ("" if result.passed else f": {result.detail}"))
        for name, machine in machines.items():
            machine.shutdown()
            status = machine.process.returncode if machine.process else None
            report(f"{name}: powered off (QEMU exit status {status})")
        return results


def _run_one(machine: QemuMachine, check: Check) -> CheckResult:
    status, output = machine.execute(check.command, timeout=timedelta(seconds=60))
    if (status == 0) != check.should_succeed:
        return CheckResult(check, False, f"exit status {status}, output {output!r}")
    if check.expect_output is not None and output.strip() != check.expect_output:
        return CheckResult(check, False, f"output {output!r}, wanted {check.expect_output!r}")
    return CheckResult(check, True, output)
