"""Helpers shared by test modules of several tiers (test modules never import each other)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pexpect
import pyte

from nixtest_tui.driver import Driver
from nixtest_tui.driver.config import DriverConfiguration
from nixtest_tui.driver.events import ScriptStateChanged, Subscription
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger


def next_state(events: Subscription, *states: str) -> ScriptStateChanged:
    while True:
        event = events.get(timeout=10)
        assert event is not None, f"no {states} event within 10 s"
        if isinstance(event, ScriptStateChanged) and event.state in states:
            return event



HANGING = """
with subtest("endless"):
    alice.succeed("sleep 600")
"""


def run_driver(tmp_path: Path, *args: str, timeout: float = 180,
               signal_after: tuple[float, int] | None = None,
               extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), NO_COLOR="1", **(extra_env or {}))
    command = [sys.executable, "-m", "nixtest_tui.drop_in", *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    if signal_after is not None:
        delay, signum = signal_after
        deadline = time.monotonic() + 120
        # wait until the script is running a command, then signal
        while time.monotonic() < deadline and not (runtime / "vm-state-alice" / "shell").exists():
            time.sleep(0.2)
        time.sleep(delay)
        process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)



COLUMNS, ROWS = 120, 36
F5 = "\x1b[15~"


class Terminal:
    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.ByteStream(self.screen)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, needle: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while needle not in self.text():
            assert time.monotonic() < deadline, f"{needle!r} never appeared:\n{self.text()}"
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.5))
            except pexpect.TIMEOUT:
                pass




def tui_in_a_terminal(config: Path, tmp_path: Path) -> Terminal:
    """`nixtest-tui -c CONFIG` in a pseudo-terminal of COLUMNS×ROWS, read through pyte."""
    env = dict(os.environ, TERM="xterm-256color", XDG_RUNTIME_DIR=str(tmp_path))
    child = pexpect.spawn(sys.executable, ["-m", "nixtest_tui", "-c", str(config)],
                          env=env, dimensions=(ROWS, COLUMNS), cwd=str(tmp_path))
    return Terminal(child)


@contextmanager
def machineless_driver(tmp_path: Path, script_text: str) -> Iterator[Driver]:
    """A real Driver with no machines over `script_text`: the debugger's control flow only."""
    script = tmp_path / "script.py"
    script.write_text(script_text)
    config = DriverConfiguration(vms={}, test_script=script)
    logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
    with Driver(config, tmp_path, logger, tmp_dir=tmp_path) as running:
        yield running
