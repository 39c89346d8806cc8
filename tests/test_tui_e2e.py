"""End to end: the real `nixtest-tui --demo` in a pseudo-terminal, driven by keys and read
back through a terminal emulator (pyte), then quit; nothing may be left running."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest
from conftest import processes_of_this_session

pytestmark = pytest.mark.vm
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
