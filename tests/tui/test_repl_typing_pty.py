"""The REPL-typing case in a real terminal: `nixtest-tui` in a pseudo-terminal, read back
through pyte. A Python statement full of debugger letters typed into the REPL is evaluated;
the paused script does not move; a block typed over three lines runs once it is complete.
Escape leaves the input, and `n` steps again."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
from harness import F5, Terminal, tui_in_a_terminal

SCRIPT = textwrap.dedent("""\
    counter = 0
    with subtest("first"):
        counter += 1
        counter += 1
    done = True
""")
CTRL_T, CTRL_Q, ESCAPE, DOWN = "\x14", "\x11", "\x1b", "\x1b[B"


def wait_until(terminal: Terminal, check: Callable[[str], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check(terminal.text()):
        assert time.monotonic() < deadline, f"never reached:\n{terminal.text()}"
        try:
            terminal.stream.feed(terminal.child.read_nonblocking(65536, timeout=0.2))
        except pexpect.TIMEOUT:
            pass


def test_typing_in_the_repl_does_not_step_the_script(tmp_path: Path) -> None:
    script = tmp_path / "test-script"
    script.write_text(SCRIPT)
    config = tmp_path / "driver-configuration.json"
    config.write_text(json.dumps({"vms": {}, "test_script": str(script)}))
    terminal = tui_in_a_terminal(config, tmp_path)
    child = terminal.child
    try:
        terminal.wait_for("F5 runs the script", seconds=60)
        child.send(DOWN)
        child.send(DOWN)
        child.send("b")
        terminal.wait_for("●")
        child.send(F5)
        terminal.wait_for("paused at line 3 (breakpoint)")
        child.send(CTRL_T)
        wait_until(terminal, lambda text: "Breakpoint" not in text)  # the footer: input keys
        # a real terminal delivers each character as its own key press
        for character in 'print("snock".upper() + " xFpq", counter)':
            child.send(character)
        child.send("\r")
        terminal.wait_for("SNOCK xFpq 0")
        assert "paused at line 3 (breakpoint)" in terminal.text()
        # a block: Enter (\r) after the header continues it, indented; ctrl+j (\n) adds a
        # line; Enter on the empty last line runs it
        for line in ("for k in range(2):\r", "tag = 'row'\n", "print(tag, k * 21)\r"):
            for character in line:
                child.send(character)
        wait_until(terminal, lambda text: "print(tag, k * 21)" in text)
        assert "row 21" not in terminal.text()  # still open: nothing ran
        child.send("\r")
        terminal.wait_for("row 21")
        assert "... " in terminal.text() and "paused at line 3 (breakpoint)" in terminal.text()
        child.send(ESCAPE)
        # the script pane's keys in the footer again; also keeps ESC apart from the next key,
        # which a terminal would otherwise read as alt+n
        wait_until(terminal, lambda text: "Breakpoint" in text)
        child.send("n")
        terminal.wait_for("paused at line 4 (step)")
        child.send(CTRL_Q)
        child.expect(pexpect.EOF, timeout=60)
    finally:
        child.close(force=True)
