"""The REPL: Python in the paused script's frame (or the test namespace when idle).

Evaluation runs in a thread worker (machine calls block), and so does looking up the
signature shown above the input (a getattr may reach a property); lines that succeed are
remembered so that they can be inserted into the script ("record to script").
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea
from textual.worker import get_current_worker

from nixtest_tui.debugger.evaluate import CallableHelp, EvalResult
from nixtest_tui.widgets.repl_input import ReplInput
from nixtest_tui.widgets.repl_output import ReplOutput
from nixtest_tui.widgets.repl_popup import CompletionPopup
from nixtest_tui.widgets.repl_render import Shown, describe, echo


class ReplPane(Vertical):
    """| Key | Action |
    | --- | --- |
    | `enter` | run a complete statement, else a new line, indented (see below) |
    | `ctrl+j` | a new line, never run (`shift+enter` too, where the terminal reports it) |
    | `up`/`down` | on the first/last line: history entries starting with what was typed |
    | `ctrl+r` | search the history backwards (shadows restart while the input has focus) |
    | `tab` | complete: common prefix, then a popup (empty input: next pane) |
    | `up`/`down`, `enter`/`tab`, `escape` | in the popup: move, pick, close |
    | `ctrl+o` | unfold the newest folded output (or click on it) |
    | `escape` | leave the input for the script (app) |

    Enter decides with `codeop` as the Python prompt does: an incomplete statement (`for x in
    y:`) continues one level deeper; a block stays open while its last line is indented, and
    an empty last line runs it. In a reverse-i-search, ctrl+r finds an older match, enter
    keeps the match, escape restores what was typed and any other key keeps the match and
    acts. ctrl+r is the focused widget's binding, so it comes before the app's restart; F5
    and the other F-keys still act here.

    Only the input takes focus, so Tab from the tab bar lands where one types; the output is
    read-only and scrolls with the mouse. The line above the input shows the signature and
    docstring summary of the callable being typed.
    """

    DEFAULT_CSS = """
    ReplPane > ReplOutput { height: 1fr; background: $surface; }
    ReplPane > #repl-help { height: 1; padding: 0 1; color: $text-muted; }
    ReplPane > ReplInput { height: auto; max-height: 12; }
    """
    BINDINGS = [Binding("ctrl+o", "unfold", "Unfold output", show=False)]

    class Evaluated(Message):
        def __init__(self, result: EvalResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, evaluate: Callable[[str], EvalResult],
                 complete: Callable[[str], list[str]],
                 help_for: Callable[[str], CallableHelp | None] | None = None,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._evaluate = evaluate
        self._complete = complete
        self._help_for = help_for or (lambda text: None)
        self.recorded: list[str] = []

    def compose(self) -> ComposeResult:
        yield ReplOutput(id="repl-output")
        yield Static("", id="repl-help", markup=False)
        popup = CompletionPopup(id="repl-completions")
        yield ReplInput(self._complete, popup, id="repl-input",
                        placeholder="python, e.g. server.succeed(\"uname -a\") · "
                                    "tab completes · ctrl+r history")
        yield popup

    @property
    def history(self) -> list[str]:
        return self.query_one(ReplInput).recall.entries

    @on(ReplInput.Submitted)
    def submit(self, event: ReplInput.Submitted) -> None:
        self.query_one(ReplOutput).add(echo(event.source))
        self.query_one("#repl-help", Static).update("")
        width = self.query_one(ReplOutput).scrollable_content_region.width
        self.run_evaluation(event.source, width)

    @work(thread=True, exclusive=False, group="repl", exit_on_error=False)
    def run_evaluation(self, source: str, width: int) -> None:
        result = self._evaluate(source)
        shown = describe(result, width)  # (formatting runs the value's __repr__)
        self.app.call_from_thread(self._show, result, shown)

    def _show(self, result: EvalResult, shown: Shown) -> None:
        if shown.parts:
            self.query_one(ReplOutput).add(shown)
        if result.ok:
            self.recorded.append(result.source)
        self.post_message(self.Evaluated(result))

    def action_unfold(self) -> None:
        self.query_one(ReplOutput).unfold_last()

    # -- the line above the input ----------------------------------------------------------------

    @on(ReplInput.Searching)
    def show_search(self, event: ReplInput.Searching) -> None:
        strip = self.query_one("#repl-help", Static)
        if event.query is None:
            strip.update("")
            return
        label = "failing reverse-i-search" if event.failed else "reverse-i-search"
        strip.update(Text.assemble((f"({label})", "bold"), f" `{event.query}'"))

    @on(TextArea.Changed, "#repl-input")
    @on(TextArea.SelectionChanged, "#repl-input")
    def typed(self) -> None:
        box = self.query_one(ReplInput)
        if box._search is not None:
            return
        row, column = box.cursor_location
        before = "\n".join([*box.text.split("\n")[:row], box.document.get_line(row)[:column]])
        self.look_up_help(before)

    @work(thread=True, exclusive=True, group="repl-help", exit_on_error=False)
    def look_up_help(self, text: str) -> None:
        found = self._help_for(text) if text.strip() else None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_help, found)

    def _show_help(self, found: CallableHelp | None) -> None:
        if self.query_one(ReplInput)._search is not None:
            return
        line = Text(no_wrap=True, overflow="ellipsis")
        if found is not None:
            line.append(found.name, style="bold")
            line.append(found.signature)
            if found.summary:
                line.append("  " + found.summary, style="italic")
        self.query_one("#repl-help", Static).update(line)
