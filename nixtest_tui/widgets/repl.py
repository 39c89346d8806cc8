"""The REPL: Python in the paused script's frame (or the test namespace when idle).

Evaluation runs in a thread worker (machine calls block); lines that succeed are remembered so
that they can be inserted into the script ("record to script").
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, RichLog

from nixtest_tui.debugger.evaluate import EvalResult


class ReplPane(Vertical):
    """| Key | Action |
    | --- | --- |
    | `enter` | evaluate |
    | `up`/`down` | history |
    | `tab` | complete names and machine methods (in an empty input: next pane) |
    | `escape` | leave the input for the script (app) |

    Only the input takes focus, so Tab from the tab bar lands where one types; the output is
    read-only and scrolls with the mouse.
    """

    DEFAULT_CSS = """
    ReplPane > RichLog { height: 1fr; background: $surface; }
    ReplPane > Input { dock: bottom; }
    """
    BINDINGS = [
        Binding("up", "history(-1)", "History", show=False),
        Binding("down", "history(1)", "History", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    class Evaluated(Message):
        def __init__(self, result: EvalResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, evaluate: Callable[[str], EvalResult],
                 complete: Callable[[str], list[str]], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._evaluate = evaluate
        self._complete = complete
        self.history: list[str] = []
        self.recorded: list[str] = []
        self._position = 0

    def compose(self) -> ComposeResult:
        output = RichLog(wrap=True, markup=False, highlight=True, id="repl-output")
        output.can_focus = False
        yield output
        yield Input(placeholder="python (e.g. server.succeed(\"uname -a\")), tab completes",
                    id="repl-input")

    @on(Input.Submitted, "#repl-input")
    def submit(self, event: Input.Submitted) -> None:
        source = event.value.strip()
        if not source:
            return
        event.input.value = ""
        self.history.append(source)
        self._position = len(self.history)
        self.query_one(RichLog).write(Text(f">>> {source}", style="bold"))
        self.run_evaluation(source)

    @work(thread=True, exclusive=False, group="repl", exit_on_error=False)
    def run_evaluation(self, source: str) -> None:
        result = self._evaluate(source)
        self.app.call_from_thread(self._show, result)

    def _show(self, result: EvalResult) -> None:
        output = self.query_one(RichLog)
        if result.output:
            output.write(result.output)
        if result.error:
            output.write(Text(result.error.rstrip(), style="red"))
        else:
            self.recorded.append(result.source)
        self.post_message(self.Evaluated(result))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Tab completes only what was typed: in an empty input it moves focus, as anywhere."""
        if action == "complete":
            return bool(self.query_one(Input).value.strip())
        return True

    def action_history(self, delta: int) -> None:
        if not self.history:
            return
        self._position = max(0, min(len(self.history), self._position + delta))
        line = self.history[self._position] if self._position < len(self.history) else ""
        box = self.query_one(Input)
        box.value = line
        box.cursor_position = len(line)

    def action_complete(self) -> None:
        box = self.query_one(Input)
        options = self._complete(box.value)
        if len(options) == 1:
            prefix_end = len(box.value) - len(box.value.split()[-1]) if box.value.split() else 0
            box.value = box.value[:prefix_end] + options[0]
            box.cursor_position = len(box.value)
        elif options:
            self.query_one(RichLog).write(Text("  ".join(options[:40]), style="dim"))
