"""The stack pane: the paused script's frames (innermost first), one of which the REPL and the
variables pane look at; while the script runs, the line it is on and the machine call it is
blocked in (`server.wait_for_unit('echo.service')`, how long, out of which timeout).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.frames import BlockedCall, BlockedCalls, StackEntry
from nixtest_tui.driver.events import Event, ScriptStateChanged

REDRAW_SECONDS = 0.5


def frame_prompt(entry: StackEntry, selected: bool) -> Text:
    text = Text("▶ " if selected else "  ", style="bold yellow")
    text.append(entry.function, style="bold" if selected else "")
    text.append(f":{entry.line}  ", style="dim")
    text.append(entry.source, style="cyan")
    return text


def call_prompt(call: BlockedCall, now: float | None = None) -> Text:
    text = Text("  └ ", style="dim")
    text.append(call.call, style="magenta")
    elapsed = call.elapsed(now)
    limit = f"/{call.timeout:.0f}s" if call.timeout else ""
    text.append(f"  {elapsed:.1f}s{limit}", style="yellow")
    if call.last_result:
        text.append(f"  last: {call.last_result}", style="dim")
    return text


class StackPane(OptionList):
    """| Key | Action |
    | --- | --- |
    | `up`/`down` | move between frames |
    | `enter` (or a click) | that frame in the script pane, the variables pane and the REPL |
    """

    DEFAULT_CSS = """
    StackPane { height: 1fr; border: round $panel; background: $surface; }
    StackPane:focus { border: round $accent; }
    StackPane.-stale { text-opacity: 45%; }
    """

    class FrameSelected(Message):
        """The user chose frame `index` (0: innermost), which is on script line `line`."""

        def __init__(self, index: int, line: int) -> None:
            super().__init__()
            self.index = index
            self.line = line

    def __init__(self, runner: Callable[[], ScriptRunner | None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.runner = runner
        self.border_title = "stack"
        self.blocked = BlockedCalls()
        self.entries: list[StackEntry] = []
        self.selected_frame = 0
        self.state = "idle"

    def on_mount(self) -> None:
        self.set_interval(REDRAW_SECONDS, self._redraw_running)

    def handle(self, event: Event) -> None:
        """Every bus event, on the UI loop (app._deliver); pauses arrive as ScriptStateChanged."""
        if self.blocked.handle(event):
            self._redraw_running()
        elif isinstance(event, ScriptStateChanged):
            self.state = event.state
            if event.state == "paused":
                self._show_stack()
            elif event.state == "running":
                self._redraw_running()
            else:
                self.blocked.clear()
                self.entries = []
                self.clear_options()
                self.add_option(Option(Text(f"not paused ({event.state})", style="dim"),
                                       disabled=True))

    # -- paused: the frames -----------------------------------------------------------------------

    def _show_stack(self) -> None:
        """(cheap: line numbers and source lines only, no user code runs)"""
        runner = self.runner()
        self.entries = runner.stack() if runner is not None else []
        self.selected_frame = 0
        self.remove_class("-stale")
        self._list_frames()
        if self.entries:
            self.highlighted = 0

    def _list_frames(self) -> None:
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(Option(frame_prompt(entry, entry.index == self.selected_frame),
                                id=f"frame-{entry.index}") for entry in self.entries)
        if highlighted is not None and highlighted < len(self.entries):
            self.highlighted = highlighted

    @on(OptionList.OptionSelected)
    def _frame_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        runner = self.runner()
        if self.state != "paused" or runner is None or not option_id.startswith("frame-"):
            return
        index = int(option_id.removeprefix("frame-"))
        reason = runner.select_frame(index)
        if reason:
            self.notify(reason, timeout=3)
            return
        self.selected_frame = index
        self._list_frames()
        self.post_message(self.FrameSelected(index, self.entries[index].line))

    # -- running: the line and the machine call ---------------------------------------------------

    def _redraw_running(self) -> None:
        if self.state != "running":
            return
        runner = self.runner()
        line = runner.running_line() if runner is not None else None
        self.remove_class("-stale")
        self.clear_options()
        if line is not None and runner is not None:
            source = runner.model.statement_at(line)
            text = Text("▷ running ", style="green")
            text.append(f":{line}  ", style="dim")
            text.append(source, style="cyan")
            self.add_option(Option(text, disabled=True))
        for call in self.blocked.calls():
            self.add_option(Option(call_prompt(call), disabled=True))
