"""The live view through Pilot, over runs that replay recorded demo traces (two passing runs
and one that lost a ping): counts, interval, subtests, the failure group, its divergence, and
the key that opens the failing run in the replay viewer."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from conftest import until
from textual.app import App
from textual.widgets import DataTable, Static

from nixtest_tui.flaky.launch import RunSlot
from nixtest_tui.flaky.runner import Hunter
from nixtest_tui.flaky_ui.app import FlakyApp

DATA = Path(__file__).parent.parent / "data" / "flaky"
PLAYBACK = """
import gzip, pathlib, sys, time
pathlib.Path("nixtest-trace.jsonl").write_bytes(gzip.decompress(pathlib.Path(sys.argv[1]).read_bytes()))
go = pathlib.Path(sys.argv[3])
while sys.argv[3] != "-" and not go.exists():
    pass
sys.exit(int(sys.argv[2]))
"""


class PlaybackLauncher:
    """Run N plays back a recorded trace as a subprocess; `gate` holds the runs until the
    test creates it (so the view is looked at while runs are still going)."""

    isolation = "recorded runs played back"
    traces = {1: ("pass-a", 0), 2: ("fail-ping", 1), 3: ("pass-b", 0)}

    def __init__(self, gate: Path | None = None, gated: tuple[int, ...] = (1, 2, 3)) -> None:
        self.gate = gate
        self.gated = gated

    def command(self, slot: RunSlot) -> list[str]:
        name, status = self.traces[slot.number]
        gate = str(self.gate) if self.gate and slot.number in self.gated else "-"
        return [sys.executable, "-c", PLAYBACK, str(DATA / f"{name}.jsonl.gz"), str(status),
                gate]

    def environment(self, slot: RunSlot) -> dict[str, str]:
        return dict(os.environ)

    def collect(self, slot: RunSlot, status: int) -> None:
        pass


def text_of(app: App[int], selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_the_live_view_groups_the_failure_and_shows_where_it_parted(
        tmp_path: Path) -> None:
    opened: list[Path] = []
    hunter = Hunter(PlaybackLauncher(), tmp_path / "out", runs=3, jobs=2)
    app = FlakyApp(hunter, open_replay=lambda _app, directory: opened.append(directory))
    async with app.run_test(size=(160, 50)) as pilot:
        await until(lambda: app.finished)
        await pilot.pause()
        counts = text_of(app, "#counts")
        assert "finished: 3/3 done, 1 failed, 0 running" in counts
        assert "pass rate 67% (95% Wilson interval 21%-94%)" in counts
        subtests = app.query_one("#subtests", DataTable)
        rows = [[str(cell) for cell in subtests.get_row_at(i)]
                for i in range(subtests.row_count)]
        assert rows[0][:2] == ["the echo service comes up", "3/3"]
        assert rows[1][:2] == ["the client talks to the server over VLAN 1", "2/3"]
        groups = app.query_one("#groups", DataTable)
        assert groups.row_count == 1
        assert [str(cell) for cell in groups.get_row_at(0)[:2]] == [
            "1", 'client.succeed("ping -c 1 -W 5 server") (line 12)']
        await until(lambda: "first parts from" in text_of(app, "#divergence"))
        divergence = text_of(app, "#divergence")
        assert divergence.startswith("run-002 first parts from the passing runs at\n"
                                     '[command] t=6.4s line 12: client.succeed("ping -c 1 -W 5 '
                                     'server")')
        assert "client: `ping -c 1 -W 5 server` exited 1" in divergence
        assert len(rows[0][5]) == 8 and rows[0][5].count("█") >= 1  # 8-bin histogram

        assert app.focused is groups
        await pilot.press("o")
        assert opened == [tmp_path.joinpath("out", "run-002").resolve()]
        await pilot.press("q")
    assert app.return_value == 1


async def test_quitting_while_runs_go_stops_them_first(tmp_path: Path) -> None:
    gate = tmp_path / "gate-never-opened"
    hunter = Hunter(PlaybackLauncher(gate), tmp_path / "out", runs=3, jobs=2)
    app = FlakyApp(hunter, open_replay=lambda _app, _directory: None)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(lambda: hunter.summary.running == 2)
        await pilot.press("o")  # nothing failed yet: a notification, nothing opened
        await pilot.press("q")
        await until(lambda: hunter.done.is_set())
    assert hunter.summary.stopped_early == "stopped by the user"
    assert [o.cancelled for o in hunter.summary.outcomes] == [True, True]
    assert app.return_value == 1


async def test_the_hunt_goes_on_while_the_replay_viewer_has_the_terminal(
        tmp_path: Path) -> None:
    """The replay viewer runs while this app is suspended, its event loop blocked: the runs
    must still be reaped and new ones started meanwhile."""
    gate = tmp_path / "gate"
    hunter = Hunter(PlaybackLauncher(gate, gated=(3,)), tmp_path / "out", runs=3, jobs=1)
    finished_meanwhile: list[bool] = []

    def viewer(_app: App[int], _directory: Path) -> None:  # blocks like subprocess.run
        gate.touch()  # run-003 may end now, while this app's loop is blocked
        finished_meanwhile.append(hunter.done.wait(60))

    app = FlakyApp(hunter, open_replay=viewer)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(lambda: app.query_one("#groups", DataTable).row_count == 1)
        assert len(hunter.summary.outcomes) == 2  # run-003 still to come
        await pilot.press("o")
        assert finished_meanwhile == [True]
        await until(lambda: app.finished)
        assert "3/3 done, 1 failed" in text_of(app, "#counts")
