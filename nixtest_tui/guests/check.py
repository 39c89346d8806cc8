"""Boot a network described by a driver configuration and run contract checks on it.

This is the bring-up check behind `nixtest-tui guests check` (and, until the driver lands, the
demo): it proves on this host that the images boot, the backdoor answers, the VLANs carry
traffic and the guest services run, using the same start scripts a test would.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nixtest_tui.driver.vlan import VLan
from nixtest_tui.guests.smoke import SmokeMachine

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


def run_checks(
    config_path: Path,
    checks: Sequence[Check],
    report: Report = print,
    on_serial: Callable[[str, str], None] | None = None,
) -> list[CheckResult]:
    """Boot every VM of the configuration, run `checks`, power everything off."""
    config = json.loads(config_path.read_text())
    tmp_dir = Path(tempfile.mkdtemp(prefix="nixtest-check-"))
    vlans = [VLan(nr, tmp_dir) for nr in config["vlans"]]
    machines: dict[str, SmokeMachine] = {}
    try:
        for vlan in vlans:
            vlan.start()
        started = time.monotonic()
        for name, vm in sorted(config["vms"].items()):
            machines[name] = SmokeMachine(
                name, Path(vm["start_script"]), tmp_dir / f"vm-state-{name}",
                tmp_dir / "shared-xchg", on_serial,
            )
            machines[name].start()
        for name, machine in machines.items():
            machine.wait_for_backdoor()
            report(f"{name}: backdoor connected after {time.monotonic() - started:.2f} s")
        results = [_run_one(machines[check.machine], check) for check in checks]
        for result in results:
            report(f"{'PASS' if result.passed else 'FAIL'}  {result.check.describe()}"
                   + ("" if result.passed else f": {result.detail}"))
        for name, machine in machines.items():
            status = machine.poweroff()
            report(f"{name}: powered off (QEMU exit status {status})")
        return results
    finally:
        for machine in machines.values():
            machine.close()
        for vlan in vlans:
            vlan.stop()
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _run_one(machine: SmokeMachine, check: Check) -> CheckResult:
    status, output = machine.execute(check.command, timeout=60)
    if (status == 0) != check.should_succeed:
        return CheckResult(check, False, f"exit status {status}, output {output!r}")
    if check.expect_output is not None and output.strip() != check.expect_output:
        return CheckResult(check, False, f"output {output!r}, wanted {check.expect_output!r}")
    return CheckResult(check, True, output)
