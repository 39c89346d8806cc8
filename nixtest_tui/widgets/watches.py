"""The watches pane: expressions evaluated in the paused frame at every pause.

The watches belong to the pane, not to a runner, so they survive a restart and a replaced
script. Evaluation runs in a thread worker (a watch may call a guest), each watch within its
own timeout (debugger/watches.py); while the script runs the last values stay, greyed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.watches import (
    DEFAULT_TIMEOUT,
    InvalidWatch,
    Watch,
    WatchList,
    evaluate_watch,
)
from nixtest_tui.driver.events import Event, ScriptStateChanged
from nixtest_tui.widgets.prompt import TextPrompt


class WatchesPane(Widget):
    """| Key | Action |
    | --- | --- |
    | `a` | add a watch (an expression, evaluated at every pause) |
    | `e`, `enter` | edit the selected watch |
    | `t` | set its timeout (seconds, 5 by default) |
    | `d`, `delete` | remove it |
    """

    BINDINGS = [
        Binding("a", "add", "Add watch"),
        Binding("e", "edit", "Edit watch", show=False),
        Binding("t", "timeout", "Watch timeout", show=False),
        Binding("d,delete", "remove", "Remove watch", show=False),
    ]
    DEFAULT_CSS = """
    WatchesPane { height: 1fr; border: round $panel; background: $surface; }
    WatchesPane:focus-within { border: round $accent; }
    WatchesPane > OptionList, WatchesPane > OptionList:focus {
        height: 1fr; border: none; background: $surface; padding: 0;
    }
    """

    def __init__(self, runner: Callable[[], ScriptRunner | None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.runner = runner
        self.border_title = "watches"
        self.watches = WatchList()
        self.paused = False
        self._round = 0  # bumped at every state change: an older evaluation stops showing
        self._abandon = threading.Event()  # set when the pause being evaluated ends

    def compose(self) -> ComposeResult:
        yield OptionList(id="watch-list")

    def on_mount(self) -> None:
        self.show()

    def handle(self, event: Event) -> None:
        """Every bus event, on the UI loop (app._deliver); pauses arrive as ScriptStateChanged."""
        if not isinstance(event, ScriptStateChanged):
            return
        self._next_round()
        self.paused = event.state == "paused"
        self.show()
        if self.paused and len(self.watches):
            self.evaluate(list(self.watches), self._round, self._abandon)

    def _next_round(self) -> None:
        self._round += 1
        self._abandon.set()
        self._abandon = threading.Event()

    def frame_changed(self) -> None:
        """Another frame was chosen in the stack pane: the watches are about that one now."""
        if self.paused and len(self.watches):
            self._next_round()
            self.evaluate(list(self.watches), self._round, self._abandon)

    # -- evaluation (a thread worker: a watch may wait on a guest) -------------------------------

    @work(thread=True, group="watches", exit_on_error=False, description="evaluating watches")
    def evaluate(self, watches: list[Watch], round_: int, abandon: threading.Event) -> None:
        runner = self.runner()
        frame = runner.paused_frame if runner is not None else None  # (the stack pane's choice)
        for watch in watches:
            if runner is None or frame is None or round_ != self._round:
                return  # resumed meanwhile: the values would belong to no pause
            evaluate_watch(frame, watch, abandon, runner.frame_lock)
            self.app.call_from_thread(self._evaluated, round_)

    def _evaluated(self, round_: int) -> None:
        if round_ == self._round:
            self.show()

    # -- showing -----------------------------------------------------------------------------------

    def show(self) -> None:
        listing = self.query_one(OptionList)
        highlighted = listing.highlighted
        if not len(self.watches):
            listing.set_options([Option(Text("a adds a watch: an expression evaluated at "
                                             "every pause", style="dim"), disabled=True)])
            return
        listing.set_options(Option(self._prompt(w)) for w in self.watches)
        listing.highlighted = min(highlighted or 0, len(self.watches) - 1)

    def _prompt(self, watch: Watch) -> Text:
        stale = not self.paused
        text = Text()
        text.append(watch.expression, style="bold dim" if stale else "bold")
        if watch.timeout != DEFAULT_TIMEOUT:
            text.append(f"  (timeout {watch.timeout:g} s)", style="dim")
        result = watch.last
        if result is None:
            text.append("  not evaluated yet" + ("" if stale else "..."), style="dim")
            return text
        if result.ok:
            text.append(" = ", style="dim")
            text.append(result.value, style="dim" if stale else "")
        else:
            text.append(f" ! {result.error}", style="dim red" if stale else "red")
        when = result.at.strftime("%H:%M:%S")
        # on the same line: the pane is a few rows high, and each watch should take one
        text.append(f"   {when}, {result.seconds:.2f} s", style="dim")
        return text

    # -- editing -----------------------------------------------------------------------------------

    def _selected(self) -> int | None:
        index = self.query_one(OptionList).highlighted
        return index if index is not None and index < len(self.watches) else None

    def action_add(self) -> None:
        self.app.push_screen(TextPrompt("watch expression", hint="evaluated at every pause; "
                                        "enter adds, escape cancels"), self._added)

    def _added(self, expression: str | None) -> None:
        if expression is None:
            return
        try:
            watch = self.watches.add(expression)
        except InvalidWatch as exc:
            self.notify(str(exc), severity="error")
            return
        self.show()
        self.query_one(OptionList).highlighted = len(self.watches) - 1
        self._evaluate_now(watch)

    @on(OptionList.OptionSelected)
    def action_edit(self) -> None:
        index = self._selected()
        if index is None:
            return
        watch = self.watches.watches[index]
        self.app.push_screen(TextPrompt("edit the watch", watch.expression),
                             lambda text: self._edited(index, text))

    def _edited(self, index: int, expression: str | None) -> None:
        if expression is None or index >= len(self.watches):
            return
        try:
            watch = self.watches.edit(index, expression)
        except InvalidWatch as exc:
            self.notify(str(exc), severity="error")
            return
        self.show()
        self._evaluate_now(watch)

    def action_timeout(self) -> None:
        index = self._selected()
        if index is None:
            return
        watch = self.watches.watches[index]
        self.app.push_screen(
            TextPrompt(f"timeout of {watch.expression} (seconds)", f"{watch.timeout:g}",
                       hint="a watch still running then is cut off, its machine call cancelled"),
            lambda text: self._timeout_set(index, text))

    def _timeout_set(self, index: int, seconds: str | None) -> None:
        if seconds is None or index >= len(self.watches):
            return
        try:
            self.watches.set_timeout(index, seconds)
        except InvalidWatch as exc:
            self.notify(str(exc), severity="error")
            return
        self.show()

    def action_remove(self) -> None:
        index = self._selected()
        if index is not None:
            self.watches.remove(index)
            self.show()

    def _evaluate_now(self, watch: Watch) -> None:
        if self.paused:
            self.evaluate([watch], self._round, self._abandon)
