"""The timeline at the bottom of the replay viewer: the run at a glance, and where t is.

Row 1 shows the subtests as coloured spans, row 2 the marks (commands `│`, waits `┆`,
screenshots `▪`, failures `✗`; the most important one wins a cell), row 3 the cursor and the
clock. A click anywhere on it seeks there.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from nixtest_tui.replay.model import Run

MARKS = {"command": ("│", Style(color="blue")), "wait": ("┆", Style(color="magenta")),
         "subtest": ("┃", Style(color="white")), "screenshot": ("▪", Style(color="cyan")),
         "failure": ("✗", Style(color="red", bold=True))}
PRIORITY = ["command", "wait", "subtest", "screenshot", "failure"]
SPAN_STYLES = {True: Style(bgcolor="dark_green"), False: Style(bgcolor="red3"),
               None: Style(bgcolor="dark_goldenrod")}


class ReplayTimeline(Widget):
    DEFAULT_CSS = """
    ReplayTimeline { height: 3; background: $panel; }
    """

    class Seek(Message):
        def __init__(self, t: float) -> None:
            super().__init__()
            self.t = t

    def __init__(self, run: Run, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.run = run
        self.t = 0.0
        self.status = ""
        self._rows: tuple[Strip, Strip] | None = None
        self._width = 0

    def show(self, t: float, status: str) -> None:
        self.t, self.status = t, status
        self.refresh()

    def column_of(self, t: float) -> int:
        width = max(1, self.size.width - 1)
        return round(width * t / max(self.run.duration, 1e-9))

    def time_at(self, x: int) -> float:
        width = max(1, self.size.width - 1)
        return max(0.0, min(self.run.duration, self.run.duration * x / width))

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Seek(self.time_at(event.x)))

    def on_resize(self) -> None:
        self._rows = None

    def _static_rows(self) -> tuple[Strip, Strip]:
        width = self.size.width
        if self._rows is None or self._width != width:
            self._width = width
            self._rows = (self._spans(width), self._marks(width))
        return self._rows

    def _spans(self, width: int) -> Strip:
        cells: list[Style | None] = [None] * width
        for subtest in self.run.subtests:
            start = self.column_of(subtest.start)
            end = self.column_of(subtest.end if subtest.end is not None else self.run.duration)
            for x in range(start, min(width, max(end, start + 1))):
                cells[x] = SPAN_STYLES[subtest.ok]
        return Strip([Segment(" ", style) for style in cells]).simplify()

    def _marks(self, width: int) -> Strip:
        cells: list[str | None] = [None] * width
        for mark in self.run.marks():
            x = min(width - 1, self.column_of(mark.t))
            old = cells[x]
            if old is None or PRIORITY.index(mark.kind) > PRIORITY.index(old):
                cells[x] = mark.kind
        return Strip([Segment(*MARKS[kind]) if kind else Segment(" ")
                      for kind in cells]).simplify()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width < 2:
            return Strip.blank(width)
        if y < 2:
            return self._static_rows()[y]
        x = min(width - 1, self.column_of(self.t))
        clock = f" {self.t:7.2f}s / {self.run.duration:.2f}s  {self.status} "
        line = [" "] * width
        line[x] = "▲"
        start = x + 2 if x + 2 + len(clock) <= width else max(0, x - 1 - len(clock))
        for i, char in enumerate(clock[: max(0, width - start)]):
            if start + i != x:
                line[start + i] = char
        return Strip([Segment("".join(line[:x])), Segment("▲", Style(color="yellow", bold=True)),
                      Segment("".join(line[x + 1:]))])
