"""`nixtest-tui replay` driven like a person (keys through Pilot) on the trace of a real demo run
(tests/data/replay/demo-run.tar.xz: the demo script plus a failing subtest, recorded with
`nixtest-tui --demo --headless --trace-screens 2`).

"What the live run showed" comes straight from the trace's JSON lines, not from the replay
code: the `ScriptLine` in force at t, and the `SerialLine`s the driver decoded live up to t.
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
from pathlib import Path
from typing import Any

import pexpect
import pytest
from conftest import until
from textual.pilot import Pilot
from textual.widgets import Input, Static, TabbedContent

from nixtest_tui.cli import main
from nixtest_tui.replay import open_trace
from nixtest_tui.replay.model import build_run
from nixtest_tui.replay_ui.app import ReplayApp
from nixtest_tui.replay_ui.timeline import ReplayTimeline
from nixtest_tui.replay_ui.views import (
    ReplayLines,
    ReplayScreen,
    ReplayScript,
    ReplaySubtests,
    ReplayWaiting,
)

DATA = Path(__file__).parent.parent / "data" / "replay"
SIZE = (140, 45)
FAILING_LINE = 36


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo-run")
    with tarfile.open(DATA / "demo-run.tar.xz") as archive:
        archive.extractall(out, filter="data")
    return out


@pytest.fixture(scope="module")
def records(demo_dir: Path) -> list[dict[str, Any]]:
    lines = (demo_dir / "nixtest-trace.jsonl").read_text().splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda r: float(r["t"]))


def live_script_line(records: list[dict[str, Any]], t: float) -> int | None:
    lines = [r["line"] for r in records if r["type"] == "ScriptLine" and r["t"] <= t
             and r["function"] == "<module>"]
    return lines[-1] if lines else None


def live_serial_lines(records: list[dict[str, Any]], machine: str, t: float) -> list[str]:
    return [r["line"].strip() for r in records if r["type"] == "SerialLine"
            and r["machine"] == machine and r["t"] <= t and r["line"].strip()]


def shown_console(app: ReplayApp, machine: str) -> list[str]:
    pane = app.query_one(f"#console-{machine}", ReplayLines)
    return [line.strip() for line in pane.text_lines() if line.strip()]


async def open_console(pilot: Pilot[int], app: ReplayApp, machine: str) -> None:
    """Click the machine's console tab and wait for its console at the current time."""
    await pilot.click(f"#--content-tab-tab-console-{machine}")
    await until(lambda: app.shown is not None and app.shown.moment.t == app.t
                and machine in app.shown.consoles, seconds=30)


async def settled(app: ReplayApp) -> None:
    """The panes show the time the app is at (seeks finish in a worker thread)."""
    await until(lambda: app.shown is not None and app.shown.moment.t == app.t, seconds=30)


def opened(demo_dir: Path, at_failure: bool = True) -> ReplayApp:
    return ReplayApp(build_run(open_trace(demo_dir)), at_failure)


async def test_opens_on_the_failure(demo_dir: Path) -> None:
    app = opened(demo_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app)
        script = app.query_one(ReplayScript)
        assert script.has_focus
        assert script.current_line == FAILING_LINE and script.failed
        assert str(app.query_one(ReplayWaiting).render()).startswith(
            "✗ RequestedAssertionFailed: command `systemctl start broken.service` failed")
        subtests = str(app.query_one(ReplaySubtests).render())
        assert "▶ the broken unit starts" in subtests
        assert "✓ the echo service comes up" in subtests
        await pilot.press("right_square_bracket")  # the end: the subtest has failed
        await settled(app)
        assert "✗ the broken unit starts" in str(app.query_one(ReplaySubtests).render())
        assert not app.query_one(ReplayScript).failed


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.8])
async def test_panes_show_what_the_live_run_showed_at_a_time(
        demo_dir: Path, records: list[dict[str, Any]], fraction: float) -> None:
    app = opened(demo_dir, at_failure=False)
    target = round(app.recording.duration * fraction, 2)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app)
        await pilot.press("g")
        goto = app.query_one("#goto", Input)
        assert goto.has_focus
        goto.value = ""
        await pilot.press(*str(target), "enter")
        await settled(app)
        assert app.t == target
        assert app.query_one(ReplayScript).current_line == live_script_line(records, target)
        for machine in app.machines:
            await open_console(pilot, app, machine)
            live = live_serial_lines(records, machine, target)
            shown = shown_console(app, machine)
            # the replayed terminal also shows the line being written, which the driver had
            # not yet reported as a line
            assert live[-3:] in (shown[-3:], shown[-4:-1]), machine


async def test_the_console_tab_shows_the_machine_at_t(demo_dir: Path,
                                                      records: list[dict[str, Any]]) -> None:
    app = opened(demo_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app)
        await open_console(pilot, app, "server")
        assert app.query_one(TabbedContent).active == "tab-console-server"
        pane = app.query_one("#console-server", ReplayLines)
        await until(lambda: pane.visible_text() != [] and pane.following, seconds=10)
        visible = [line.strip() for line in pane.visible_text() if line.strip()]
        live = live_serial_lines(records, "server", app.t)
        assert visible and live[-1] in visible[-2:]


async def test_keys_move_through_the_run(demo_dir: Path) -> None:
    app = opened(demo_dir)
    run = app.recording
    async with app.run_test(size=SIZE) as pilot:
        await settled(app)
        await pilot.press("left_square_bracket")
        await settled(app)
        assert app.t == 0.0
        assert "· the echo service comes up" in str(app.query_one(ReplaySubtests).render())
        await pilot.press("s")
        await settled(app)
        assert app.t == run.subtests[0].start
        assert "▶ the echo service comes up" in str(app.query_one(ReplaySubtests).render())
        await pilot.press("s")
        await settled(app)
        assert app.t == run.subtests[1].start
        await pilot.press("S")
        await settled(app)
        assert app.t == run.subtests[0].start
        before = app.t
        await pilot.press("full_stop")
        await settled(app)
        assert app.t == min(t for t in app.event_times if t > before)
        await pilot.press("comma")
        await settled(app)
        assert app.t == before
        await pilot.press("c")
        await settled(app)
        assert app.t == min(c.start for c in run.commands if c.start > before)
        await pilot.press("e")
        await settled(app)
        assert app.query_one(ReplayScript).current_line == FAILING_LINE


async def test_play_moves_time_forward_at_the_chosen_speed(demo_dir: Path) -> None:
    app = opened(demo_dir, at_failure=False)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app)
        await pilot.press("plus", "plus", "plus")  # x8
        assert app.speed == 8.0
        await pilot.press("space")
        assert app.playing
        await until(lambda: app.t >= 2.0, seconds=30)
        await pilot.press("space")
        assert not app.playing
        stopped = app.t
        await pilot.pause(0.5)
        assert app.t == stopped


async def test_a_click_on_the_timeline_seeks_there(demo_dir: Path) -> None:
    app = opened(demo_dir)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app)
        timeline = app.query_one(ReplayTimeline)
        x = timeline.size.width // 2
        await pilot.click(ReplayTimeline, offset=(x, 1))
        await settled(app)
        assert app.t == pytest.approx(timeline.time_at(x))
        assert 0 < app.t < app.recording.duration


async def test_the_screen_tab_shows_the_latest_screenshot_at_t(demo_dir: Path) -> None:
    app = opened(demo_dir)
    run = app.recording
    async with app.run_test(size=SIZE) as pilot:
        await settled(app)
        await pilot.click("#--content-tab-tab-screen")
        await until(lambda: app.shown is not None and app.shown.with_picture, seconds=30)
        latest = [s for s in run.shots if s.t <= app.t][-1]
        caption = str(app.query_one("#screen-caption", Static).render())
        assert caption.startswith(f"{latest.machine}: ") and latest.path in caption
        picture = app.query_one(ReplayScreen).image
        assert picture is not None and picture.size == (1280, 800)
        await pilot.press("left_square_bracket")
        await until(lambda: app.shown is not None and app.shown.moment.t == 0.0, seconds=30)
        assert app.query_one(ReplayScreen).image is None
        assert "no screenshot before this time" in str(
            app.query_one("#screen-caption", Static).render())


async def test_a_format_1_trace_opens(tmp_path: Path) -> None:
    recorded = (DATA / "demo-format1.jsonl").read_bytes()
    (tmp_path / "nixtest-trace.jsonl").write_bytes(recorded)
    app = opened(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settled(app)
        assert app.query_one(ReplayScript).current_line == FAILING_LINE
        await open_console(pilot, app, "server")
        assert shown_console(app, "server")


def test_the_replay_command_opens_in_a_terminal_and_quits(demo_dir: Path) -> None:
    """`nixtest-tui replay OUT_DIR` in a real pseudo-terminal, quit with `q`."""
    child = pexpect.spawn(sys.executable, ["-m", "nixtest_tui", "replay", str(demo_dir)],
                          dimensions=(SIZE[1], SIZE[0]), env={**os.environ, "TERM": "xterm"},
                          timeout=60)
    try:
        child.expect("systemctl start broken.service")
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_the_replay_command_says_what_is_wrong(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path)]) == 2
    assert "no nixtest-trace.jsonl in this directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "no such trace file or output directory" in capsys.readouterr().err
