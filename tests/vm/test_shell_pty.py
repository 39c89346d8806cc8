"""The shell tab in a real terminal: `nixtest-tui` in a pseudo-terminal over a real tiny guest,
read back through pyte. F7 opens the machine's shell; `echo $((6*7))` answers 42; `sleep 100`
is cancelled with ctrl+c (the byte a terminal sends), and `echo ok` answers at once."""

from __future__ import annotations

import time
from pathlib import Path

import pexpect
from harness import Terminal, tui_in_a_terminal

from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network

F7, CTRL_C, CTRL_Q = "\x1b[18~", "\x03", "\x11"


def type_line(terminal: Terminal, line: str) -> None:
    for character in line:  # a real terminal delivers each character as its own key press
        terminal.child.send(character)
    terminal.wait_for(line, seconds=30)  # echoed in the input before it runs
    terminal.child.send("\r")


def test_shell_tab_answers_and_ctrl_c_kills_the_guest_command(
        tmp_path: Path, tiny_image: GuestImage, accelerator: str) -> None:
    topology = Topology((MachineSpec("shelly"),), global_timeout=3600)
    config = write_network(topology, tiny_image, accelerator, tmp_path / "net",
                           'shelly.succeed("true")\n')
    terminal = tui_in_a_terminal(config, tmp_path)
    child = terminal.child
    try:
        terminal.wait_for("F5 runs the script", seconds=60)
        child.send(F7)
        terminal.wait_for("a shell line for shelly", seconds=30)
        type_line(terminal, "echo $((6*7))")
        terminal.wait_for("\n42", seconds=120)  # the first line boots the machine
        terminal.wait_for("exit 0", seconds=30)

        type_line(terminal, "sleep 100")
        child.send(CTRL_C)
        cancelled_at = time.monotonic()
        terminal.wait_for("cancelled after", seconds=30)
        type_line(terminal, "echo ok")
        terminal.wait_for("\nok", seconds=30)
        answered = time.monotonic() - cancelled_at
        assert answered < 60, answered  # sleep 100 was killed, not waited for
        assert "SeaBIOS" not in terminal.text().splitlines()[0]  # no escape reached the tty
        assert "idle: F5 runs the script" in terminal.text()
        child.send(CTRL_Q)
        child.expect(pexpect.EOF, timeout=60)
    finally:
        child.close(force=True)
