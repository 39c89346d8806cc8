"""Subtests of the script with their state (pending, running, passed, failed) and duration."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from nixtest_tui.debugger.model import Subtest
from nixtest_tui.driver.events import Event, NestFinished, NestStarted

ICONS = {"pending": ("·", "dim"), "running": ("▶", "yellow"), "passed": ("✓", "green"),
         "failed": ("✗", "bold red")}


@dataclass
class _State:
    subtest: Subtest
    state: str = "pending"
    duration: float | None = None


class SubtestList(Static):
    DEFAULT_CSS = """
    SubtestList { height: auto; padding: 0 1; border-top: solid $panel; }
    """

    def __init__(self, subtests: tuple[Subtest, ...], **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.states = [_State(s) for s in subtests]

    def on_mount(self) -> None:
        self._redraw()

    def reset(self, subtests: tuple[Subtest, ...]) -> None:
        self.states = [_State(s) for s in subtests]
        self._redraw()

    def handle(self, event: Event) -> None:
        if isinstance(event, NestStarted | NestFinished) and event.subtest:
            name = event.message.removeprefix("subtest: ")
            for state in self.states:
                if state.subtest.name == name:
                    if isinstance(event, NestStarted):
                        state.state, state.duration = "running", None
                    else:
                        state.state = "passed" if event.ok else "failed"
                        state.duration = event.duration
            self._redraw()

    def _redraw(self) -> None:
        text = Text("subtests\n", style="bold") if self.states else Text("no subtests",
                                                                             style="dim")
        for state in self.states:
            icon, style = ICONS[state.state]
            text.append(f"{icon} ", style=style)
            text.append(state.subtest.name)
            if state.duration is not None:
                text.append(f" {state.duration:.1f}s", style="dim")
            text.append("\n")
        self.update(text)
