"""The live view of a hunt: counts and pass rate, subtests, failure groups, first divergence.

The hunter runs in a thread worker and reports each change through `call_from_thread`; the
divergence of the selected group is computed in a thread worker too (it compares the failing
run with every passing run's console lines), so the event loop only draws.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Static

from nixtest_tui.flaky.divergence import Divergence
from nixtest_tui.flaky.runner import Hunter
from nixtest_tui.flaky.stats import sparkline
from nixtest_tui.flaky.summary import FailureGroup, Summary

REFRESH_SECONDS = 0.3


def open_in_replay_viewer(app: App[int], directory: Path) -> None:
    """The replay viewer is an app of its own: suspend this one while it runs."""
    with app.suspend():
        subprocess.run([sys.executable, "-m", "nixtest_tui", "replay", str(directory)],
                       check=False)


class FlakyApp(App[int]):
    TITLE = "nixtest-tui flaky"
    CSS = """
    #counts { height: 3; padding: 0 1; }
    #subtests { height: 1fr; }
    #groups { height: 1fr; }
    #divergence { height: auto; max-height: 12; padding: 0 1; border-top: solid $accent; }
    """
    BINDINGS = [
        Binding("o", "open_replay", "open failing run in replay"),
        Binding("s", "stop", "stop runs"),
        Binding("q", "quit_hunt", "quit"),
        Binding("ctrl+q", "quit_hunt", "quit", show=False, priority=True),
    ]

    def __init__(self, hunter: Hunter,
                 open_replay: Callable[[App[int], Path], None] = open_in_replay_viewer,
                 ) -> None:
        super().__init__()
        self.hunter = hunter
        self._open_replay = open_replay
        self._groups: list[FailureGroup] = []
        self._quitting = False
        self._changed = threading.Event()
        self.finished = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("starting…", id="counts")
            yield DataTable(id="subtests", cursor_type="row")
            yield DataTable(id="groups", cursor_type="row")
            yield Static("no failing run yet", id="divergence")
        yield Footer()

    def on_mount(self) -> None:
        subtests = self.query_one("#subtests", DataTable)
        subtests.add_columns("subtest", "passed", "min", "median", "p95", "durations")
        groups = self.query_one("#groups", DataTable)
        groups.add_columns("runs", "failing statement", "error", "which")
        groups.focus()
        self.hunter.on_change = self.report
        self.set_interval(REFRESH_SECONDS, self._refresh_if_changed)
        self._hunt()

    def on_unmount(self) -> None:
        """However the app ends (a crash, ctrl+c), no run outlives it unattended."""
        self.hunter.stop()

    @work(thread=True, exclusive=True, group="hunt")
    def _hunt(self) -> None:
        self.hunter.hunt()
        self.call_from_thread(self._hunt_done)

    def report(self, summary: Summary) -> None:
        """The hunter's `on_change`, called from the hunter's thread. It only raises a flag
        that a timer on the UI picks up: waiting for the UI here would stall the hunt while
        the replay viewer has the terminal (`open_in_replay_viewer` suspends this app)."""
        self._changed.set()

    def _refresh_if_changed(self) -> None:
        if self._changed.is_set():
            self._changed.clear()
            self._show(self.hunter.summary)

    def _hunt_done(self) -> None:
        self.finished = True
        self._show(self.hunter.summary)
        if self._quitting:
            self.exit(self.hunter.summary.exit_status())

    def _show(self, summary: Summary) -> None:
        rate, low, high = summary.pass_rate()
        state = ("finished" if self.finished else
                 "stopping…" if self.hunter.stopping else "running")
        early = f" ({summary.stopped_early})" if summary.stopped_early else ""
        self.query_one("#counts", Static).update(Text(
            f"{state}{early}: {len(summary.finished)}/{summary.planned} done, "
            f"{summary.failed} failed, {summary.running} running\n"
            f"pass rate {rate:.0%} (95% Wilson interval {low:.0%}-{high:.0%}) · "
            f"chaos: {summary.chaos}\n{summary.isolation}"))
        subtests = self.query_one("#subtests", DataTable)
        subtests.clear()
        for stats in summary.subtests():
            spread = stats.spread
            numbers = ("-", "-", "-", "") if spread is None else (
                f"{spread.minimum:.1f}s", f"{spread.median:.1f}s", f"{spread.p95:.1f}s",
                sparkline(list(spread.bins)))
            subtests.add_row(Text(stats.name), f"{stats.passed}/{stats.total}", *numbers)
        self._show_groups(summary.groups())

    def _show_groups(self, groups: list[FailureGroup]) -> None:
        table = self.query_one("#groups", DataTable)
        row = table.cursor_row
        table.clear()
        self._groups = groups
        for group in groups:
            which = ", ".join(o.name for o in group.runs[:4]) + ("…" if len(group.runs) > 4
                                                                  else "")
            # Text, not str: a statement or error may hold "[...]", which is not markup here
            table.add_row(str(len(group.runs)), Text(group.statement), Text(group.message),
                          which)
        if groups:
            table.move_cursor(row=min(max(row, 0), len(groups) - 1))
            self._explain(min(max(row, 0), len(groups) - 1))

    @on(DataTable.RowHighlighted, "#groups")
    def _group_chosen(self, event: DataTable.RowHighlighted) -> None:
        self._explain(event.cursor_row)

    def _explain(self, index: int) -> None:
        if 0 <= index < len(self._groups):
            self._divergence(self._groups[index])

    @work(thread=True, exclusive=True, group="divergence")
    def _divergence(self, group: FailureGroup) -> None:
        failing = group.runs[0]
        found = self.hunter.summary.divergence(failing)
        self.call_from_thread(self._show_divergence, failing.name, found)

    def _show_divergence(self, name: str, found: Divergence | None) -> None:
        if found is None:
            text = f"{name}: no divergence found (no passing run yet, or nothing differs)"
        else:
            others = "\n".join(p.describe() for p in found.points if p is not found.first)
            text = (f"{name} first parts from the passing runs at\n{found.first.describe()}"
                    + (f"\nalso:\n{others}" if others else ""))
        self.query_one("#divergence", Static).update(Text(text))

    def selected_run(self) -> Path | None:
        index = self.query_one("#groups", DataTable).cursor_row
        if 0 <= index < len(self._groups):
            return self._groups[index].runs[0].directory
        return None

    def action_open_replay(self) -> None:
        directory = self.selected_run()
        if directory is None:
            self.notify("no failing run to open yet", severity="warning")
            return
        self._open_replay(self, directory)

    def action_stop(self) -> None:
        self.hunter.stop()
        self.notify("stopping the runs (each unwinds through its driver's cleanup)…")

    def action_quit_hunt(self) -> None:
        if self.finished:
            self.exit(self.hunter.summary.exit_status())
            return
        self._quitting = True
        self.hunter.stop()
        self._show(self.hunter.summary)
