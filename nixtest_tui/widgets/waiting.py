"""The "waiting on" strip: what each machine is waiting for, how long, and the last probe."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from nixtest_tui.driver.events import Event, WaitFinished, WaitProgress, WaitStarted

BAR = 12


@dataclass
class _Wait:
    machine: str
    what: str
    target: str
    timeout: float | None
    started: float
    last_result: str = ""


class WaitingStrip(Static):
    """One line per wait in progress; hidden when nothing waits. `x` (app) cancels."""

    DEFAULT_CSS = """
    WaitingStrip { height: auto; max-height: 5; padding: 0 1; background: $boost; }
    WaitingStrip.-idle { display: none; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.waits: dict[tuple[str, str, str], _Wait] = {}

    def on_mount(self) -> None:
        self.add_class("-idle")
        self.set_interval(0.5, self._redraw)

    def handle(self, event: Event) -> None:
        if isinstance(event, WaitStarted):
            key = (event.machine or "", event.what, event.target)
            self.waits[key] = _Wait(event.machine or "", event.what, event.target,
                                    event.timeout, event.time)
        elif isinstance(event, WaitProgress):
            wait = self.waits.get((event.machine or "", event.what, event.target))
            if wait:
                wait.last_result = event.last_result
        elif isinstance(event, WaitFinished):
            self.waits.pop((event.machine or "", event.what, event.target), None)
        else:
            return
        self._redraw()

    def _redraw(self) -> None:
        self.set_class(not self.waits, "-idle")
        now = time.monotonic()
        text = Text()
        for wait in self.waits.values():
            elapsed = now - wait.started
            if text:
                text.append("\n")
            text.append(f"{wait.machine} ", style="bold")
            text.append(f"waits for {wait.what} ")
            text.append(wait.target, style="cyan")
            if wait.timeout:
                filled = min(BAR, int(BAR * elapsed / wait.timeout))
                text.append(f"  {elapsed:5.1f}s/{wait.timeout:.0f}s ")
                text.append("█" * filled, style="yellow")
                text.append("░" * (BAR - filled), style="dim")
            else:
                text.append(f"  {elapsed:5.1f}s")
            if wait.last_result:
                text.append(f"  last: {wait.last_result}", style="dim")
        if self.waits:
            text.append("   (x cancels)", style="dim italic")
        self.update(text)
