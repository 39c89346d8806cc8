"""The TUI driven with Pilot against a real driver and a tiny guest."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NetworkFactory, tui_session, until

from nixtest_tui.app import NixtestApp
from nixtest_tui.session import Session
from nixtest_tui.widgets.console import SerialConsole
from nixtest_tui.widgets.failure_bar import FailureBar
from nixtest_tui.widgets.machines import MachineList
from nixtest_tui.widgets.repl import ReplPane
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.waiting import WaitingStrip

pytestmark = pytest.mark.vm

SCRIPT = """\
start_all()
server.wait_for_unit("echo.service")
x = 1
with subtest("greeting"):
    server.succeed("echo hello")
    server.fail("true")
done = True
"""
WAITING = """\
server.succeed("systemctl start --no-block slow.service")
server.wait_for_unit("slow.service")
"""



def session(network: NetworkFactory, tmp_path: Path, script: str) -> Session:
    return tui_session(network("server", script=script), tmp_path)

async def test_breakpoint_step_failure_and_repl(network: NetworkFactory, tmp_path: Path) -> None:
    app = NixtestApp(session(network, tmp_path, SCRIPT))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        pane = app.query_one(ScriptPane)
        pane.focus()
        for _ in range(2):
            await pilot.press("down")
        await pilot.press("b")
        assert pane.breakpoints == {3}
        await pilot.press("f5")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)")
        assert pane.current_line == 3
        await pilot.press("n")
        await until(lambda: app.sub_title == "paused at line 4 (step)")
        await pilot.press("c")
        await until(lambda: app.sub_title.startswith("paused at line 6 (failure)"))
        assert app.query_one(FailureBar).has_class("-visible")
        assert "unexpectedly succeeded" in app.sub_title or pane.failed
        app.query_one("#bottom").active = "tab-repl"  # type: ignore[attr-defined]
        repl = app.query_one(ReplPane)
        box = repl.query_one("#repl-input")
        box.focus()
        await pilot.press(*'server.succeed("uname -s")')
        await pilot.press("enter")
        await until(lambda: any("Linux" in str(line) for line in
                                       repl.query_one("#repl-output").lines))  # type: ignore[attr-defined]
        pane.focus()
        await pilot.press("k")
        await until(lambda: app.sub_title == "finished with 1 skipped failure")
        rows = app.query_one(MachineList).rows_by_name
        assert rows["server"].state_label == "up"
        await pilot.press("q")
    assert app.session.opened is False


async def test_console_input_and_waiting_strip(network: NetworkFactory, tmp_path: Path) -> None:
    app = NixtestApp(session(network, tmp_path, WAITING))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        await pilot.press("f5")
        strip = app.query_one(WaitingStrip)
        await until(lambda: "slow.service" in str(strip.render()))
        await until(lambda: app.sub_title == "finished")
        server = app.session.machine("server")
        server.succeed("(head -n 1 /dev/ttyS0 > /tmp/typed) >/dev/null 2>&1 &")
        app.open_console("server")  # what enter on its row in the machine list does
        console = app.query_one("#console-server", SerialConsole)
        console.focus()
        await pilot.press("i", *"typed-in-tui", "enter")
        await until(lambda: server.execute("grep -q typed-in-tui /tmp/typed")[0] == 0)
        assert "connecting to host" in console.plain_text()
        await pilot.press("escape", "q")
