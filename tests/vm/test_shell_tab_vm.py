"""The shell tab driven like a person (Pilot) against a real tiny guest: F7 opens it, lines
answer, letters never reach the debugger, ctrl+c kills the guest command and the next line
answers, a `cd` is remembered, up recalls the history, Escape leaves for the script."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import NetworkFactory, tui_session, until
from textual.widgets import RichLog, TabbedContent

from nixtest_tui.app import NixtestApp
from nixtest_tui.widgets.machines import MachineList
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.shell import MachineShell, ShellDeck, ShellInput

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def transcript(shell: MachineShell) -> str:
    return "\n".join(strip.text for strip in shell.query_one(RichLog).lines)


async def test_a_shell_per_machine_in_the_tui(network: NetworkFactory, tmp_path: Path) -> None:
    config = network("shelly", "other", script='shelly.succeed("true")\n')
    app = NixtestApp(tui_session(config, tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        machines = app.query_one(MachineList)
        machines.focus()
        await pilot.press("down")  # rows are sorted: other, shelly
        assert machines.current_machine == "shelly"
        await pilot.press("f7")  # the shell of the machine selected in the list
        deck = app.query_one(ShellDeck)
        assert app.query_one(TabbedContent).active == "tab-shell"
        shell = deck.shell("shelly")
        assert isinstance(app.focused, ShellInput) and app.focused.shell is shell

        # every letter of the line goes to the input: c, o, s, n, x would drive the debugger
        await pilot.press(*"echo $((6*7)) cosnx", "enter")
        await until(lambda: "42 cosnx" in transcript(shell) and shell.running is None)
        assert "exit 0" in transcript(shell)
        assert app.script_state == "idle"

        await pilot.press(*"cd /etc", "enter")
        await until(lambda: shell.running is None and "shelly:/etc#" in str(
            shell.query_one("#shell-prompt").render()))
        await pilot.press(*"pwd", "enter")
        await until(lambda: shell.running is None and "\n/etc\n" in transcript(shell))

        await pilot.press(*"echo started; sleep 100", "enter")
        await until(lambda: "\nstarted" in transcript(shell))  # its output, not the line
        assert shell.running == "echo started; sleep 100"
        await pilot.press("ctrl+c")
        await until(lambda: shell.running is None, seconds=30)
        assert "cancelled after" in transcript(shell)
        await pilot.press(*"echo ok; ps -o args | grep -c '^sleep 100' || true", "enter")
        await until(lambda: shell.running is None and "\nok\n0\n" in transcript(shell),
                    seconds=30)

        await pilot.press("up")
        assert shell.input.value == "echo ok; ps -o args | grep -c '^sleep 100' || true"
        await pilot.press("up", "up")
        assert shell.input.value == "pwd"
        await pilot.press("down")
        assert shell.input.value == "echo started; sleep 100"
        await pilot.press("ctrl+c")  # nothing runs: clears the input, as a shell does
        assert shell.input.value == ""

        # the other machine has a shell of its own; a failing line says so
        deck.show("other")
        other = deck.shell("other")
        await pilot.press(*"ls /nonexistent-dir; exit 3", "enter")
        await until(lambda: other.running is None and "exit 3" in transcript(other))
        await until(lambda: "nonexistent-dir" in transcript(other))  # stderr, via the console
        assert "shelly:/etc#" in str(shell.query_one("#shell-prompt").render())

        deck.show("shelly")
        await pilot.pause()
        folder = SCREENSHOTS if os.environ.get("NIXTEST_SAVE_SCREENSHOTS") else tmp_path
        app.save_screenshot("shell.svg", str(folder))
        assert (folder / "shell.svg").stat().st_size > 0
        # quitting while a line runs: the machines go down and the line ends with them
        await pilot.press(*"sleep 100", "enter")
        await until(lambda: shell.running == "sleep 100")
        await pilot.press("escape")
        assert isinstance(app.focused, ScriptPane)
        quit_pressed = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - quit_pressed < 60
