"""The breakpoints pane: every breakpoint with its condition, hit condition, hits and log message.

The runner's breakpoints are the one truth; the pane and the script pane's gutter are redrawn
from them whenever anything about them changes: a key here, `b` or a click in the script pane,
a hit counted by the running script (a hit condition not reached yet, a log point) or a
replaced runner. Hits change in the script's thread without an event for each, so a cheap
timer compares a signature of the breakpoints instead of trusting events alone.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from nixtest_tui.debugger import Breakpoint, ScriptRunner
from nixtest_tui.debugger.events import LogPointHit, RunStarted
from nixtest_tui.driver.events import Event, ScriptStateChanged
from nixtest_tui.widgets.prompt import TextPrompt
from nixtest_tui.widgets.script_pane import ScriptPane

SYNC_SECONDS = 0.5
MARKS = {"plain": "●", "conditional": "◆", "log point": "◇", "disabled": "○"}
PROMPTS = {
    "condition": ("condition (a Python expression; empty: always)",
                  "the line stops only where it holds, e.g. n > 2"),
    "hit_condition": ("hit condition (empty: every hit)",
                      "5: from the 5th hit on;  == 5, >= 5, < 5;  % 3: every third hit"),
    "log_message": ("log message (empty: pause as usual)",
                    "written to the log instead of pausing, e.g. counter is {counter}"),
}


def breakpoint_marks(breakpoints: dict[int, Breakpoint]) -> dict[int, str]:
    """The script pane's gutter mark per line: plain, conditional, log point or disabled."""
    return {line: MARKS[b.kind] for line, b in breakpoints.items()}


class BreakpointsPane(Widget):
    """| Key | Action |
    | --- | --- |
    | `space` | enable or disable the selected breakpoint |
    | `e` | edit its condition |
    | `h` | edit its hit condition (`5`, `== 5`, `>= 5`, `% 3`) |
    | `l` | edit its log message (a log point logs instead of pausing) |
    | `d`, `delete` | remove it |
    | `enter` | show its line in the script pane |
    """

    BINDINGS = [
        Binding("space", "toggle_enabled", "Enable/disable"),
        Binding("e", "edit('condition')", "Condition", show=False),
        Binding("h", "edit('hit_condition')", "Hit condition", show=False),
        Binding("l", "edit('log_message')", "Log message", show=False),
        Binding("d,delete", "remove", "Remove", show=False),
    ]
    DEFAULT_CSS = """
    BreakpointsPane { height: 1fr; border: round $panel; background: $surface; }
    BreakpointsPane:focus-within { border: round $accent; }
    BreakpointsPane > OptionList, BreakpointsPane > OptionList:focus {
        height: 1fr; border: none; background: $surface; padding: 0;
    }
    """

    def __init__(self, runner: Callable[[], ScriptRunner | None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.runner = runner
        self.border_title = "breakpoints"
        self.lines: list[int] = []
        self._signature: object = None

    def compose(self) -> ComposeResult:
        yield OptionList(id="breakpoint-list")

    def on_mount(self) -> None:
        self.sync()
        self.set_interval(SYNC_SECONDS, self.sync)

    def handle(self, event: Event) -> None:
        """Every bus event, on the UI loop (app._deliver): a pause or a log point shows hits."""
        if isinstance(event, ScriptStateChanged | LogPointHit | RunStarted):
            self.sync()

    # -- showing -----------------------------------------------------------------------------------

    def sync(self, force: bool = False) -> None:
        """Redraw the list and the script pane's gutter if any breakpoint changed."""
        runner = self.runner()
        breakpoints = dict(runner.breakpoints) if runner is not None else {}
        signature = (id(runner), tuple(sorted(
            (b.line, b.enabled, b.condition, b.hit_condition, b.log_message, b.hits, b.error)
            for b in breakpoints.values())))
        if signature != self._signature or force:
            self._signature = signature
            self._show(runner, breakpoints)
        marks = breakpoint_marks(breakpoints)
        for pane in self.app.query(ScriptPane):  # (others may have set plain lines meanwhile)
            if pane.breakpoint_marks != marks or pane.breakpoints != set(marks):
                pane.set_breakpoints(set(marks), marks)

    def _show(self, runner: ScriptRunner | None, breakpoints: dict[int, Breakpoint]) -> None:
        listing = self.query_one(OptionList)
        highlighted = listing.highlighted
        self.lines = sorted(breakpoints)
        if not self.lines:
            listing.set_options([Option(Text("b in the script sets a breakpoint", style="dim"),
                                        disabled=True)])
            return
        source = runner.text.splitlines() if runner is not None else []
        listing.set_options(Option(self._prompt(breakpoints[line], source))
                            for line in self.lines)
        listing.highlighted = min(highlighted or 0, len(self.lines) - 1)

    @staticmethod
    def _prompt(breakpoint_: Breakpoint, source: list[str]) -> Text:
        line = breakpoint_.line
        code = source[line - 1].strip() if line <= len(source) else ""
        mark_style = "bold red" if breakpoint_.enabled else "dim"
        text = Text()
        text.append(MARKS[breakpoint_.kind] + " ", style=mark_style)
        text.append(f"{line:>3} ", style="bold")
        text.append(code, style="" if breakpoint_.enabled else "dim")
        details = [f"hits {breakpoint_.hits}"]
        if breakpoint_.condition:
            details.append(f"if {breakpoint_.condition}")
        if breakpoint_.hit_condition:
            details.append(f"hit {breakpoint_.hit_condition}")
        if not breakpoint_.enabled:
            details.append("disabled")
        text.append("\n    " + " · ".join(details), style="dim")
        if breakpoint_.log_message:
            text.append(f"\n    log: {breakpoint_.log_message}", style="italic")
        if breakpoint_.error:
            text.append(f"\n    ! {breakpoint_.error}", style="red")
        return text

    # -- editing -----------------------------------------------------------------------------------

    def _selected(self) -> tuple[ScriptRunner, Breakpoint] | None:
        runner, index = self.runner(), self.query_one(OptionList).highlighted
        if runner is None or index is None or index >= len(self.lines):
            return None
        breakpoint_ = runner.breakpoints.get(self.lines[index])
        return (runner, breakpoint_) if breakpoint_ is not None else None

    def action_toggle_enabled(self) -> None:
        selected = self._selected()
        if selected is not None:
            runner, breakpoint_ = selected
            self._apply(runner.update_breakpoint(breakpoint_.line,
                                                 enabled=not breakpoint_.enabled))

    def action_edit(self, setting: str) -> None:
        selected = self._selected()
        if selected is None:
            return
        runner, breakpoint_ = selected
        title, hint = PROMPTS[setting]
        current = getattr(breakpoint_, setting) or ""
        self.app.push_screen(TextPrompt(f"line {breakpoint_.line}: {title}", current, hint),
                             lambda text: self._edited(runner, breakpoint_.line, setting, text))

    def _edited(self, runner: ScriptRunner, line: int, setting: str, text: str | None) -> None:
        if text is not None:
            self._apply(runner.update_breakpoint(line, **{setting: text}))

    def action_remove(self) -> None:
        selected = self._selected()
        if selected is not None:
            runner, breakpoint_ = selected
            runner.remove_breakpoint(breakpoint_.line)
            self.sync(force=True)

    @on(OptionList.OptionSelected)
    def jump_to_line(self, event: OptionList.OptionSelected) -> None:
        """Enter: the script pane shows the line, with its cursor on it."""
        if event.option_index < len(self.lines):
            pane = self.app.query_one(ScriptPane)
            pane.cursor_line = self.lines[event.option_index]
            pane.focus()

    def _apply(self, refusal: str) -> None:
        if refusal:
            self.notify(refusal, severity="error", timeout=6)
        self.sync(force=True)
