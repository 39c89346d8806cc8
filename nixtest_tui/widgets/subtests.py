"""Subtests of the script with their state and duration.

States: pending, running, passed, failed, and skipped - a subtest that completed only because
the user skipped a failed statement in it, which is not a pass and must not look like one;
left - a subtest the debugger jumped out of (run from here), which did not finish.
Durations leave out the time the script stood paused (shown beside them), so a subtest does not
look slow because someone read a console for a minute. A new run starts every row afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.widgets import Static

from nixtest_tui.debugger.events import FailureSkipped, RunStarted
from nixtest_tui.debugger.model import Subtest
from nixtest_tui.driver.events import Event, NestFinished, NestStarted, ScriptStateChanged

ICONS = {"pending": ("·", "dim"), "running": ("▶", "yellow"), "passed": ("✓", "green"),
         "failed": ("✗", "bold red"), "skipped": ("↷", "bold yellow"),
         "left": ("⤼", "yellow")}


@dataclass
class _State:
    subtest: Subtest
    state: str = "pending"
    duration: float | None = None
    paused: float = 0.0
    skipped: int = 0


class SubtestList(Static):
    DEFAULT_CSS = """
    SubtestList { height: auto; padding: 0 1; border-top: solid $panel; }
    """

    def __init__(self, subtests: tuple[Subtest, ...], **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.states = [_State(s) for s in subtests]
        self._paused_since: float | None = None

    def on_mount(self) -> None:
        self._redraw()

    def reset(self, subtests: tuple[Subtest, ...]) -> None:
        """A new script text (or a new run of it): every subtest pending again."""
        self.states = [_State(s) for s in subtests]
        self._paused_since = None
        self._redraw()

    def relocate(self, subtests: tuple[Subtest, ...]) -> None:
        """An edited text in the same run: subtests keep their state by name, lines move."""
        kept = {state.subtest.name: state for state in self.states}
        self.states = [replace(kept[s.name], subtest=s) if s.name in kept else _State(s)
                       for s in subtests]
        self._redraw()

    def state_of(self, name: str) -> str:
        return next((s.state for s in self.states if s.subtest.name == name), "")

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.reset(tuple(s.subtest for s in self.states))
        elif isinstance(event, ScriptStateChanged):
            self._pause_clock(event)
        elif isinstance(event, FailureSkipped):
            for state in self._in_progress():
                state.skipped += 1
        elif isinstance(event, NestStarted | NestFinished) and event.subtest:
            self._nest(event)

    def _in_progress(self) -> list[_State]:
        return [s for s in self.states if s.state == "running"]

    def _pause_clock(self, event: ScriptStateChanged) -> None:
        if event.state == "paused":
            self._paused_since = self._paused_since or event.time
        elif self._paused_since is not None:
            for state in self._in_progress():
                state.paused += event.time - self._paused_since
            self._paused_since = None

    def _nest(self, event: NestStarted | NestFinished) -> None:
        name = event.message.removeprefix("subtest: ")
        for state in self.states:
            if state.subtest.name != name:
                continue
            if isinstance(event, NestStarted):
                state.state, state.duration, state.paused, state.skipped = "running", None, 0, 0
            else:
                state.state = ("failed" if not event.ok else "left" if event.left else
                               "skipped" if state.skipped else "passed")
                state.duration = max(0.0, event.duration - state.paused)
        self._redraw()

    def _redraw(self) -> None:
        text = Text("subtests\n", style="bold") if self.states else Text("no subtests",
                                                                             style="dim")
        for state in self.states:
            icon, style = ICONS[state.state]
            text.append(f"{icon} ", style=style)
            text.append(state.subtest.name)
            if state.state in ("skipped", "left"):
                text.append(f" {state.state}", style=ICONS[state.state][1])
            if state.duration is not None:
                text.append(f" {state.duration:.1f}s", style="dim")
            if state.paused >= 0.05 and state.duration is not None:
                text.append(f" (+{state.paused:.1f}s paused)", style="dim italic")
            text.append("\n")
        self.update(text)
