"""End to end: the real `nixtest-tui --demo` in a pseudo-terminal, driven by keys and read
back through a terminal emulator (pyte), then quit; nothing may be left running."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect
import pytest
from conftest import processes_of_this_session
from harness import COLUMNS, F5, ROWS, Terminal

pytestmark = pytest.mark.vm
def test_demo_runs_in_a_real_terminal_and_quits_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, TERM="xterm-256color", XDG_RUNTIME_DIR=str(tmp_path))
    child = pexpect.spawn(sys.executable, ["-m", "nixtest_tui", "--demo", "--demo-dir",
                                           str(tmp_path / "demo")],
                          env=env, dimensions=(ROWS, COLUMNS), cwd=str(tmp_path))
    terminal = Terminal(child)
    try:
        terminal.wait_for("F5 runs the script")
        assert "start_all()" in terminal.text() and "outsider" in terminal.text()
        child.send(F5)
        terminal.wait_for("finished", seconds=240)
        # the frame that says "finished" may still be arriving: read on until it is complete
        terminal.wait_for("✓ the outsider reaches the", seconds=10)
        assert "✓ the echo service comes up" in terminal.text()
        child.send("q")
        child.expect(pexpect.EOF, timeout=60)
    finally:
        child.close(force=True)
    deadline = time.monotonic() + 10
    while processes_of_this_session() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in processes_of_this_session() if str(tmp_path) in p]
