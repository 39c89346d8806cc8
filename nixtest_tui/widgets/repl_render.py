"""How the REPL shows an evaluation: the echoed source, what was printed, the value (a
`machine.execute()` result as a status line and its output, anything else pretty-printed),
or the error; long parts folded.

Everything here is built in the evaluation's worker thread: formatting calls the value's
`__repr__`, which is the user's code and may be slow.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.highlighter import ReprHighlighter
from rich.pretty import pretty_repr
from rich.syntax import Syntax
from rich.text import Text

from nixtest_tui.debugger.evaluate import EvalResult

FOLD_OVER = 30
"""Parts longer than this many lines are folded..."""
FOLDED_LINES = 20
"""...to their first lines and a line that says how many more there are."""
UNFOLD_HINT = "ctrl+o or a click unfolds"
_HIGHLIGHT = ReprHighlighter()


@dataclass
class Part:
    """One block of an evaluation's output, with an optional first line that never folds."""

    text: Text
    header: Text | None = None
    gutter: bool = False

    @property
    def line_count(self) -> int:
        return len(self.text.split("\n"))

    @property
    def foldable(self) -> bool:
        return self.line_count > FOLD_OVER

    def render(self, folded: bool) -> RenderableType:
        lines: list[Text] = list(self.text.split("\n", allow_blank=True)) if self.text.plain else []
        hidden = len(lines) - FOLDED_LINES if folded and self.foldable else 0
        shown = lines[:len(lines) - hidden] if hidden else lines
        if self.gutter:
            shown = [Text("│ ", style="dim") + line for line in shown]
        rows: list[RenderableType] = [self.header] if self.header is not None else []
        rows += shown
        if hidden:
            rows.append(Text(f"… {hidden} more lines ({UNFOLD_HINT})", style="dim italic"))
        return Group(*rows)


@dataclass
class Shown:
    """An evaluation as shown: its parts, folded until the user unfolds them."""

    parts: list[Part]
    folded: bool = True

    @property
    def foldable(self) -> bool:
        return any(part.foldable for part in self.parts)

    def renderables(self) -> list[RenderableType]:
        return [part.render(self.folded) for part in self.parts]


def echo(source: str) -> Shown:
    """The evaluated source with prompts, highlighted as Python."""
    code = Syntax(source, "python", theme="ansi_dark").highlight(source)
    code.rstrip()
    lines = code.split("\n")
    prompted = Text("")
    for index, line in enumerate(lines):
        prompt = ">>> " if index == 0 else "... "
        prompted.append(prompt, style="bold")
        prompted.append_text(line)
        if index < len(lines) - 1:
            prompted.append("\n")
    return Shown([Part(prompted)], folded=False)


def describe(result: EvalResult, width: int) -> Shown:
    parts = []
    if result.printed:
        parts.append(Part(Text(result.printed.rstrip("\n"))))
    if result.error:
        parts.append(Part(Text(result.error.rstrip(), style="red")))
    elif result.has_value:
        parts.append(value_part(result.value, width))
    elif not result.printed and result.output:  # (an EvalResult made elsewhere: text only)
        parts.append(Part(Text(result.output.rstrip("\n"))))
    return Shown(parts)


def is_command_result(value: object) -> bool:
    """`(status, output)`, what `machine.execute()` returns."""
    return (isinstance(value, tuple) and len(value) == 2 and type(value[0]) is int
            and isinstance(value[1], str))


def value_part(value: object, width: int) -> Part:
    if is_command_result(value):
        assert isinstance(value, tuple)
        status, output = value
        mark, style = ("✓", "bold green") if status == 0 else ("✗", "bold red")
        header = Text(f"{mark} exit status {status}", style=style)
        return Part(Text(output.rstrip("\n")), header, gutter=True)
    try:
        text = pretty_repr(value, max_width=max(width, 20))
    except Exception as exc:  # a user's __repr__ may raise anything
        return Part(Text(f"<repr failed: {type(exc).__name__}: {exc}>", style="red"))
    return Part(_HIGHLIGHT(Text(text)))
