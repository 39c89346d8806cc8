"""How one run is started: a headless run of our driver, isolated, or a Nix build.

Isolation of a headless run: its own `XDG_RUNTIME_DIR` and `TMPDIR` (the driver's state root:
`vm-state-<name>`, the `vde<N>.ctl` switch sockets, the QMP/monitor/shell sockets), its own
output directory, and as root its own network namespace (`unshare --net`), so bridges and
taps a test with containers creates are private to the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from nixtest_tui.flaky.chaos import PLAN_VARIABLE, ChaosPlan
from nixtest_tui.flaky.errors import FlakyError
from nixtest_tui.flaky.outcome import TRACE_NAME

NETNS = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh"]


@dataclass(frozen=True)
class RunSlot:
    number: int
    directory: Path  # OUT/run-NNN: trace, JUnit, output.log, chaos.json
    state_dir: Path  # short, under /tmp: unix socket paths have at most 107 bytes
    plan: ChaosPlan


class Launcher(Protocol):
    isolation: str

    def command(self, slot: RunSlot) -> list[str]: ...

    def environment(self, slot: RunSlot) -> dict[str, str]: ...

    def collect(self, slot: RunSlot, status: int) -> None: ...


def private_network_prefix() -> tuple[list[str], str]:
    if os.geteuid() == 0 and shutil.which("unshare"):
        return NETNS, "own state root, sockets and network namespace per run"
    return [], ("own state root and sockets per run; network namespace shared with the host "
                "(unshare --net needs root; VM-only tests need no more: VLANs are unix sockets)")


@dataclass
class HeadlessLauncher:
    """`nixtest-tui --headless -c CONFIG -o OUT/run-NNN` with the user's other options."""

    config: Path
    extra: list[str] = field(default_factory=list)
    isolation: str = ""
    _prefix: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._prefix, self.isolation = private_network_prefix()

    def command(self, slot: RunSlot) -> list[str]:
        return [*self._prefix, sys.executable, "-m", "nixtest_tui", "--headless",
                "-c", str(self.config), "-o", str(slot.directory), "--junit-xml", "junit.xml",
                *self.extra]

    def environment(self, slot: RunSlot) -> dict[str, str]:
        env = dict(os.environ, XDG_RUNTIME_DIR=str(slot.state_dir), TMPDIR=str(slot.state_dir))
        if slot.plan.active:
            env[PLAN_VARIABLE] = slot.plan.to_json()
        return env

    def collect(self, slot: RunSlot, status: int) -> None:
        """The driver wrote everything into the run's directory already."""


@dataclass
class NixLauncher:
    """Each run a `nix build ATTR --rebuild` (`nix-build --check -A ATTR` with --nix-file), so
    Nix spreads the runs over the user's remote builders. The test must run on our driver
    (`lib.withNixtestDriver`), which writes the trace into the test's `$out`."""

    attr: str
    nix_file: Path | None = None
    isolation: str = "one Nix build per run (Nix's sandbox isolates them)"

    def command(self, slot: RunSlot) -> list[str]:
        if self.nix_file is not None:
            return ["nix-build", str(self.nix_file), "-A", self.attr, "--check", "--no-out-link"]
        return ["nix", "build", self.attr, "--rebuild", "--no-link", "--json", "-L",
                "--extra-experimental-features", "nix-command flakes"]

    def environment(self, slot: RunSlot) -> dict[str, str]:
        return dict(os.environ)

    def collect(self, slot: RunSlot, status: int) -> None:
        """Copy the trace, JUnit and screenshots from the build's out path into the run's
        directory. A failed build registers no output, so a failing run keeps only its log."""
        if status != 0:
            return
        out = _out_path(slot.directory / "output.log", self.nix_file is not None)
        if out is None or not (out / TRACE_NAME).is_file():
            return
        for item in out.iterdir():
            target = slot.directory / item.name
            if item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True)
            else:
                shutil.copy2(item, target)


def _out_path(log: Path, plain_path: bool) -> Path | None:
    lines = log.read_text(errors="replace").splitlines()
    for line in reversed(lines):
        if plain_path and line.startswith("/"):
            return Path(line.strip())
        if not plain_path and line.startswith("["):
            try:
                built = json.loads(line)
                return Path(built[0]["outputs"]["out"])
            except (ValueError, KeyError, IndexError, TypeError):
                continue
    return None


def require_nix(launcher: NixLauncher) -> None:
    program = "nix-build" if launcher.nix_file is not None else "nix"
    if shutil.which(program) is None:
        raise FlakyError(f"--runner nix: `{program}` is not on PATH; install Nix or drop "
                         "--runner nix to run the test here")


def stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the run's process group (the driver unwinds and stops its machines), then
    SIGKILL after `grace`."""
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
