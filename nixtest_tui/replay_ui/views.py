"""Read-only panes of the replay viewer: each shows one aspect of a `Moment`.

They are set from above (`show(...)`) and never reach into the trace themselves, so the app
decides what time it is and every pane agrees.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from nixtest_tui.replay.model import LogEntry
from nixtest_tui.replay.moment import Moment
from nixtest_tui.widgets._terminal import Terminal
from nixtest_tui.widgets.inspector import ScreenImage
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.subtests import ICONS

LEVEL_STYLES = {"test-error": Style(color="red", bold=True), "error": Style(color="red"),
                "warning": Style(color="yellow"), "nest": Style(bold=True),
                "finished": Style(dim=True)}


class ReplayLines(ScrollView, can_focus=True):
    """A long list of lines drawn on demand, following the end unless scrolled up.

    | Key | Action |
    | --- | --- |
    | `up`/`down`, `pageup`/`pagedown` | scroll |
    | `home`/`end` | first line / the end (follows it again) |
    """

    BINDINGS = [
        Binding("up", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]
    DEFAULT_CSS = """
    ReplayLines { background: $surface; }
    ReplayLines:focus { background: $boost; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._count = 0
        self._line: Callable[[int], list[Segment]] = lambda _i: []
        self.following = True

    def show(self, count: int, line: Callable[[int], list[Segment]], width: int = 0) -> None:
        self._count, self._line = count, line
        self.virtual_size = Size(max(width, self.size.width), count)
        if self.following:
            self.call_after_refresh(self._follow)
        self.refresh()

    def on_resize(self) -> None:
        # a pane in a hidden tab was filled at height 0: follow the end once it is shown
        if self.following:
            self.call_after_refresh(self._follow)

    def _follow(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.following = True

    def text_lines(self) -> list[str]:
        """What the pane holds, as plain text (for copying and for tests)."""
        return ["".join(s.text for s in self._line(i)).rstrip() for i in range(self._count)]

    def visible_text(self) -> list[str]:
        top = self.scroll_offset.y
        return [line for line in self.text_lines()[top:top + self.size.height]]

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.following = new >= self.max_scroll_y

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        if index >= self._count:
            return Strip.blank(width, self.rich_style)
        strip = Strip(self._line(index)).crop(self.scroll_offset.x, self.scroll_offset.x + width)
        return strip.extend_cell_length(width, self.rich_style)


def console_source(terminal: Terminal) -> tuple[int, Callable[[int], list[Segment]]]:
    first, end = terminal.first_line, terminal.end_line

    def line(index: int) -> list[Segment]:
        return list(terminal.line(first + index).segments)

    return end - first, line


def log_lines(entries: list[LogEntry]) -> tuple[list[float], list[Text]]:
    """Each entry as display lines (a traceback spans several), with the time of each."""
    times: list[float] = []
    lines: list[Text] = []
    for entry in entries:
        style = LEVEL_STYLES.get(entry.level, Style())
        prefix = f"{entry.t:8.2f} {'  ' * entry.depth}"
        who = f"{entry.machine}: " if entry.machine else ""
        for n, part in enumerate(entry.text.splitlines() or [""]):
            text = Text(prefix if n == 0 else " " * len(prefix), style="dim")
            text.append(who + part if n == 0 else part, style=style)
            times.append(entry.t)
            lines.append(text)
    return times, lines


class _MomentText(Static):
    """A text pane that redraws only when its text changed: these panes are `height: auto`,
    so each update costs a layout of the screen, and most seeks leave them as they were."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._shown: Text | None = None

    def set_text(self, text: Text) -> None:
        if text != self._shown:
            self._shown = text
            self.update(text)


class ReplayMachines(_MomentText):
    DEFAULT_CSS = "ReplayMachines { height: auto; padding: 0 1; }"

    def show(self, moment: Moment) -> None:
        text = Text("machines\n", style="bold")
        for name, state in moment.machines.items():
            colour = "green" if state in ("running", "connected") else "dim"
            text.append(f"● {name} ", style=colour)
            text.append(state)
            if moment.blocked.get(name):
                text.append("  link down", style="bold red")
            text.append("\n")
        if moment.vlans:
            text.append("vlans ", style="bold")
            text.append("  ".join(f"{nr}:{'up' if up else 'down'}"
                                  for nr, up in moment.vlans.items()))
        self.set_text(text)


class ReplaySubtests(_MomentText):
    DEFAULT_CSS = "ReplaySubtests { height: auto; padding: 0 1; border-top: solid $panel; }"

    def show(self, moment: Moment) -> None:
        if not moment.subtests:
            self.set_text(Text("no subtests", style="dim"))
            return
        text = Text("subtests\n", style="bold")
        for subtest in moment.subtests:
            icon, style = ICONS[subtest.state]
            text.append(f"{icon} ", style=style)
            text.append(subtest.name)
            if subtest.state != "pending":
                text.append(f" {subtest.duration:.1f}s", style="dim")
            text.append("\n")
        self.set_text(text)


class ReplayWaiting(_MomentText):
    """What the script was waiting on at t, with the last probe result it had then; on the
    failing statement, the error it raised."""

    DEFAULT_CSS = """
    ReplayWaiting { height: auto; max-height: 5; padding: 0 1; background: $boost; }
    """

    def show(self, moment: Moment, failure: str = "") -> None:
        text = Text()
        if failure:
            text.append(f"✗ {failure}", style="bold red")
        for wait in moment.waits:
            if text:
                text.append("\n")
            text.append(f"{wait.machine or ''} ", style="bold")
            text.append(f"waits for {wait.what} ")
            text.append(wait.target, style="cyan")
            limit = f"/{wait.timeout:.0f}s" if wait.timeout else ""
            text.append(f"  {wait.elapsed:5.1f}s{limit}")
            if wait.last_result:
                text.append(f"  last: {wait.last_result}", style="dim")
        for command in moment.commands:
            if text:
                text.append("\n")
            text.append(f"{command.machine} ", style="bold")
            text.append("runs ")
            text.append(command.command, style="cyan")
            text.append(f"  {moment.t - command.start:5.1f}s")
        self.set_text(text if text else Text("not waiting", style="dim"))


class ReplayScript(ScriptPane, inherit_bindings=False):
    """The script pane without its editing keys: a replay cannot set breakpoints, jump or
    edit. `e` is the replay's own key (the failure): it must reach the app, so the pane does
    not bind `j` and `e` at all."""

    BINDINGS = [*ScriptPane.MOVES, Binding("b,f9", "nothing", show=False),
                Binding("u,f4", "nothing", show=False)]

    def action_nothing(self) -> None:
        """Breakpoints and run-to-cursor mean nothing in a recording."""


class ReplayScreen(ScreenImage):
    """The latest screenshot at t (the script's, or a film-strip frame)."""

    def render_line(self, y: int) -> Strip:
        if self.image is None:
            if y == 0:
                return Strip([Segment("no screenshot before this time")]).adjust_cell_length(
                    self.size.width)
            return Strip.blank(self.size.width)
        return super().render_line(y)
