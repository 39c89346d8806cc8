"""The script pane: the test script with line numbers, a breakpoint gutter and the current line.

Rendered line by line (a ScrollView with `render_line`), so that a long script costs only the
visible lines; highlighting is done once per text with rich's Syntax.
"""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GUTTER = 8  # "● ▶ 1234 "


class ScriptPane(ScrollView, can_focus=True):
    """| Key | Action |
    | --- | --- |
    | `up`/`down`, `pageup`/`pagedown`, `home`/`end` | move the cursor line |
    | `b`, `f9` | toggle a breakpoint on the cursor line (or click the gutter) |
    | `u`, `f4` | run to the cursor line |
    | `j` | jump: the paused run goes on from the cursor line (pauses there first) |
    | `e` | edit the script; ctrl+s saves it and the run goes on with the new text |
    """

    MOVES = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("home", "cursor(-100000)", "Top", show=False),
        Binding("end", "cursor(100000)", "Bottom", show=False),
    ]
    BINDINGS = [
        *MOVES,
        Binding("b,f9", "toggle_breakpoint", "Breakpoint"),
        Binding("u,f4", "run_to_cursor", "Run to cursor"),
        Binding("j", "jump_to_cursor", "Jump here", show=False),
        Binding("e", "edit", "Edit", show=False),
    ]
    COMPONENT_CLASSES = {
        "script-pane--gutter", "script-pane--breakpoint", "script-pane--current",
        "script-pane--cursor", "script-pane--failed",
    }
    DEFAULT_CSS = """
    ScriptPane { background: $surface; border: round $panel; }
    ScriptPane:focus { border: round $accent; }
    ScriptPane > .script-pane--gutter { color: $text-muted; }
    ScriptPane > .script-pane--breakpoint { color: $error; text-style: bold; }
    ScriptPane > .script-pane--current { background: $warning 30%; }
    ScriptPane > .script-pane--cursor { background: $accent 20%; }
    ScriptPane > .script-pane--failed { background: $error 35%; }
    """

    cursor_line: reactive[int] = reactive(1)
    current_line: reactive[int | None] = reactive(None)
    failed: reactive[bool] = reactive(False)

    class BreakpointToggled(Message):
        def __init__(self, pane: ScriptPane, line: int) -> None:
            super().__init__()
            self.pane = pane
            self.line = line

        @property
        def control(self) -> ScriptPane:
            return self.pane

    class RunToLine(Message):
        def __init__(self, line: int) -> None:
            super().__init__()
            self.line = line

    class JumpToLine(Message):
        """Run from here: the paused run is to go on from `line`."""

        def __init__(self, line: int) -> None:
            super().__init__()
            self.line = line

    class EditRequested(Message):
        """The user wants to edit the script text shown."""

    def __init__(self, text: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.breakpoints: set[int] = set()
        self.breakpoint_marks: dict[int, str] = {}  # ○ disabled, ◆ conditional, ◇ log point
        self.border_title = "script"
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.text = text
        highlighted = Syntax(text, "python", theme="monokai").highlight(text)
        count = max(1, len(text.splitlines()))
        self.lines: list[Text] = list(highlighted.split("\n", allow_blank=True))[:count]
        self.virtual_size = Size(GUTTER + max((len(t) for t in self.lines), default=0),
                                 len(self.lines))
        self.refresh()

    # -- state set by the app ------------------------------------------------------------------

    def show_position(self, line: int | None, failed: bool = False) -> None:
        self.current_line = line
        self.failed = failed
        if line is not None:
            self.scroll_to_line(line)

    def set_breakpoints(self, lines: set[int], marks: dict[int, str] | None = None) -> None:
        self.breakpoints = set(lines)
        self.breakpoint_marks = dict(marks or {})
        self.refresh()

    def scroll_to_line(self, line: int) -> None:
        top = self.scroll_offset.y
        height = max(1, self.size.height)
        if not top < line <= top + height:
            self.scroll_to(y=max(0, line - height // 2), animate=False)

    def watch_cursor_line(self) -> None:
        self.scroll_to_line(self.cursor_line)
        self.refresh()

    def watch_current_line(self) -> None:
        self.refresh()

    # -- rendering -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        line = index + 1
        base = self.rich_style
        if line == self.current_line:
            name = "script-pane--failed" if self.failed else "script-pane--current"
            base = base + self.get_component_rich_style(name)
        elif line == self.cursor_line and self.has_focus:
            base = base + self.get_component_rich_style("script-pane--cursor")
        mark = self.breakpoint_marks.get(line, "●") if line in self.breakpoints else " "
        mark_style = "script-pane--gutter" if mark == "○" else "script-pane--breakpoint"
        arrow = "▶" if line == self.current_line else " "
        gutter_style = self.get_component_rich_style("script-pane--gutter")
        segments = [
            Segment(mark, base + self.get_component_rich_style(mark_style)),
            Segment(arrow + " ", base + Style(bold=True)),
            Segment(f"{line:>4} ", base + gutter_style),
        ]
        console: Console = self.app.console
        for segment in self.lines[index].render(console):
            text, style = segment.text, segment.style
            if text:
                # keep the theme's colours and emphasis, not its background
                fg = Style(color=style.color, bold=style.bold, italic=style.italic) \
                    if style else Style()
                segments.append(Segment(text, base + fg))
        strip = Strip(segments).crop(self.scroll_offset.x, self.scroll_offset.x + width)
        return strip.extend_cell_length(width, base)

    # -- input ------------------------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        self.cursor_line = max(1, min(len(self.lines), self.cursor_line + delta))

    def action_toggle_breakpoint(self) -> None:
        self.post_message(self.BreakpointToggled(self, self.cursor_line))

    def action_run_to_cursor(self) -> None:
        self.post_message(self.RunToLine(self.cursor_line))

    def action_jump_to_cursor(self) -> None:
        self.post_message(self.JumpToLine(self.cursor_line))

    def action_edit(self) -> None:
        self.post_message(self.EditRequested())

    def on_click(self, event: events.Click) -> None:
        line = self.scroll_offset.y + event.y + 1
        if 1 <= line <= len(self.lines):
            self.cursor_line = line
            if event.x < GUTTER:
                self.post_message(self.BreakpointToggled(self, line))
