"""SVG snapshots of the main screen states, made deterministic: machines defined but not
booted, no VLANs (no pids or paths in the log), the REPL tab in front, no cursor blink."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import until
from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.config import DriverConfiguration, MachineConfig
from nixtest_tui.session import Session

SCRIPT = """\
# A small test: a server with an echo service and a client.
start_all()

with subtest("the echo service comes up"):
    server.wait_for_unit("echo.service")
    server.wait_for_open_port(7)

with subtest("the client talks to it"):
    reply = client.succeed("echo hello | nc -w 2 server 7")
    t.assertEqual(reply.strip(), "hello")
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NixtestApp:
    monkeypatch.setattr(Input, "cursor_blink", False)
    script = tmp_path / "test-script"
    script.write_text(SCRIPT)
    machines = {name: MachineConfig(name, f"/nonexistent/run-{name}-vm")
                for name in ("client", "server")}
    config = DriverConfiguration(vms=machines, test_script=script)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    return NixtestApp(Session(config, tmp_path, tmp_dir=runtime))


async def settle(pilot: Pilot[Any], check: Callable[[], bool]) -> None:
    await until(check, seconds=10)  # fails, rather than snapshotting whatever is there
    pilot.app.query_one(TabbedContent).active = "tab-repl"
    await pilot.pause()


def test_idle_screen_80x24(snap_compare: Any, app: NixtestApp) -> None:
    """Machines off, the script with line numbers, the footer's bindings, at 80×24."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: app.sub_title.startswith("idle"))

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_paused_at_a_breakpoint_120x36(snap_compare: Any, app: NixtestApp) -> None:
    """A breakpoint (●) on `start_all()`, the script paused there (▶, highlighted line)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: app.sub_title.startswith("idle"))
        await pilot.press("down", "b", "f5")
        await settle(pilot, lambda: app.sub_title.startswith("paused"))

    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


async def test_command_palette_runs_actions(app: NixtestApp) -> None:
    """ctrl+p, "run / continue", enter: the script starts (and, with machines whose start
    scripts do not exist, pauses on the failing start_all())."""
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"), seconds=10)
        await pilot.press("ctrl+p")
        await pilot.press(*"run / continue")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(lambda: app.sub_title.startswith("paused"), seconds=10)
        assert app.sub_title.startswith("paused at line 2 (failure)")
        await pilot.press("q")
