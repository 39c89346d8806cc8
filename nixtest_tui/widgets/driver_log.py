"""The driver log: the headless log's information, structured, with filters."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.widgets import RichLog

from nixtest_tui.debugger.events import FailureSkipped
from nixtest_tui.driver.events import (
    CommandFinished,
    Event,
    LogMessage,
    NestFinished,
    NestStarted,
)

KEEP = 5000
LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class _Entry:
    depth: int
    machine: str | None
    level: str
    text: Text


class DriverLog(RichLog):
    """| Key | Action |
    | --- | --- |
    | `m` | cycle the machine filter (all, then each machine) |
    | `l` | cycle the minimum level (info, warning, error, debug) |
    """

    BINDINGS = [
        Binding("m", "cycle_machine", "Machine filter"),
        Binding("l", "cycle_level", "Level"),
    ]
    DEFAULT_CSS = """
    DriverLog { background: $surface; }
    """

    def __init__(self, machines: list[str], **kwargs: object) -> None:
        super().__init__(wrap=False, markup=False, highlight=False, max_lines=KEEP,
                         **kwargs)  # type: ignore[arg-type]
        self.machines = machines
        self.entries: deque[_Entry] = deque(maxlen=KEEP)
        self.depth = 0
        self.skipped_depths: set[int] = set()  # open blocks in which the user skipped a failure
        self.machine_filter: str | None = None
        self.min_level = "info"

    def handle(self, event: Event) -> None:
        entry = self._entry(event)
        if entry is not None:
            self.entries.append(entry)
            if self._visible(entry):
                self.write(self._render_entry(entry))

    def _entry(self, event: Event) -> _Entry | None:
        if isinstance(event, NestStarted):
            text = Text(event.message, style="bold green")
            entry = _Entry(self.depth, event.machine, "info", text)
            self.depth += 1
            return entry
        if isinstance(event, FailureSkipped):
            # every block around the statement did not pass, whatever its exit says
            self.skipped_depths.update(range(self.depth))
            return None
        if isinstance(event, NestFinished):
            self.depth = max(0, self.depth - 1)
            if self.depth in self.skipped_depths and event.ok:
                self.skipped_depths.discard(self.depth)
                text = Text(f"↷ {event.message} ({event.duration:.2f} s): a failure in it was "
                            "skipped by the user", style="bold yellow")
                return _Entry(self.depth, event.machine, "warning", text)
            self.skipped_depths.discard(self.depth)
            mark, style = ("✓", "green") if event.ok else ("✗", "bold red")
            text = Text(f"{mark} {event.message} ({event.duration:.2f} s)", style=style)
            if event.error:
                text.append(f": {event.error}", style="red")
            return _Entry(self.depth, event.machine, "info" if event.ok else "error", text)
        if isinstance(event, LogMessage):
            level = "error" if event.level == "test-error" else event.level
            style = {"error": "bold red", "warning": "yellow", "debug": "dim"}.get(level, "")
            prefix = "!!! " if event.level in ("error", "test-error") else ""
            return _Entry(self.depth, event.machine, level,
                          Text(prefix + event.message, style=style))
        if isinstance(event, CommandFinished) and event.status != 0:
            text = Text(f"exit {event.status}: {event.command} ({event.duration:.2f} s)",
                        style="magenta")
            return _Entry(self.depth, event.machine, "debug", text)
        return None

    def _render_entry(self, entry: _Entry) -> Text:
        line = Text("  " * entry.depth)
        if entry.machine:
            line.append(f"{entry.machine}: ", style="bold")
        line.append_text(entry.text)
        return line

    def _visible(self, entry: _Entry) -> bool:
        if self.machine_filter and entry.machine not in (None, self.machine_filter):
            return False
        return LEVELS.index(entry.level) >= LEVELS.index(self.min_level)

    def _rebuild(self) -> None:
        self.clear()
        for entry in self.entries:
            if self._visible(entry):
                self.write(self._render_entry(entry))
        self.border_title = (f"log: {self.machine_filter or 'all machines'}, "
                             f"{self.min_level} and above")

    def action_cycle_machine(self) -> None:
        choices: list[str | None] = [None, *self.machines]
        self.machine_filter = choices[(choices.index(self.machine_filter) + 1) % len(choices)]
        self._rebuild()

    def action_cycle_level(self) -> None:
        order = ["info", "warning", "error", "debug"]
        self.min_level = order[(order.index(self.min_level) + 1) % len(order)]
        self._rebuild()
