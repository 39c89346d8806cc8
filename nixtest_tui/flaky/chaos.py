"""Chaos knobs: what each run does to its machines to make a flaky step fail more often.

The driver is not changed for them. Each VM's start script is wrapped (`startwrap`): the
wrapper puts its own `vde_switch` between the machine and the VLAN's switch, joined by vde2's
`wirefilter` (delay, loss), delays the start (slow boot) and caps the QEMU's CPU, then execs
the original script. The plan travels to the wrapper in one environment variable, which the
driver passes to every start script as upstream does with `QEMU_VDE_SOCKET_<n>`.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nixtest_tui.flaky.errors import FlakyError

PLAN_VARIABLE = "NIXTEST_FLAKY_CHAOS"
SIDECAR = "chaos.json"
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)ms(?:(?:±|\+-|\+)(\d+(?:\.\d+)?)ms)?$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)s$")


@dataclass(frozen=True)
class ChaosPlan:
    """All knobs of one hunt; `seed` is set per run (base seed + run number)."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_percent: float = 0.0
    cpu_share: dict[str, float] = field(default_factory=dict)  # machine -> percent of a core
    slow_boot: dict[str, float] = field(default_factory=dict)  # machine -> seconds
    seed: int = 0

    @property
    def touches_network(self) -> bool:
        return self.delay_ms > 0 or self.loss_percent > 0

    @property
    def active(self) -> bool:
        return self.touches_network or bool(self.cpu_share) or bool(self.slow_boot)

    def for_run(self, number: int) -> ChaosPlan:
        return ChaosPlan(self.delay_ms, self.jitter_ms, self.loss_percent, dict(self.cpu_share),
                         dict(self.slow_boot), self.seed + number)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ChaosPlan:
        data = json.loads(text)
        return cls(float(data["delay_ms"]), float(data["jitter_ms"]),
                   float(data["loss_percent"]), dict(data["cpu_share"]),
                   dict(data["slow_boot"]), int(data["seed"]))

    def describe(self) -> str:
        parts = []
        if self.delay_ms:
            jitter = f"±{self.jitter_ms:g}ms" if self.jitter_ms else ""
            parts.append(f"net delay {self.delay_ms:g}ms{jitter}")
        if self.loss_percent:
            parts.append(f"net loss {self.loss_percent:g}%")
        parts += [f"cpu {name}:{share:g}%" for name, share in sorted(self.cpu_share.items())]
        parts += [f"slow boot {name}:{s:g}s" for name, s in sorted(self.slow_boot.items())]
        return ", ".join(parts) or "no chaos"


def parse_delay(text: str) -> tuple[float, float]:
    match = _DELAY.match(text.strip())
    if match is None:
        raise FlakyError(f"--net-delay {text!r}: expected milliseconds such as 50ms or "
                         "50ms±20ms (or 50ms+-20ms)")
    return float(match.group(1)), float(match.group(2) or 0.0)


def parse_loss(text: str) -> float:
    match = _PERCENT.match(text.strip())
    if match is None or not 0 <= float(match.group(1)) <= 100:
        raise FlakyError(f"--net-loss {text!r}: expected a percentage such as 2%")
    return float(match.group(1))


def _named(option: str, text: str, pattern: re.Pattern[str], example: str) -> tuple[str, float]:
    name, _, value = text.partition(":")
    match = pattern.match(value.strip())
    if not name or match is None:
        raise FlakyError(f"{option} {text!r}: expected MACHINE:{example}")
    return name, float(match.group(1))


def parse_cpu_starve(text: str) -> tuple[str, float]:
    name, share = _named("--cpu-starve", text, _PERCENT, "30%")
    if not 1 <= share <= 100:
        raise FlakyError(f"--cpu-starve {text!r}: the share of a core must be 1% to 100%")
    return name, share


def parse_slow_boot(text: str) -> tuple[str, float]:
    return _named("--slow-boot", text, _SECONDS, "5s")


def check_machines(plan: ChaosPlan, machines: set[str]) -> None:
    for name in [*plan.cpu_share, *plan.slow_boot]:
        if name not in machines:
            raise FlakyError(f"chaos knob for {name!r}: the test has no such VM "
                             f"(its VMs: {', '.join(sorted(machines))})")


def wrap_configuration(config_path: Path, directory: Path) -> Path:
    """A copy of the driver configuration whose VMs start through the chaos wrapper.

    Written once per hunt: the plan itself (and its per-run seed) comes from the run's
    environment, so every run shares these files."""
    config = json.loads(config_path.read_text())
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, vm in config.get("vms", {}).items():
        original = Path(vm["start_script"])
        wrapper = bin_dir / f"run-{name}-vm"
        wrapper.write_text(
            "#!/bin/sh\n# written by nixtest-tui flaky: chaos knobs, then the original script\n"
            f"exec {sys.executable} -m nixtest_tui.flaky.startwrap {name} {original} \"$@\"\n")
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        vm["start_script"] = str(wrapper)
    test_script = config.get("test_script")
    if test_script and not os.path.isabs(test_script):
        config["test_script"] = str((config_path.parent / test_script).resolve())
    wrapped = directory / "driver-configuration.json"
    wrapped.write_text(json.dumps(config, indent=2))
    return wrapped


def write_sidecar(run_dir: Path, plan: ChaosPlan, how_cpu: str) -> None:
    """`chaos.json` next to the run's trace: the knobs and the seed that run had."""
    record = {**json.loads(plan.to_json()), "describe": plan.describe(), "cpu_method": how_cpu}
    (run_dir / SIDECAR).write_text(json.dumps(record, indent=2) + "\n")
